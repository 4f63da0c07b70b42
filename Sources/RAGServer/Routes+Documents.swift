import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOFoundationEssentialsCompat
import Prometheus
import RAGCore

extension ServerState {
    /// `POST /v1/documents`: a PDF (or .txt/.md) as `multipart/form-data` (field `file`) or as the raw body
    /// (`Content-Type: application/pdf`, name from `?filename=` or `Content-Disposition`).
    ///
    /// The upload takes a slot of the upload gate before its body is read (so bodies in memory are bounded by the
    /// slots), and everything, the wait included, runs within the request timeout and stops when the client
    /// leaves: a document whose client left before its commit is not added.
    func upload(_ request: Request, context: ServerContext) async throws -> Response {
        guard !configuration.readOnly else { throw APIError(.forbidden, code: "read_only", APIError.readOnlyMessage) }
        if queuesUploads { return try await queueUpload(request, context: context) }
        let limit = context.maxUploadSize
        let logger = context.logger
        let connection = context.connection
        let (record, isNew) = try await withRequestTimeout(connection: context.connection) { [self] in
            try await withUploadSlot(connection: connection) {
                let (fileName, bytes) = try await readUpload(request, limit: limit)
                return try await engine.ingestDocument(data: bytes, fileName: fileName)
            }
        }
        let unchanged = !isNew
        logger.info("document uploaded", metadata: ["rag.document.id": "\(record.id)", "rag.document.unchanged": "\(unchanged)"])
        return try JSON.response(
            DTO.Upload(document: DTO.Document(record), unchanged: unchanged, index_version: engine.collection.generation),
            status: unchanged ? .ok : .created)
    }

    /// Whether uploads are queued (``UploadMode``): `queued`, or `auto` with a database server.
    var queuesUploads: Bool {
        switch configuration.ingestion.uploadMode {
        case .queued: true
        case .inline: false
        case .auto: configuration.databaseURL != nil
        }
    }

    /// Whether this process runs the ingestion worker: its role says so, it may write, and something queues uploads
    /// (its own API, or, for a `worker`, other processes).
    var runsWorker: Bool {
        configuration.ingestion.runsWorker && !configuration.readOnly && (queuesUploads || configuration.ingestion.role == .worker)
    }

    /// A queued upload: the body is read within an upload slot and stored as a job; `202` with the job's status and
    /// its URL (`Location`), or `200` when the collection already holds the document. The worker is woken at once.
    func queueUpload(_ request: Request, context: ServerContext) async throws -> Response {
        let limit = context.maxUploadSize
        let connection = context.connection
        let job = try await withRequestTimeout(connection: context.connection) { [self] in
            try await withUploadSlot(connection: connection) {
                let (fileName, bytes) = try await readUpload(request, limit: limit)
                return try await engine.enqueue(data: bytes, fileName: fileName)
            }
        }
        wake.notify()
        context.logger.info("document queued", metadata: ["rag.document.id": "\(job.id)", "rag.job.state": "\(job.state.rawValue)"])
        let ready = job.state == .ready
        var response = try JSON.response(
            DTO.Job(job, document: ready ? engine.collection.document(job.id) : nil), status: ready ? .ok : .accepted)
        response.headers[.location] = "/v1/documents/\(job.id.rawValue)"
        return response
    }

    /// `GET /v1/documents/{id}`: a document's ingestion status, `queued`, `processing`, `ready` (with the document and
    /// the `index_version` that holds it) or `failed` (with the reason). A document ingested without a job (by
    /// `rag ingest`, or an inline upload) is `ready`. When the store cannot be read, a document this replica holds is
    /// still reported.
    func documentStatus(_ request: Request, context: ServerContext) async throws -> Response {
        let id = try context.parameters.require("id")
        guard id.utf8.count <= 64 else { throw APIError(.notFound, code: "document_not_found", "no document has this id") }
        let documentID = DocumentID(rawValue: id)
        let collection = engine.collection
        let local = collection.document(documentID)
        let job: IngestJob?
        do {
            job = try await engine.job(documentID)
        } catch {
            guard let local else { throw error }
            return try JSON.response(DTO.Job(ready: local, indexVersion: collection.generation))
        }
        if let job { return try JSON.response(DTO.Job(job, document: job.state == .ready ? local : nil)) }
        if let local { return try JSON.response(DTO.Job(ready: local, indexVersion: collection.generation)) }
        throw APIError(.notFound, code: "document_not_found", "no document or queued upload has the id '\(id)'")
    }

    /// Waits, for at most ``IngestionConfiguration/indexWait``, until this replica has applied `version` (a request's
    /// `min_index_version`): 409 `unknown_index_version` for a version no write returned, 503 `index_behind` when
    /// the wait runs out.
    func waitForIndex(_ version: UInt64?) async throws {
        guard let version else { return }
        try await engine.waitForIndexVersion(version, timeout: configuration.ingestion.indexWait)
    }

    /// The uploaded file's name (sanitised, `.pdf` added to a PDF without an extension) and bytes.
    func readUpload(_ request: Request, limit: Int) async throws -> (fileName: String, bytes: Data) {
        let contentType = request.headers[.contentType] ?? ""
        var fileName: String?
        var bytes: Data
        if contentType.lowercased().hasPrefix("multipart/form-data") {
            let parts = try await readForm(request, contentType: contentType, limit: limit)
            guard let part = parts.first(where: { $0.fileName != nil && ($0.name == "file" || $0.name == "document") })
                ?? parts.first(where: { $0.fileName != nil })
            else {
                throw APIError(.badRequest, code: "no_file", "the form has no file; send it in a field named 'file'")
            }
            fileName = part.fileName
            bytes = Data(part.body)
        } else {
            fileName = request.uri.queryParameters.get("filename")
                ?? request.headers[.contentDisposition].flatMap { Multipart.parameter("filename", in: "x;" + $0) }
            bytes = Data(buffer: try await request.body.collect(upTo: limit))
        }
        guard !bytes.isEmpty else { throw APIError(.badRequest, code: "empty_upload", "the upload is empty") }
        var name = sanitizeFileName(fileName)
        if !name.contains("."), contentType.lowercased().contains("pdf") || bytes.starts(with: Data("%PDF-".utf8)) { name += ".pdf" }
        return (name, bytes)
    }

    /// Reads a `multipart/form-data` body as it arrives, at most `limit` bytes, and stops reading at the first
    /// byte that breaks a rule or a bound (``ServerConfiguration/maxFormParts``,
    /// ``ServerConfiguration/maxPartHeaderBytes``), or at the closing delimiter.
    func readForm(_ request: Request, contentType: String, limit: Int) async throws -> [MultipartPart] {
        guard let boundary = Multipart.boundary(from: contentType) else {
            throw APIError(.badRequest, code: "invalid_multipart", "the multipart body could not be read: the Content-Type has no boundary parameter")
        }
        var parser = try MultipartParser(boundary: boundary, limits: configuration.multipartLimits)
        for try await chunk in request.body {
            guard chunk.readableBytes <= limit - parser.byteCount else { throw APIError.bodyTooLarge }
            try chunk.withUnsafeReadableBytes { try parser.append($0) }
            if parser.isComplete { break }  // the epilogue is not needed; Hummingbird discards the rest
        }
        return try parser.finish()
    }

    /// `GET /v1/documents`.
    func listDocuments(_ request: Request, context: ServerContext) async throws -> Response {
        try JSON.response(DTO.DocumentList(documents: engine.collection.documents.map { DTO.Document($0) }))
    }

    /// `DELETE /v1/documents/{id}`.
    func deleteDocument(_ request: Request, context: ServerContext) async throws -> Response {
        guard !configuration.readOnly else { throw APIError(.forbidden, code: "read_only", APIError.readOnlyMessage) }
        let id = try context.parameters.require("id")
        guard engine.collection.document(DocumentID(rawValue: id)) != nil else {
            throw APIError(.notFound, code: "document_not_found", "no document has the id '\(id)'")
        }
        let removed = try await engine.remove(id)
        return try JSON.response(DTO.Removed(removed: DTO.Document(removed), index_version: engine.collection.generation))
    }

    /// `POST /v1/search` `{"query": ..., "k": 5, "documents": [ids], "retrieval": "hybrid"}`.
    func search(_ request: Request, context: ServerContext) async throws -> Response {
        let body = try await JSON.decode(DTO.SearchRequest.self, from: request, context: context)
        let k = min(max(body.k ?? engine.configuration.searchResults, 1), 100)
        let filter = body.documents.map { Set($0.map(DocumentID.init(rawValue:))) }
        var retrieval: RetrievalOptions? = nil
        if let text = body.retrieval {
            guard let mode = RetrievalOptions.Mode(rawValue: text) else {
                throw APIError(.badRequest, code: "invalid_request", "retrieval is hybrid, vector or lexical, not '\(text)'")
            }
            retrieval = engine.configuration.retrieval
            retrieval?.mode = mode
        }
        try await waitForIndex(body.min_index_version)
        let hits = try await engine.search(body.query, k: k, documents: filter, retrieval: retrieval, cache: body.cache == false ? .bypass : .use)
        return try JSON.response(DTO.SearchResponse(hits: hits.map(DTO.Hit.init)))
    }

    /// `POST /v1/ask` `{"question": ..., "history": [{"role", "content"}], "stream": false}`: the answer as JSON,
    /// or with `"stream": true` as Server-Sent Events: `passages`, `delta`s, then `done` (or `error`).
    func ask(_ request: Request, context: ServerContext) async throws -> Response {
        let body = try await JSON.decode(DTO.AskRequest.self, from: request, context: context)
        let history = try history(body.history ?? [])
        let question = body.question
        let client = context.clientName
        try await waitForIndex(body.min_index_version)
        let lookup = await cachedAnswer(question, history: history, requested: body.cache)
        if body.stream == true {
            return try streamAnswer(question: question, history: history, client: client, context: context, cache: lookup) { sse, event in
                switch event {
                case .passages(let passages): try sse.send(event: "passages", json: DTO.Passages(passages: passages.map(DTO.Citation.init)))
                case .delta(let text): try sse.send(event: "delta", json: DTO.Delta(text: text))
                case .done(let answer): try sse.send(event: "done", json: DTO.Answer(answer))
                }
            } onError: { sse, error in
                try? sse.send(event: "error", json: ["error": ["code": error.code, "message": error.message]])
            }
        }
        let answer = try await answer(question, history: history, connection: context.connection, cache: lookup)
        httpMetrics.clientTokens(client, usage: answer.usage)
        return lookup.mark(try JSON.response(DTO.Answer(answer)))
    }

    /// The answer from the cache when `lookup` found one (no answer slot: no model is called), else a new one in an
    /// answer slot, within the request timeout, stored in the cache when `lookup` says so.
    func answer(_ question: String, history: [ChatMessage], connection: ConnectionWatch?, cache lookup: CacheLookup) async throws -> Answer {
        if let cached = lookup.answer { return cached }
        return try await withRequestTimeout(connection: connection) { [self] in
            try await withAnswerSlot(connection: connection) { try await engine.ask(question, history: history, cache: lookup.use) }
        }
    }

    /// What the response cache says about a question, before any other work: its answer (a hit), or how the answer
    /// to compute uses the cache. `requested` is the request's `"cache"` (`false` bypasses the cache).
    func cachedAnswer(_ question: String, history: [ChatMessage], requested: Bool?) async -> CacheLookup {
        guard engine.cache != nil, engine.configuration.cache.isEnabled else { return CacheLookup(status: nil, use: .use) }
        if requested == false { return CacheLookup(status: .skipped, use: .bypass) }
        guard history.isEmpty else { return CacheLookup(status: .skipped, use: .use) }  // the engine counts it
        let (answer, outcome) = await engine.lookUpAnswer(question)
        return CacheLookup(status: outcome, use: .store, answer: answer)
    }

    /// Streams an answer's events through `forward`, within an answer slot and the request timeout; a failure
    /// after the stream has started is reported through `onError` (the status is already sent). A question that
    /// cannot be answered at all (empty, too long, an empty collection) is refused with its status before the stream.
    func streamAnswer(
        question: String, history: [ChatMessage], client: String, context: ServerContext, cache lookup: CacheLookup,
        forward: @escaping @Sendable (SSEWriter, AnswerEvent) throws -> Void,
        onError: @escaping @Sendable (SSEWriter, APIError) -> Void
    ) throws -> Response {
        if let cached = lookup.answer {
            // Replayed as it was streamed: its passages, its text, then the answer with its citations.
            return lookup.mark(SSE.response { sse in
                for event in [AnswerEvent.passages(cached.passages), .delta(cached.text), .done(cached)] { try forward(sse, event) }
            })
        }
        try engine.checkAnswerable(question)
        return lookup.mark(SSE.response { [self] sse in
            do {
                try await withRequestTimeout(connection: context.connection) { [self] in
                    try await withAnswerSlot(connection: context.connection) {
                        for try await event in engine.askStreaming(question, history: history, cache: lookup.use) {
                            if case .done(let answer) = event { httpMetrics.clientTokens(client, usage: answer.usage) }
                            try forward(sse, event)
                        }
                    }
                }
            } catch {
                let apiError = APIError.from(error)
                context.logger.info("answer stream failed", metadata: ["error.code": .string(apiError.code)])
                onError(sse, apiError)
            }
        })
    }

    /// The history of an ask request, within the request's history bounds.
    func history(_ messages: [DTO.Message]) throws -> [ChatMessage] {
        try checkHistory(count: messages.count, bytes: messages.reduce(0) { $0 + $1.content.utf8.count })
        return try messages.map { message in
            switch message.role {
            case "user": return .user(message.content)
            case "assistant": return .assistant(message.content)
            default: throw APIError(.badRequest, code: "invalid_request", "history roles are 'user' or 'assistant', not '\(message.role)'")
            }
        }
    }

    /// Refuses a history of more than ``ServerConfiguration/maxRequestHistoryMessages`` messages (413
    /// `too_many_history_messages`) or ``ServerConfiguration/maxRequestHistoryBytes`` bytes of content (413
    /// `history_too_large`), before the engine sees it.
    func checkHistory(count: Int, bytes: Int) throws {
        guard count <= configuration.maxRequestHistoryMessages else {
            throw APIError(
                .contentTooLarge, code: "too_many_history_messages",
                "the history has \(count) messages, over this server's limit of \(configuration.maxRequestHistoryMessages); send only the recent ones (the answer uses the last \(engine.configuration.prompt.maxHistoryMessages))")
        }
        guard bytes <= configuration.maxRequestHistoryBytes else {
            throw APIError(
                .contentTooLarge, code: "history_too_large",
                "the history holds \(bytes) bytes, over this server's limit of \(configuration.maxRequestHistoryBytes); send only the recent messages")
        }
    }
}

/// What the response cache said about one question (``ServerState/cachedAnswer(_:history:requested:)``).
struct CacheLookup: Sendable {
    /// The `X-Cache` header's value: `hit`, `miss`, `error` (Redis unavailable: answered without it) or `skipped`
    /// (`"cache": false`, or a question with history, which is not cached whole); `nil` without a cache.
    var status: ResponseCacheOutcome?
    /// How the answer to compute uses the cache.
    var use: CacheUse
    /// The cached answer, on a hit.
    var answer: Answer? = nil

    /// `response` with the `X-Cache` header, when there is a cache.
    func mark(_ response: Response) -> Response {
        guard let status else { return response }
        var response = response
        response.headers[.xCache] = status.rawValue
        return response
    }
}

extension HTTPField.Name {
    /// Whether a response came from the response cache.
    static let xCache = Self("X-Cache")!
}

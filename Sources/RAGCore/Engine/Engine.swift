import Dispatch
import Foundation
import Logging
import Prometheus
import Synchronization

/// The RAG engine: ingest documents, search them, and answer questions with citations to file and page.
///
/// ```swift
/// import RAGCore
///
/// let engine = try Engine(configuration: EngineConfiguration(collectionDirectory: URL(fileURLWithPath: "docs-index")))
/// let report = await engine.ingest(paths: ["handbook.pdf"])
/// let answer = try await engine.ask("How many vacation days do I get?")
/// print(answer.text)
/// for citation in answer.citations { print("[\(citation.number)] \(citation.label)") }
/// ```
///
/// Reads (search, ask) work on an immutable snapshot of the collection and never wait for ingestion; writes
/// (ingest, remove) are serialised, saved atomically, and swapped in when complete.
public final class Engine: Sendable {
    public let configuration: EngineConfiguration
    public let embedder: any Embedder
    public let llm: any LLMClient
    public let metrics: RAGMetrics
    public let logger: Logger
    private let store: CollectionStore?
    private let current: Mutex<DocumentCollection>
    /// Serialises writers within this process, first come first served; a writer whose task is cancelled while it
    /// waits leaves the queue without writing.
    private let writes = AsyncSemaphore(permits: 1)

    /// Opens (or starts) the collection in `configuration.collectionDirectory`.
    ///
    /// - Throws: `CollectionError` when the collection is damaged, of an unknown version, or was built by a
    ///   different embedder than `embedder`.
    public init(
        configuration: EngineConfiguration = EngineConfiguration(), embedder: any Embedder = HashingEmbedder(),
        llm: any LLMClient = ExtractiveAnswerer(), metrics: RAGMetrics = RAGMetrics(),
        logger: Logger = Logger(label: "rag.engine")
    ) throws(CollectionError) {
        self.configuration = configuration
        self.embedder = embedder
        self.llm = llm
        self.metrics = metrics
        metrics.observe(BlockingPool.shared)
        self.logger = logger
        self.store = configuration.collectionDirectory.map { CollectionStore(directory: $0) }
        var collection = DocumentCollection(embedderID: embedder.identifier, dimension: embedder.dimension)
        if let store, let loaded = try store.load() {
            try Engine.checkCompatible(loaded, with: embedder, path: store.fileURL.path)
            collection = loaded
        }
        self.current = Mutex(collection)
        publishSize(collection)
        metrics.prepare(model: llm.model)
        metrics.questionsUnanswered.increment(by: Int64(0))
    }

    static func checkCompatible(_ collection: DocumentCollection, with embedder: any Embedder, path: String) throws(CollectionError) {
        guard collection.embedderID == embedder.identifier, collection.dimension == embedder.dimension else {
            throw CollectionError(
                .embedderMismatch,
                "the collection was built with embedder \(collection.embedderID) (\(collection.dimension) dimensions) but \(embedder.identifier) (\(embedder.dimension) dimensions) is in use; use the same embedder or ingest into a new collection",
                path: path)
        }
    }

    /// Reloads the collection from disk when another process (an ingestion job) has saved a newer version.
    /// Returns whether a new version was loaded. Readers keep their snapshot until it is swapped in.
    @discardableResult
    public func reloadIfChanged() async throws -> Bool {
        guard let store, let onDisk = store.generationOnDisk(), onDisk != collection.generation else { return false }
        let loaded = try await Engine.offload { () throws(CollectionError) in try store.load() }
        guard let loaded else { return false }
        try Engine.checkCompatible(loaded, with: embedder, path: store.fileURL.path)
        current.withLock { $0 = loaded }
        publishSize(loaded)
        logger.info("reloaded the collection", metadata: ["rag.collection.generation": "\(loaded.generation)"])
        return true
    }

    /// Waits until writes in progress have been saved (for a graceful shutdown).
    public func flush() async {
        _ = try? await writes.withPermit {}
    }

    private func publishSize(_ collection: DocumentCollection) {
        metrics.setCollectionSize(documents: collection.documents.count, chunks: collection.chunks.count)
        if let last = collection.documents.map(\.ingestedAt).max() { metrics.setLastIngest(last) }
    }

    /// The current snapshot of the collection.
    public var collection: DocumentCollection { current.withLock { $0 } }

    // MARK: Ingestion

    /// Ingests files and folders (folders recursively: `.pdf`, `.txt`, `.md`, `.markdown`). Files whose exact
    /// content is already in the collection are skipped; a changed file replaces its earlier version. Files that
    /// fail are reported in the result and the others are still ingested.
    public func ingest(
        paths: [String], progress: (@Sendable (IngestProgress) -> Void)? = nil
    ) async -> IngestReport {
        let start = ContinuousClock.now
        var report = IngestReport()
        var files: [URL] = []
        for path in paths {
            do { files += try Engine.expand(path) } catch {
                report.failed.append(.init(path: path, error: error, reason: "unreadable"))
            }
        }
        guard !files.isEmpty else {
            record(report, started: start)
            return report
        }
        do {
            try await mutate { collection in
                let loader = DocumentLoader(limits: self.configuration.extraction, password: self.configuration.pdfPassword)
                let sizes = files.map { (try? $0.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0 }
                let bytesTotal = sizes.reduce(0, +)
                var bytesDone = 0
                var pagesDone = 0
                for (position, file) in files.enumerated() {
                    let path = file.path
                    do {
                        let document = try await Engine.offload { () throws(DocumentError) in try loader.load(contentsOf: file) }
                        if let existing = collection.documents.first(where: { $0.contentHash == document.contentHash }) {
                            report.unchanged.append(existing)
                        } else {
                            let replaced = collection.documents.filter { $0.sourcePath == path }.reduce(0) { $0 + $1.chunkCount }
                            let record = try await self.index(
                                document, sourcePath: path, into: &collection, replacingChunks: replaced)
                            // The same path with new content replaces the old version.
                            for old in collection.documents where old.sourcePath == path && old.id != record.id {
                                collection.remove(old.id)
                            }
                            report.added.append(record)
                            pagesDone += record.indexedPages
                        }
                    } catch {
                        report.failed.append(.init(path: path, error: error, reason: Engine.reason(for: error)))
                    }
                    bytesDone += sizes[position]
                    progress?(IngestProgress(
                        filesDone: position + 1, filesTotal: files.count, bytesDone: bytesDone, bytesTotal: bytesTotal,
                        pagesDone: pagesDone, elapsed: Engine.seconds(since: start), currentFile: file.lastPathComponent))
                }
                return !report.added.isEmpty
            }
        } catch {
            report.failed.append(.init(path: configuration.collectionDirectory?.path ?? "collection", error: error, reason: "storage"))
        }
        record(report, started: start)
        return report
    }

    /// Ingests one document from memory (an upload). Returns its record; an unchanged document returns the
    /// existing record.
    ///
    /// - Throws: `DocumentError` for a bad document (nothing else in the collection changes), `EngineError`
    ///   when read-only, `CollectionError` when saving fails.
    public func ingest(data: Data, fileName: String) async throws -> DocumentRecord {
        try await ingestDocument(data: data, fileName: fileName).record
    }

    /// Like `ingest(data:fileName:)`, and also says whether the document is new (`false` when the collection
    /// already had these exact bytes, for example from a concurrent upload of the same file).
    public func ingestDocument(data: Data, fileName: String) async throws -> (record: DocumentRecord, isNew: Bool) {
        let start = ContinuousClock.now
        let loader = DocumentLoader(limits: configuration.extraction, password: configuration.pdfPassword)
        var report = IngestReport()
        defer { record(report, started: start) }
        do {
            let document = try await Engine.offload { () throws(DocumentError) in try loader.load(data: data, fileName: fileName) }
            var result: (record: DocumentRecord, isNew: Bool)? = nil
            try await mutate { collection in
                if let existing = collection.documents.first(where: { $0.contentHash == document.contentHash }) {
                    report.unchanged.append(existing)
                    result = (existing, false)
                    return false
                }
                let record = try await self.index(document, sourcePath: nil, into: &collection)
                report.added.append(record)
                result = (record, true)
                return true
            }
            return result!
        } catch {
            report.failed.append(.init(path: fileName, error: error, reason: Engine.reason(for: error)))
            throw error
        }
    }

    /// Removes a document and all its chunks and vectors. Returns the removed record.
    public func remove(_ reference: String) async throws -> DocumentRecord {
        let start = ContinuousClock.now
        do {
            var removed: DocumentRecord? = nil
            try await mutate { collection in
                let matches = collection.documents(matching: reference)
                guard matches.count == 1, let match = matches.first else {
                    throw EngineError(
                        .documentNotFound,
                        matches.isEmpty
                            ? "no document matches '\(reference)'"
                            : "'\(reference)' matches \(matches.count) documents; use the document id")
                }
                collection.remove(match.id)
                removed = match
                return true
            }
            finish(.remove, outcome: "success", started: start)
            return removed!
        } catch {
            finish(.remove, outcome: "error", started: start)
            throw error
        }
    }

    /// Runs a write: serialised with other writes in this process and, through a file lock, with other processes;
    /// reloads the collection first if another process saved it; saves and publishes the result when `body`
    /// returns true.
    private func mutate(_ body: (inout DocumentCollection) async throws -> Bool) async throws {
        guard !configuration.readOnly else {
            throw EngineError(.readOnly, "this engine is read-only: the collection is written by a separate ingestion job")
        }
        try await writes.withPermit {
            var lock: CollectionLock? = nil
            if let store { lock = try await Engine.offload { () throws(CollectionError) in try CollectionLock(store: store) } }
            defer { lock?.unlock() }
            var collection = self.collection
            if let store, let onDisk = store.generationOnDisk(), onDisk != collection.generation,
                let fresh = try store.load()
            {
                try Engine.checkCompatible(fresh, with: embedder, path: store.fileURL.path)
                collection = fresh
            }
            guard try await body(&collection) else { return }
            if let store {
                let unsaved = collection
                collection = try await Engine.offload { () throws(CollectionError) in
                    var saving = unsaved
                    try store.save(&saving)
                    return saving
                }
            }
            let published = collection
            current.withLock { $0 = published }
            publishSize(published)
        }
    }

    /// Chunks and embeds a document and adds it to `collection`. Checks the collection quota after chunking and
    /// before embedding; `replacingChunks` are the chunks of earlier versions the caller removes afterwards.
    private func index(
        _ document: Document, sourcePath: String?, into collection: inout DocumentCollection, replacingChunks: Int = 0
    ) async throws -> DocumentRecord {
        let chunks = Chunker(options: configuration.chunking).chunks(of: document)
        try checkQuota(adding: chunks.count, to: collection.chunks.count - replacingChunks, fileName: document.fileName)
        var vectors: [[Float]] = []
        vectors.reserveCapacity(chunks.count)
        let batch = max(1, configuration.embeddingBatchSize)
        for first in stride(from: 0, to: chunks.count, by: batch) {
            let texts = chunks[first..<min(chunks.count, first + batch)].map(\.text)
            let started = ContinuousClock.now
            vectors += try await embedder.embed(texts)
            metrics.embeddingLatency.record(Engine.seconds(since: started))
        }
        let record = DocumentRecord(document: document, chunkCount: chunks.count, sourcePath: sourcePath)
        collection.add(record, chunks: chunks, vectors: vectors)
        logger.info(
            "indexed document",
            metadata: [
                "rag.document.id": "\(record.id)", "rag.document.file": "\(record.fileName)",
                "rag.document.pages": "\(record.indexedPages)", "rag.document.chunks": "\(record.chunkCount)",
            ])
        return record
    }

    /// Throws `collectionQuotaExceeded` when `adding` chunks to a collection of `current` chunks would pass
    /// ``EngineConfiguration/maxCollectionChunks``.
    private func checkQuota(adding: Int, to current: Int, fileName: String) throws(EngineError) {
        let limit = configuration.maxCollectionChunks
        guard limit > 0, current + adding > limit else { return }
        throw EngineError(
            .collectionQuotaExceeded,
            "\(fileName): adding its \(adding) chunks to the collection's \(current) would pass the collection's limit "
                + "of \(limit) chunks (maxCollectionChunks); remove documents or raise the limit")
    }

    private func record(_ report: IngestReport, started: ContinuousClock.Instant) {
        metrics.documentsIngested.increment(by: Int64(report.added.count))
        metrics.pagesIngested.increment(by: Int64(report.pages))
        metrics.chunksIngested.increment(by: Int64(report.chunks))
        for failure in report.failed {
            metrics.ingestErrors(reason: failure.reason).increment()
            if RAGMetrics.refusalReasons.contains(failure.reason) { metrics.documentsRefused(reason: failure.reason).increment() }
        }
        for (_, warning) in report.warnings {
            switch warning.kind {
            case .pageFailed: metrics.ingestErrors(reason: "page_failed").increment()
            case .unmappableText: metrics.ingestErrors(reason: "unmappable_text").increment()
            default: break  // no text, or repeated pages indexed once: nothing failed
            }
        }
        finish(.ingest, outcome: report.failed.isEmpty ? "success" : "error", started: started)
    }

    /// A metric label for an ingestion failure.
    static func reason(for error: any Error) -> String {
        switch error {
        case let error as DocumentError: return error.code.metricLabel
        case is CollectionError: return "storage"
        case let error as EngineError where error.code == .fileNotFound: return "unreadable"
        case let error as EngineError where error.code == .collectionQuotaExceeded: return "collection_quota"
        case is EngineError: return "rejected"
        default: return "other"
        }
    }

    /// Lists the files under `path`: the path itself when it is a file, else the supported files under it.
    static func expand(_ path: String) throws -> [URL] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw EngineError(.fileNotFound, "\(path): no such file or folder")
        }
        let url = URL(fileURLWithPath: path)
        guard isDirectory.boolValue else { return [url] }
        let supported: Set<String> = ["pdf", "txt", "md", "markdown"]
        var files: [URL] = []
        let enumerator = FileManager.default.enumerator(at: url, includingPropertiesForKeys: [.isRegularFileKey])
        while let next = enumerator?.nextObject() as? URL {
            if supported.contains(next.pathExtension.lowercased()),
                (try? next.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true
            {
                files.append(next)
            }
        }
        return files.sorted { $0.path < $1.path }
    }

    // MARK: Search and answers

    /// The `k` passages that best match `query`, best first, optionally only from some documents, found as
    /// `retrieval` says (by default `configuration.retrieval`).
    public func search(
        _ query: String, k: Int? = nil, documents: Set<DocumentID>? = nil, retrieval: RetrievalOptions? = nil
    ) async throws -> [SearchHit] {
        let start = ContinuousClock.now
        do {
            try validate(query)
            let hits = try await retrieve(
                query, k: k ?? configuration.searchResults, documents: documents, options: retrieval ?? configuration.retrieval)
            finish(.search, outcome: "success", started: start)
            return hits
        } catch {
            finish(.search, outcome: "error", started: start)
            throw error
        }
    }

    /// Answers a question from the documents, with citations.
    public func ask(_ question: String, history: [ChatMessage] = []) async throws -> Answer {
        try await answer(question, history: history) { _ in }
    }

    /// Answers a question, streaming the text as it is produced: `.passages`, then `.delta`s, then `.done`.
    public func askStreaming(_ question: String, history: [ChatMessage] = []) -> AsyncThrowingStream<AnswerEvent, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    let answer = try await answer(question, history: history) { _ = continuation.yield($0) }
                    continuation.yield(.done(answer))
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// The answer pipeline, in the caller's task: `ask` runs it directly (no task or stream in between),
    /// `askStreaming` in a task that forwards `emit`'s events. `emit` gets `.passages` and the `.delta`s.
    private func answer(_ question: String, history: [ChatMessage], emit: (AnswerEvent) -> Void) async throws -> Answer {
        let start = ContinuousClock.now
        do {
            try validate(question)
            let snapshot = collection
            guard !snapshot.chunks.isEmpty else {
                throw EngineError(.emptyCollection, "the collection is empty: ingest documents first")
            }
            let searchQuery = try await standaloneQuery(question, history: history)
            let options = configuration.retrieval
            let hits = try await retrieve(searchQuery, k: configuration.searchResults, documents: nil, options: options)
            let retrieval = Engine.seconds(since: start)
            if let refusal = refusal(question: question, searchQuery: searchQuery, hits: hits, options: options, started: start) {
                metrics.questionsUnanswered.increment()
                emit(.passages([]))
                emit(.delta(refusal.text))
                finish(.ask, outcome: "success", started: start)
                return refusal
            }
            let context = snapshot.passages(for: hits, neighbours: options.neighbourChunks)
            let prompt = try PromptBuilder(options: configuration.prompt).build(question: question, hits: context, history: history)
            let passages = prompt.passages.map(Citation.init(passage:))
            emit(.passages(passages))
            metrics.sourcesMatched.record(Double(prompt.passages.count))
            metrics.promptLength.record(Double(prompt.estimatedTokens))

            let request = CompletionRequest(messages: prompt.messages, question: question, passages: prompt.passages)
            let generationStart = ContinuousClock.now
            var text = ""
            var usage: TokenUsage? = nil
            var firstToken: Double? = nil
            do {
                for try await event in llm.stream(request) {
                    switch event {
                    case .delta(let delta):
                        if firstToken == nil {
                            firstToken = Engine.seconds(since: generationStart)
                            metrics.timeToFirstToken(model: llm.model).record(firstToken!)
                        }
                        text += delta
                        emit(.delta(delta))
                    case .usage(let reported):
                        usage = reported
                    }
                }
                // A stream read by a cancelled task ends early, as if complete: that is no answer.
                try Task.checkCancellation()
            } catch {
                metrics.llmErrors(type: Engine.errorType(error), model: llm.model).increment()
                throw error
            }
            let generation = Engine.seconds(since: generationStart)
            let finalUsage = usage ?? TokenUsage(
                promptTokens: prompt.estimatedTokens, completionTokens: TokenEstimator.estimate(text), isEstimated: true)
            metrics.llmLatency(model: llm.model).record(generation)
            record(finalUsage)
            metrics.responseLength.record(Double(finalUsage.completionTokens))

            let cited = passages.filter { text.contains("[\($0.number)]") }
            let answer = Answer(
                question: question, searchQuery: searchQuery, text: text, citations: cited.isEmpty ? passages : cited, passages: passages,
                usage: finalUsage, model: llm.model, isGenerated: llm.isGenerative,
                timings: Timings(retrieval: retrieval, generation: generation, total: Engine.seconds(since: start), firstToken: firstToken))
            finish(.ask, outcome: "success", started: start)
            return answer
        } catch {
            finish(.ask, outcome: "error", started: start)
            throw error
        }
    }

    /// The instruction for rewriting a follow-up question.
    public static let condensePrompt = """
        Rewrite the user's last question as one standalone search query that can be understood without the \
        conversation: resolve pronouns and references using the conversation. Answer with the query only.
        """

    /// With history and a language model, one extra call rewrites a follow-up ("and how much does it cost?")
    /// into a standalone query for retrieval; otherwise the question itself.
    ///
    /// The call receives the history as the answer prompt does (`PromptBuilder.recentHistory`: at most
    /// `maxHistoryMessages` messages and `maxHistoryTokens` estimated tokens), and never more than
    /// `maxPromptTokens` in all; when the question leaves no room for any history, there is no rewrite.
    private func standaloneQuery(_ question: String, history: [ChatMessage]) async throws -> String {
        guard configuration.condenseFollowUps, llm.isGenerative, !history.isEmpty else { return question }
        func messages(_ conversation: [ChatMessage]) -> [ChatMessage] {
            // Each history message becomes one line, `role: content`: about the same estimate as a message of its own.
            let lines = conversation.map { "\($0.role.rawValue): \($0.content)" }.joined(separator: "\n")
            return [.system(Engine.condensePrompt), .user("Conversation:\n\(lines)\n\nLast question: \(question)")]
        }
        let options = configuration.prompt
        let room = options.maxPromptTokens - TokenEstimator.estimate(messages([]))
        let conversation = PromptBuilder(options: options).recentHistory(history, budget: room)
        guard !conversation.isEmpty else { return question }
        let request = CompletionRequest(
            messages: messages(conversation), question: question, maxTokens: 100, temperature: 0)
        do {
            let completion = try await llm.complete(request)
            record(completion.usage)
            let query = completion.text.trimmingWhitespace()
            return query.isEmpty ? question : String(query.prefix(configuration.maxQuestionBytes))
        } catch {
            metrics.llmErrors(type: Engine.errorType(error), model: llm.model).increment()
            throw error
        }
    }

    private func record(_ usage: TokenUsage) {
        metrics.tokens(kind: "prompt", model: llm.model).increment(by: Int64(usage.promptTokens))
        metrics.tokens(kind: "completion", model: llm.model).increment(by: Int64(usage.completionTokens))
        if usage.isEstimated { metrics.estimatedUsage(model: llm.model).increment() }
    }

    /// A metric label for a failed model call: the `LLMError` code, `cancelled`, or the error's type.
    static func errorType(_ error: any Error) -> String {
        if let error = error as? LLMError { return error.code.description }
        if error is CancellationError { return "cancelled" }
        return "other"
    }

    private func validate(_ question: String) throws(EngineError) {
        guard !question.trimmingWhitespace().isEmpty else {
            throw EngineError(.invalidQuestion, "the question is empty")
        }
        guard question.utf8.count <= configuration.maxQuestionBytes else {
            throw EngineError(
                .invalidQuestion,
                "the question is \(question.utf8.count) bytes, over the limit of \(configuration.maxQuestionBytes) (maxQuestionBytes)")
        }
    }

    /// The cosine similarity that retrieved passages must reach for an answer, or `nil` for none.
    public func minimumScore(for options: RetrievalOptions) -> Float? {
        guard options.mode != .lexical else { return nil }  // BM25 scores are not similarities
        switch options.resolved(for: embedder.calibration).minimumScore {
        case .automatic, .disabled: return nil
        case .value(let value): return value
        }
    }

    /// The answer that says the documents do not answer, when no hit reaches the relevance threshold.
    private func refusal(
        question: String, searchQuery: String, hits: [SearchHit], options: RetrievalOptions, started: ContinuousClock.Instant
    ) -> Answer? {
        guard let threshold = minimumScore(for: options) else { return nil }
        let best = hits.max { $0.score < $1.score }
        guard (best?.score ?? -1) < threshold else { return nil }
        var text = "The documents do not seem to answer this question."
        if let best {
            text += String(
                format: " The closest passage (%@ %@) has a similarity of %.2f, below the relevance threshold of %.2f.",
                best.chunk.fileName, best.chunk.pageLabel, best.score, threshold)
        }
        var answer = Answer(
            question: question, searchQuery: searchQuery, text: text, citations: [], passages: [],
            usage: TokenUsage(promptTokens: 0, completionTokens: 0, isEstimated: false), model: llm.model, isGenerated: false,
            timings: Timings(retrieval: Engine.seconds(since: started), total: Engine.seconds(since: started)))
        answer.isAnswered = false
        return answer
    }

    private func retrieve(_ query: String, k: Int, documents: Set<DocumentID>?, options: RetrievalOptions) async throws -> [SearchHit] {
        let start = ContinuousClock.now
        let options = options.resolved(for: embedder.calibration)
        var embedding: [Float] = []
        if options.mode != .lexical {
            embedding = try await embedder.embed([query])[0]
            metrics.embeddingLatency.record(Engine.seconds(since: start))
        }
        let snapshot = collection
        let hits: [SearchHit]
        let vector = embedding
        if snapshot.chunks.count < 20_000 {
            hits = snapshot.search(query: query, vector: vector, k: k, options: options, documentIDs: documents)
        } else {
            hits = await Engine.offload { snapshot.search(query: query, vector: vector, k: k, options: options, documentIDs: documents) }
        }
        metrics.retrievalLatency.record(Engine.seconds(since: start))
        return hits
    }

    private func finish(_ operation: RAGMetrics.Operation, outcome: String, started: ContinuousClock.Instant) {
        metrics.requests(operation, outcome: outcome).increment()
        metrics.requestLatency(operation).record(Engine.seconds(since: started))
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }

    /// Runs blocking work (PDF parsing, large BLAS calls, file I/O) on `BlockingPool.shared`, off Swift's
    /// cooperative pool.
    static func offload<T: Sendable, Failure: Error>(_ body: @escaping @Sendable () throws(Failure) -> T) async throws(Failure) -> T {
        try await BlockingPool.shared.run(body)
    }
}


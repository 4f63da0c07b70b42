import Foundation
import Logging
import Prometheus
import Synchronization

/// Ingestion and removal: load, chunk, embed and index documents, within the quota, through the write protocol
/// (`Engine+Writes.swift`), with the ingestion metrics.
///
/// A document is committed on its own: it is loaded, chunked, embedded and analysed for BM25 outside any lock
/// (`prepare`), then one short store transaction checks it against the collection as it is in the store and adds it
/// (`add`). So other writers
/// (an upload, a removal, another process) wait for one save, never for a batch's embedding, and a batch that fails
/// or is killed part way keeps every document it saved.
extension Engine {
    /// Ingests files and folders (folders recursively: `.pdf`, `.txt`, `.md`, `.markdown`), saving each document as
    /// it is ingested. Files whose exact content is already in the collection are skipped; a changed file replaces
    /// its earlier version. Files that fail are reported in the result and the others are still ingested. A file that
    /// was read but could not be saved (a full disk) is a failure with reason `storage`, never in `added`; the files
    /// saved before it stay saved.
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
        do {
            try checkWritable()
        } catch {
            for file in files { report.failed.append(.init(path: file.path, error: error, reason: Engine.reason(for: error))) }
            files = []
        }
        let sizes = files.map { (try? $0.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0 }
        let bytesTotal = sizes.reduce(0, +)
        var bytesDone = 0
        var pagesDone = 0
        for (position, file) in files.enumerated() {
            let path = file.path
            var loader = configuration.documentLoader
            if let progress {
                let snapshot = IngestProgress(
                    filesDone: position, filesTotal: files.count, bytesDone: bytesDone, bytesTotal: bytesTotal,
                    pagesDone: pagesDone, elapsed: 0, currentFile: file.lastPathComponent)
                loader.ocrProgress = { done, total in
                    var update = snapshot
                    update.elapsed = Engine.seconds(since: start)
                    update.ocrPagesDone = done
                    update.ocrPagesTotal = total
                    progress(update)
                }
            }
            let fileLoader = loader
            do {
                let document = try await Engine.offload { () throws(DocumentError) in try fileLoader.load(contentsOf: file) }
                switch try await index(document, sourcePath: path) {
                case .added(let record):
                    report.added.append(record)
                    pagesDone += record.indexedPages
                case .unchanged(let existing):
                    report.unchanged.append(existing)
                }
            } catch {
                report.failed.append(.init(path: path, error: error, reason: Engine.reason(for: error)))
            }
            bytesDone += sizes[position]
            progress?(IngestProgress(
                filesDone: position + 1, filesTotal: files.count, bytesDone: bytesDone, bytesTotal: bytesTotal,
                pagesDone: pagesDone, elapsed: Engine.seconds(since: start), currentFile: file.lastPathComponent))
        }
        record(report, started: start)
        return report
    }

    /// Ingests one document from memory (an upload). Returns its record; an unchanged document returns the
    /// existing record.
    ///
    /// - Throws: `DocumentError` for a bad document (nothing else in the collection changes), `EngineError`
    ///   when read-only or over the quota, `CollectionError` when saving fails.
    public func ingest(data: Data, fileName: String) async throws -> DocumentRecord {
        try await ingestDocument(data: data, fileName: fileName).record
    }

    /// Like `ingest(data:fileName:)`, and also says whether the document is new (`false` when the collection
    /// already had these exact bytes, for example from a concurrent upload of the same file). The document is
    /// embedded outside the write lock and saved in one short write.
    public func ingestDocument(data: Data, fileName: String) async throws -> (record: DocumentRecord, isNew: Bool) {
        let start = ContinuousClock.now
        let loader = configuration.documentLoader
        var report = IngestReport()
        defer { record(report, started: start) }
        do {
            try checkWritable()
            let document = try await Engine.offload { () throws(DocumentError) in try loader.load(data: data, fileName: fileName) }
            switch try await index(document, sourcePath: nil) {
            case .added(let record):
                report.added.append(record)
                return (record, true)
            case .unchanged(let existing):
                report.unchanged.append(existing)
                return (existing, false)
            }
        } catch is CancellationError {
            throw CancellationError()  // its caller gave up: not a failure of the document
        } catch {
            report.failed.append(.init(path: fileName, error: error, reason: Engine.reason(for: error)))
            throw error
        }
    }

    /// Removes a document and all its chunks and vectors. Returns the removed record.
    public func remove(_ reference: String) async throws -> DocumentRecord {
        let start = ContinuousClock.now
        do {
            let removed = try await commitRemoval(of: reference)
            finish(.remove, outcome: "success", started: start)
            return removed
        } catch {
            finish(.remove, outcome: "error", started: start)
            throw error
        }
    }

    /// What indexing a document did: added it (and saved the collection), or found its exact content already there.
    enum Indexed: Sendable {
        case added(DocumentRecord)
        case unchanged(DocumentRecord)
    }

    /// Indexes a loaded document: returns the existing record when the collection has its exact content, else
    /// prepares it (outside the write lock) and adds it (in one short write). `sourcePath` is the file it came from,
    /// whose earlier version it replaces.
    func index(_ document: Document, sourcePath: String?) async throws -> Indexed {
        recordOCR(document)
        if let existing = collection.documents.first(where: { $0.contentHash == document.contentHash }) {
            return .unchanged(existing)
        }
        return try await add(try await prepare(document, sourcePath: sourcePath))
    }

    /// Chunks and embeds a document without touching the collection or taking the write lock. Checks the quota
    /// against the current snapshot after chunking and before embedding, so that nothing is embedded for a document
    /// that cannot fit (`add` checks again against the collection it adds to).
    func prepare(_ document: Document, sourcePath: String?) async throws -> StoredDocument {
        let chunks = Chunker(options: configuration.chunking).chunks(of: document)
        let snapshot = collection
        try checkQuota(
            adding: chunks.count, to: snapshot.chunks.count - Engine.versions(of: sourcePath, in: snapshot).chunks,
            fileName: document.fileName)
        var vectors: [[Float]] = []
        vectors.reserveCapacity(chunks.count)
        let batch = max(1, configuration.embeddingBatchSize)
        for first in stride(from: 0, to: chunks.count, by: batch) {
            // An upload whose client left stops between batches.
            try Task.checkCancellation()
            let texts = chunks[first..<min(chunks.count, first + batch)].map(\.indexedText)
            let started = ContinuousClock.now
            vectors += try await embedder.embed(texts)
            metrics.embeddingLatency.record(Engine.seconds(since: started))
        }
        let record = DocumentRecord(document: document, chunkCount: chunks.count, sourcePath: sourcePath)
        var normalized = VectorIndex(dimension: embedder.dimension)
        normalized.add(vectors)
        let texts = Chunk.lexicalTexts(chunks)
        let terms = await Engine.offload { DocumentTerms(texts: texts) }
        return StoredDocument(record: record, chunks: chunks, vectors: normalized.storage, terms: terms, source: document.source)
    }

    /// Commits a prepared document (`commit`): against the collection as it is in the store (another writer may
    /// have changed it since `prepare`), skips it when its exact content is there, checks the quota, removes the
    /// earlier versions from the same source path and adds it, in one transaction.
    ///
    /// - Throws: `EngineError.collectionQuotaExceeded` (nothing changes), `CollectionError` when the collection
    ///   cannot be saved (nothing changes).
    func add(_ prepared: StoredDocument) async throws -> Indexed {
        let record = prepared.record
        let indexed = try await commit(prepared)
        if case .added = indexed {
            logger.info(
                "indexed document",
                metadata: [
                    "rag.document.id": "\(record.id)", "rag.document.file": "\(record.fileName)",
                    "rag.document.pages": "\(record.indexedPages)", "rag.document.chunks": "\(record.chunkCount)",
                ])
        }
        return indexed
    }

    /// The documents ingested from `sourcePath` (none for `nil`, an upload) and their chunks: the earlier versions
    /// that a new version from the same file replaces.
    static func versions(of sourcePath: String?, in collection: DocumentCollection) -> (ids: [DocumentID], chunks: Int) {
        guard let sourcePath else { return ([], 0) }
        let earlier = collection.documents.filter { $0.sourcePath == sourcePath }
        return (earlier.map(\.id), earlier.reduce(0) { $0 + $1.chunkCount })
    }

    /// Throws `collectionQuotaExceeded` when `adding` chunks to a collection of `current` chunks would pass
    /// ``EngineConfiguration/maxCollectionChunks``.
    func checkQuota(adding: Int, to current: Int, fileName: String) throws(EngineError) {
        let limit = configuration.maxCollectionChunks
        guard limit > 0, current + adding > limit else { return }
        throw quotaExceeded(adding: adding, to: current, fileName: fileName)
    }

    /// The error for a document of `adding` chunks that does not fit a collection of `current` chunks.
    func quotaExceeded(adding: Int, to current: Int, fileName: String) -> EngineError {
        EngineError(
            .collectionQuotaExceeded,
            "\(fileName): adding its \(adding) chunks to the collection's \(current) would pass the collection's limit "
                + "of \(configuration.maxCollectionChunks) chunks (maxCollectionChunks); remove documents or raise the limit")
    }

    /// Counts the pages OCR read for `document`, and their time, by outcome.
    func recordOCR(_ document: Document) {
        for result in document.ocrResults {
            metrics.ocrPages(outcome: result.outcome).increment()
            if result.outcome != .skipped { metrics.ocrLatency(outcome: result.outcome).record(result.seconds) }
        }
    }

    func record(_ report: IngestReport, started: ContinuousClock.Instant) {
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
            case .recovered: metrics.documentsRecovered.increment()
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
}

import Foundation
import Logging
import Prometheus
import Synchronization

/// Ingestion and removal: load, chunk, embed and index documents, within the quota, through the write protocol
/// (`Engine+Writes.swift`), with the ingestion metrics.
extension Engine {
    /// Ingests files and folders (folders recursively: `.pdf`, `.txt`, `.md`, `.markdown`). Files whose exact
    /// content is already in the collection are skipped; a changed file replaces its earlier version. Files that
    /// fail are reported in the result and the others are still ingested. When the collection cannot be saved, the
    /// files that were not saved are failures with reason `storage`, never in `added`.
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
        var started = false
        do {
            try await mutate { collection in
                started = true
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
            // Nothing was saved: every file that would have been added (every file, when the write could not begin)
            // failed with the error.
            let paths = started ? report.added.map { $0.sourcePath ?? $0.fileName } : files.map(\.path)
            for path in paths { report.failed.append(.init(path: path, error: error, reason: Engine.reason(for: error))) }
            report.added = []
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

    /// Chunks and embeds a document and adds it to `collection`. Checks the collection quota after chunking and
    /// before embedding; `replacingChunks` are the chunks of earlier versions the caller removes afterwards.
    func index(
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
    func checkQuota(adding: Int, to current: Int, fileName: String) throws(EngineError) {
        let limit = configuration.maxCollectionChunks
        guard limit > 0, current + adding > limit else { return }
        throw EngineError(
            .collectionQuotaExceeded,
            "\(fileName): adding its \(adding) chunks to the collection's \(current) would pass the collection's limit "
                + "of \(limit) chunks (maxCollectionChunks); remove documents or raise the limit")
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

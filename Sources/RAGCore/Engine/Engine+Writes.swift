import Foundation
import Logging
import Prometheus
import Synchronization

/// The write protocol: a write is one transaction of the store (which serialises writers across processes and
/// decides against the collection as it is there, not as this process last saw it); once it has committed, the
/// engine applies the changes before its own (other processes') and then its own to the in-memory collection, in the
/// order of the change log. Within the process, writes and the applying of changes are serialised by `writes`.
extension Engine {
    /// What a read-only engine answers to a write.
    static let readOnlyError = EngineError(
        .readOnly, "this engine is read-only: the collection is written by a separate ingestion job")

    /// Throws `readOnly` when this engine may not write: writers call it before they read or embed anything.
    func checkWritable() throws(EngineError) {
        guard !configuration.readOnly else { throw Engine.readOnlyError }
    }

    /// Commits a prepared document (`CollectionStore.add`) and applies the result: the changes other processes made
    /// before it, then the removal of the earlier versions it replaces and its addition. A write whose task was
    /// cancelled before the commit (an upload whose client left) is not committed.
    ///
    /// - Throws: `EngineError.collectionQuotaExceeded` (nothing changes), `CollectionError` when the store cannot
    ///   commit it (nothing changes).
    func commit(_ document: StoredDocument) async throws -> Indexed {
        let store = self.store
        return try await commit(document) { header, maxChunks in try await store.add(document, header: header, maxChunks: maxChunks) }!
    }

    /// Commits a prepared document with `write` (given the engine's header and the chunk quota; `nil` when it wrote
    /// nothing and nothing is to be applied: a job whose claim was lost), and applies the result as `commit(_:)` does.
    func commit(
        _ document: StoredDocument, with write: (CollectionHeader, Int) async throws -> AddOutcome?
    ) async throws -> Indexed? {
        try checkWritable()
        return try await writes.withPermit { () async throws -> Indexed? in
            try Task.checkCancellation()
            let header = CollectionHeader(
                embedderID: embedder.identifier, dimension: embedder.dimension, vectorStorage: configuration.vectorStorage)
            guard let outcome = try await write(header, configuration.maxCollectionChunks) else { return nil }
            try await adoptStoredFormatIfEmpty()
            switch outcome {
            case .unchanged(let existing):
                return .unchanged(existing)
            case .overQuota(let chunks):
                throw quotaExceeded(adding: document.chunks.count, to: chunks, fileName: document.record.fileName)
            case .added(let replaced, let firstChange, let version):
                _ = try await applyChanges(upTo: firstChange - 1)
                let published = updateSnapshot(removes: !replaced.isEmpty) { collection in
                    for id in replaced { collection.remove(id) }
                    collection.add(document.record, chunks: document.chunks, normalizedVectors: document.vectors, terms: document.terms)
                    collection.generation = version
                }
                metrics.collectionChangesApplied.increment(by: Int64(replaced.count + 1))
                publishSize(published)
                return .added(document.record)
            }
        }
    }

    /// Gives an in-memory collection without vectors the storage format of the store's collection, when that differs
    /// from what this engine would have made (another process created it): memory then holds what the store holds.
    /// Call it holding `writes`. Reads the store's header only while the collection is empty.
    func adoptStoredFormatIfEmpty() async throws(CollectionError) {
        guard collection.vectors.count == 0, let stored = try await store.header()?.vectorStorage, stored != collection.storageFormat
        else { return }
        let scan = configuration.vectorFormat.format(rows: 0)
        current.withLock { collection in
            collection.adoptStorage(stored)
            collection.setVectorFormat(scan)
        }
    }

    /// Re-encodes every stored vector of the collection in `format`, in the store (one transaction) and in memory
    /// (loaded whole again); other processes follow. Going to a smaller format loses precision for good. Returns
    /// `false` when there is no collection yet or it already stores `format`.
    public func convertVectors(to format: VectorFormat) async throws -> Bool {
        try checkWritable()
        return try await writes.withPermit { () async throws -> Bool in
            _ = try await applyChanges(upTo: nil)
            guard try await store.convertVectors(to: format) != nil else { return false }
            _ = try await applyChanges(upTo: nil)
            return true
        }
    }

    /// Removes the document `reference` names (an id, an id prefix or a file name) in one store transaction, after
    /// applying the changes other processes made (so that the reference is resolved against the newest documents),
    /// and applies the removal.
    func commitRemoval(of reference: String) async throws -> DocumentRecord {
        try checkWritable()
        return try await writes.withPermit { () async throws -> DocumentRecord in
            _ = try await applyChanges(upTo: nil)
            let matches = collection.documents(matching: reference)
            guard matches.count == 1, let match = matches.first else {
                throw EngineError(
                    .documentNotFound,
                    matches.isEmpty
                        ? "no document matches '\(reference)'"
                        : "'\(reference)' matches \(matches.count) documents; use the document id")
            }
            try Task.checkCancellation()
            guard let outcome = try await store.remove(match.id) else {
                throw EngineError(.documentNotFound, "no document matches '\(reference)'")
            }
            _ = try await applyChanges(upTo: outcome.version - 1)
            let published = updateSnapshot(removes: true) { collection in
                collection.remove(match.id)
                collection.generation = outcome.version
            }
            metrics.collectionChangesApplied.increment()
            publishSize(published)
            return outcome.record
        }
    }
}

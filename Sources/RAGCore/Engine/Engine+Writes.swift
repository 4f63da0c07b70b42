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
            let header = CollectionHeader(embedderID: embedder.identifier, dimension: embedder.dimension)
            guard let outcome = try await write(header, configuration.maxCollectionChunks) else { return nil }
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

import Foundation
import Synchronization

/// A `CollectionStore` in memory: the store of an engine without a collection directory, and the twin that the
/// store tests run beside the database stores. It keeps what a database keeps (documents in the order they were
/// added, and the change log), so it answers exactly as they do.
package final class MemoryCollectionStore: CollectionStore {
    private struct State {
        var header: CollectionHeader?
        /// Documents in the order they were added, each with the version that added it.
        var documents: [(version: UInt64, document: StoredDocument)] = []
        var log: [CollectionChange] = []
        var version: UInt64 { log.last?.version ?? 0 }

        mutating func append(_ id: DocumentID, _ kind: CollectionChange.Kind) -> UInt64 {
            let version = self.version + 1
            log.append(CollectionChange(version: version, documentID: id, kind: kind))
            return version
        }
    }

    private let state = Mutex(State())

    package init() {}

    package var location: String { "memory" }

    package func header() async throws(CollectionError) -> CollectionHeader? { state.withLock { $0.header } }

    package func loadSnapshot() async throws(CollectionError) -> CollectionSnapshot? {
        state.withLock { state -> CollectionSnapshot? in
            guard let header = state.header else { return nil }
            var collection = DocumentCollection(embedderID: header.embedderID, dimension: header.dimension)
            for (_, stored) in state.documents {
                collection.add(stored.record, chunks: stored.chunks, normalizedVectors: stored.vectors, terms: stored.terms)
            }
            collection.generation = state.version
            return CollectionSnapshot(collection: collection, version: state.version)
        }
    }

    package func currentVersion() async throws(CollectionError) -> UInt64 { state.withLock { $0.version } }

    package func add(_ document: StoredDocument, header: CollectionHeader, maxChunks: Int) async throws(CollectionError) -> AddOutcome {
        try state.withLock { state throws(CollectionError) -> AddOutcome in
            if let existing = state.header, existing != header {
                throw CollectionError(
                    .embedderMismatch,
                    "the collection was built with embedder \(existing.embedderID) (\(existing.dimension) dimensions), not \(header.embedderID)")
            }
            let record = document.record
            if let existing = state.documents.first(where: { $0.document.record.contentHash == record.contentHash }) {
                return .unchanged(existing.document.record)
            }
            let replaced = record.sourcePath.map { path in state.documents.filter { $0.document.record.sourcePath == path } } ?? []
            let kept = state.documents.reduce(0) { $0 + $1.document.chunks.count } - replaced.reduce(0) { $0 + $1.document.chunks.count }
            if maxChunks > 0, kept + document.chunks.count > maxChunks { return .overQuota(chunks: kept) }
            state.header = header
            let first = state.version + 1
            let replacedIDs = replaced.map(\.document.record.id)
            for id in replacedIDs {
                state.documents.removeAll { $0.document.record.id == id }
                _ = state.append(id, .removed)
            }
            let version = state.append(record.id, .added(document))
            state.documents.append((version, document))
            return .added(replaced: replacedIDs, firstChange: first, version: version)
        }
    }

    package func remove(_ id: DocumentID) async throws(CollectionError) -> RemoveOutcome? {
        state.withLock { state -> RemoveOutcome? in
            guard let position = state.documents.firstIndex(where: { $0.document.record.id == id }) else { return nil }
            let record = state.documents.remove(at: position).document.record
            return RemoveOutcome(record: record, version: state.append(id, .removed))
        }
    }

    package func changes(after version: UInt64, limit: Int) async throws(CollectionError) -> [CollectionChange] {
        state.withLock { state in
            let live = Set(state.documents.map(\.version))
            return state.log.lazy.filter { $0.version > version }.prefix(max(0, limit)).map { change in
                guard case .added = change.kind, !live.contains(change.version) else { return change }
                return CollectionChange(version: change.version, documentID: change.documentID, kind: .added(nil))
            }
        }
    }
}

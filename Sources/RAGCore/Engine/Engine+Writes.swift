import Foundation
import Logging
import Prometheus
import Synchronization

/// The write protocol: one writer at a time in this process (`writes`) and across processes (`CollectionLock`), a
/// writer that finds a newer collection on disk applies its change to that one, the save is atomic, and readers see
/// the new snapshot only once it is saved. (The SQL store issue replaces this file-based protocol.)
extension Engine {
    /// Runs a write: serialised with other writes in this process and, through a file lock, with other processes;
    /// reloads the collection first if another process saved it; saves and publishes the result when `body`
    /// returns true.
    func mutate(_ body: (inout DocumentCollection) async throws -> Bool) async throws {
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
            // A write whose caller gave up (an upload whose client left, past its timeout) is not committed.
            try Task.checkCancellation()
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
}

import Foundation
import Logging
import Prometheus
import Synchronization

/// The write protocol: one writer at a time in this process (`writes`) and across processes (`CollectionLock`), a
/// writer that finds a newer collection on disk applies its change to that one, the save is atomic, and readers see
/// the new snapshot only once it is saved. (The SQL store issue replaces this file-based protocol.)
extension Engine {
    /// What a read-only engine answers to a write.
    static let readOnlyError = EngineError(
        .readOnly, "this engine is read-only: the collection is written by a separate ingestion job")

    /// Throws `readOnly` when this engine may not write: writers call it before they read or embed anything.
    func checkWritable() throws(EngineError) {
        guard !configuration.readOnly else { throw Engine.readOnlyError }
    }

    /// Runs a write: serialised with other writes in this process and, through a file lock, with other processes;
    /// reloads the collection first if another process saved it; saves and publishes the result when `body`
    /// returns true.
    ///
    /// Every other writer waits while `body` runs, so it only changes the collection: slow work (loading, chunking,
    /// embedding) happens before, outside the lock (`Engine.prepare`).
    func mutate(_ body: (inout DocumentCollection) async throws -> Bool) async throws {
        try checkWritable()
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
                let (saved, orphans) = try await Engine.offload { () throws(CollectionError) in
                    // Under the lock, before the save needs the room they take.
                    let orphans = store.removeOrphanedTemporaryFiles()
                    var saving = unsaved
                    try store.save(&saving)
                    return (saving, orphans)
                }
                logRemoved(orphans, from: store)
                collection = saved
            }
            let published = collection
            current.withLock { $0 = published }
            publishSize(published)
        }
    }

    /// Removes the temporary files of interrupted saves (`CollectionStore.removeOrphanedTemporaryFiles()`) when a
    /// writable engine opens a collection, if the lock is free at once; otherwise the writer holding it, or this
    /// engine's first save, removes them. Never waits and never fails: opening does not depend on it.
    func removeOrphanedTemporaryFilesIfUnlocked() {
        guard !configuration.readOnly, let store, let lock = CollectionLock.ifFree(store: store) else { return }
        defer { lock.unlock() }
        logRemoved(store.removeOrphanedTemporaryFiles(), from: store)
    }

    private func logRemoved(_ names: [String], from store: CollectionStore) {
        for name in names {
            logger.info(
                "removed the temporary file of an interrupted save",
                metadata: ["rag.collection.file": "\(store.directory.appendingPathComponent(name).path)"])
        }
    }
}

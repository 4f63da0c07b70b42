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
        var jobs: [DocumentID: QueuedJob] = [:]
        /// Job ids in the order they were queued.
        var jobOrder: [DocumentID] = []
        var version: UInt64 { log.last?.version ?? 0 }

        mutating func append(_ id: DocumentID, _ kind: CollectionChange.Kind) -> UInt64 {
            let version = self.version + 1
            log.append(CollectionChange(version: version, documentID: id, kind: kind))
            return version
        }
    }

    private struct QueuedJob {
        var job: IngestJob
        var bytes: Data
        var worker: String?
        var leaseUntil: Date?
        var notBefore: Date?
    }

    private let state = Mutex(State())

    package init() {}

    package var location: String { "memory" }

    package func header() async throws(CollectionError) -> CollectionHeader? { state.withLock { $0.header } }

    package func loadSnapshot() async throws(CollectionError) -> CollectionSnapshot? {
        state.withLock { state -> CollectionSnapshot? in
            guard let header = state.header else { return nil }
            var collection = DocumentCollection(embedderID: header.embedderID, dimension: header.dimension, storage: header.vectorStorage)
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
            if let existing = state.header, !existing.sameEmbedder(as: header) {
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
            let header = state.header ?? header  // the collection's storage, once it has one
            state.header = header
            let first = state.version + 1
            let replacedIDs = replaced.map(\.document.record.id)
            for id in replacedIDs {
                state.documents.removeAll { $0.document.record.id == id }
                _ = state.append(id, .removed)
            }
            // The vectors as a database store reads them back, rounded to its storage format.
            var stored = document
            stored.vectors = header.vectorStorage.roundTrip(normalizedRows: document.vectors, dimension: header.dimension)
            var logged = stored
            logged.source = nil  // changes never carry the bytes, as in the database stores
            let version = state.append(record.id, .added(logged))
            state.documents.append((version, stored))
            return .added(replaced: replacedIDs, firstChange: first, version: version)
        }
    }

    package func remove(_ id: DocumentID) async throws(CollectionError) -> RemoveOutcome? {
        state.withLock { state -> RemoveOutcome? in
            guard let position = state.documents.firstIndex(where: { $0.document.record.id == id }) else { return nil }
            let record = state.documents.remove(at: position).document.record
            state.jobs[id] = nil
            state.jobOrder.removeAll { $0 == id }
            return RemoveOutcome(record: record, version: state.append(id, .removed))
        }
    }

    package func convertVectors(to format: VectorFormat) async throws(CollectionError) -> UInt64? {
        state.withLock { state -> UInt64? in
            guard let header = state.header, header.vectorStorage != format else { return nil }
            for position in state.documents.indices {
                state.documents[position].document.vectors = format.roundTrip(
                    normalizedRows: state.documents[position].document.vectors, dimension: header.dimension)
            }
            state.header?.vectorStorage = format
            return state.append(DocumentID(rawValue: format.rawValue), .storage(format))
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

    package func source(of id: DocumentID) async throws(CollectionError) -> Data? {
        state.withLock { state in state.documents.first { $0.document.record.id == id }?.document.source }
    }
}

extension MemoryCollectionStore: IngestQueue {
    package func enqueue(id: DocumentID, fileName: String, bytes: Data) async throws(CollectionError) -> IngestJob {
        state.withLock { state in
            let inCollection = state.documents.contains { $0.document.record.id == id }
            if let existing = state.jobs[id]?.job {
                switch existing.state {
                case .queued, .processing: return existing
                case .ready where inCollection: return existing
                case .ready, .failed: break
                }
            }
            let now = Date()
            let job = IngestJob(
                id: id, fileName: fileName, byteCount: bytes.count, state: inCollection ? .ready : .queued,
                indexVersion: inCollection ? state.version : nil, createdAt: now, updatedAt: now)
            state.jobs[id] = QueuedJob(job: job, bytes: bytes)
            state.jobOrder.removeAll { $0 == id }
            state.jobOrder.append(id)
            return job
        }
    }

    package func claimJob(worker: String, lease: Duration, maxAttempts: Int) async throws(CollectionError) -> ClaimedJob? {
        state.withLock { state -> ClaimedJob? in
            let now = Date()
            for id in state.jobOrder {
                guard var queued = state.jobs[id] else { continue }
                switch queued.job.state {
                case .queued where queued.notBefore.map { $0 <= now } ?? true:
                    break
                case .processing where queued.leaseUntil.map { $0 < now } ?? true:
                    if queued.job.attempts >= maxAttempts {
                        queued.job.state = .failed
                        queued.job.error = .workerLost(attempts: queued.job.attempts)
                        queued.worker = nil
                        queued.job.updatedAt = now
                        state.jobs[id] = queued
                        continue
                    }
                default:
                    continue
                }
                queued.job.state = .processing
                queued.job.attempts += 1
                queued.job.updatedAt = now
                queued.worker = worker
                queued.leaseUntil = now.addingTimeInterval(lease.seconds)
                queued.notBefore = nil
                state.jobs[id] = queued
                return ClaimedJob(job: queued.job, bytes: queued.bytes, worker: worker, attempt: queued.job.attempts)
            }
            return nil
        }
    }

    package func renewLease(_ claim: ClaimedJob, lease: Duration) async throws(CollectionError) -> Bool {
        updateClaimed(claim) { queued, now in queued.leaseUntil = now.addingTimeInterval(lease.seconds) }
    }

    package func completeJob(_ claim: ClaimedJob, document: StoredDocument, header: CollectionHeader, maxChunks: Int)
        async throws(CollectionError) -> JobCompletion
    {
        guard updateClaimed(claim, { _, _ in }) else { return .lostClaim }
        let outcome = try await add(document, header: header, maxChunks: maxChunks)
        let version: UInt64
        switch outcome {
        case .overQuota: return .completed(outcome)
        case .added(_, _, let added): version = added
        case .unchanged: version = state.withLock { $0.version }
        }
        _ = updateClaimed(claim) { queued, _ in
            queued.job.state = .ready
            queued.job.error = nil
            queued.job.indexVersion = version
            queued.worker = nil
            if case .added = outcome, document.source != nil { queued.bytes = Data() }  // its source keeps them now
        }
        return .completed(outcome)
    }

    package func failJob(_ claim: ClaimedJob, error: IngestJobError) async throws(CollectionError) -> Bool {
        updateClaimed(claim) { queued, _ in
            queued.job.state = .failed
            queued.job.error = error
            queued.worker = nil
        }
    }

    package func releaseJob(_ claim: ClaimedJob, retryAfter delay: Duration) async throws(CollectionError) -> Bool {
        updateClaimed(claim) { queued, now in
            queued.job.state = .queued
            queued.worker = nil
            queued.notBefore = now.addingTimeInterval(delay.seconds)
        }
    }

    package func job(_ id: DocumentID) async throws(CollectionError) -> IngestJob? { state.withLock { $0.jobs[id]?.job } }

    package func heldBytes(of id: DocumentID) async throws(CollectionError) -> Int {
        state.withLock { $0.jobs[id]?.bytes.count ?? 0 }
    }

    package func queueDepth() async throws(CollectionError) -> QueueDepth {
        state.withLock { state in
            let jobs = state.jobs.values.map(\.job.state)
            return QueueDepth(queued: jobs.filter { $0 == .queued }.count, processing: jobs.filter { $0 == .processing }.count)
        }
    }

    /// Applies `update` to the job if `claim` still holds (the memory store's add is a separate step: one process,
    /// one engine, whose writes are serialised by the engine).
    private func updateClaimed(_ claim: ClaimedJob, _ update: (inout QueuedJob, Date) -> Void) -> Bool {
        state.withLock { state in
            guard var queued = state.jobs[claim.job.id], queued.job.state == .processing, queued.worker == claim.worker,
                queued.job.attempts == claim.attempt
            else { return false }
            let now = Date()
            update(&queued, now)
            queued.job.updatedAt = now
            state.jobs[claim.job.id] = queued
            return true
        }
    }
}

import Foundation

/// Ingestion as queued work, kept in the collection's store: an upload is stored (its original bytes, so that it can
/// be processed again) as a job, and workers (any number, in any process) claim jobs, process them and commit the
/// document and the job's outcome in one transaction.
///
/// A job's id is the id of the document it makes (derived from the bytes' SHA-256), so the same upload twice is one
/// job, and its status is found by the document id. A claim is a lease: a worker renews it while it works, and a
/// worker that dies leaves the job to be claimed again once the lease has run out. Completing checks that the claim
/// still holds (same worker, same attempt), so a worker that was presumed dead cannot add the document a second time;
/// the store's content-hash check is a second guard. A job whose worker died `maxAttempts` times fails, so that a
/// document that kills its worker cannot kill the workers forever.
package protocol IngestQueue: Sendable {
    /// Stores an upload as a queued job and returns it. The same bytes queued, in progress or ready return that job
    /// unchanged (`ready` at once when the collection already holds the document); a failed job with the same bytes
    /// is queued again.
    func enqueue(id: DocumentID, fileName: String, bytes: Data) async throws(CollectionError) -> IngestJob

    /// Claims the oldest job that is queued (and not waiting to be retried), or whose worker's lease ran out, for
    /// `worker`, for `lease`. `nil` when there is none.
    func claimJob(worker: String, lease: Duration, maxAttempts: Int) async throws(CollectionError) -> ClaimedJob?

    /// Extends the claim's lease; `false` when the claim no longer holds (another worker has the job now).
    func renewLease(_ claim: ClaimedJob, lease: Duration) async throws(CollectionError) -> Bool

    /// In one transaction: if the claim still holds, adds the document as `CollectionStore.add` does and records the
    /// job's outcome (`ready` with the version holding the document; `failed` over the chunk quota).
    func completeJob(_ claim: ClaimedJob, document: StoredDocument, header: CollectionHeader, maxChunks: Int)
        async throws(CollectionError) -> JobCompletion

    /// Records that the job failed for good (a bad document), if the claim still holds.
    func failJob(_ claim: ClaimedJob, error: IngestJobError) async throws(CollectionError) -> Bool

    /// Gives the job back to the queue, to be retried after `delay` (the work failed for a reason that may pass: the
    /// database, the embedder), if the claim still holds.
    func releaseJob(_ claim: ClaimedJob, retryAfter delay: Duration) async throws(CollectionError) -> Bool

    /// The job whose document has this id, or `nil`.
    func job(_ id: DocumentID) async throws(CollectionError) -> IngestJob?

    /// How many jobs wait and how many are being processed, across every worker.
    func queueDepth() async throws(CollectionError) -> QueueDepth

    /// How many bytes of the upload the job `id` still holds: all of them while it waits or fails, none once the
    /// collection has added its PDF (whose bytes the collection keeps as the document's source, so not twice).
    func heldBytes(of id: DocumentID) async throws(CollectionError) -> Int
}

/// An upload queued for ingestion, and what became of it.
public struct IngestJob: Sendable, Hashable {
    public enum State: String, Sendable, Hashable, CaseIterable {
        case queued, processing, ready, failed
    }

    /// The id of the document the job makes (its bytes' SHA-256 prefix).
    public var id: DocumentID
    public var fileName: String
    public var byteCount: Int
    public var state: State
    /// How many times a worker has claimed it.
    public var attempts: Int
    /// Why it failed (`failed`), or why its last attempt did not finish (`queued` again).
    public var error: IngestJobError?
    /// Once `ready`: the collection version (`index_version`) that holds the document.
    public var indexVersion: UInt64?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: DocumentID, fileName: String, byteCount: Int, state: State, attempts: Int = 0, error: IngestJobError? = nil,
        indexVersion: UInt64? = nil, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.fileName = fileName
        self.byteCount = byteCount
        self.state = state
        self.attempts = attempts
        self.error = error
        self.indexVersion = indexVersion
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// Why a job failed: a stable code (`encrypted`, `no_text`, `collection_quota_exceeded`, `worker_lost`, …) and one
/// line for a person.
public struct IngestJobError: Sendable, Hashable, Codable {
    public var code: String
    public var message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
}

/// A job claimed by a worker: the job, its bytes, and the claim (worker and attempt) that completing it checks.
package struct ClaimedJob: Sendable {
    package var job: IngestJob
    package var bytes: Data
    package var worker: String
    /// The job's `attempts` when this worker claimed it: the claim holds while they are unchanged.
    package var attempt: Int

    package init(job: IngestJob, bytes: Data, worker: String, attempt: Int) {
        self.job = job
        self.bytes = bytes
        self.worker = worker
        self.attempt = attempt
    }
}

/// What `IngestQueue.completeJob` did.
package enum JobCompletion: Sendable {
    /// The claim held: the document was added (or its content was there already, or it was over the quota) as
    /// `CollectionStore.add` says, and the job records it.
    case completed(AddOutcome)
    /// The claim no longer holds (its lease ran out and another worker took the job): nothing changed.
    case lostClaim
}

/// Jobs waiting and in progress.
public struct QueueDepth: Sendable, Hashable {
    public var queued: Int
    public var processing: Int

    public init(queued: Int, processing: Int) {
        self.queued = queued
        self.processing = processing
    }
}

extension IngestJobError {
    /// A job whose worker stopped (killed, crashed) during it `attempts` times.
    static func workerLost(attempts: Int) -> IngestJobError {
        IngestJobError(
            code: "worker_lost",
            message: "the worker stopped while processing this document \(attempts) times (it may crash on this document); it was not retried again")
    }
}

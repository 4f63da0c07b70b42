import Foundation
import Logging
import Prometheus

/// Ingestion as queued work (`IngestQueue`): `enqueue` stores an upload and returns at once; `processNextJob`, called
/// by workers in any process sharing the store, claims one job, processes it and commits the document and the job's
/// outcome together. `waitForIndexVersion` is the read-your-writes side: a request that names the version holding
/// its write waits until this engine has applied it.
extension Engine {
    /// Queues an upload for ingestion and returns its job, whose id is the document's. The same bytes already queued,
    /// in progress or in the collection return that job (`ready` when the collection holds them).
    ///
    /// - Throws: `EngineError.readOnly`, `DocumentError.tooLarge` over the extraction byte limit, `CollectionError`
    ///   when the upload cannot be stored (nothing is queued).
    public func enqueue(data: Data, fileName: String) async throws -> IngestJob {
        try checkWritable()
        let limit = configuration.extraction.maxBytes
        guard data.count <= limit else {
            throw DocumentError(code: .tooLarge, fileName: fileName, message: "the document is \(data.count) bytes; the limit is \(limit) bytes")
        }
        let id = DocumentID(contentHash: await Engine.offload { SHA256.hex(data) })
        let job: IngestJob
        do {
            job = try await queue.enqueue(id: id, fileName: fileName, bytes: data)
        } catch {
            if error.code == .unavailable { noteStore(reachable: false, error: error) }
            throw error
        }
        logger.info("document queued", metadata: ["rag.document.id": "\(id)", "rag.job.state": "\(job.state.rawValue)"])
        return job
    }

    /// The ingestion job for the document `id`, or `nil` when there is none.
    public func job(_ id: DocumentID) async throws -> IngestJob? {
        try await queue.job(id)
    }

    /// How many jobs wait and how many are being processed, across every worker; also published as
    /// `rag_ingest_queue_depth`.
    public func queueDepth() async throws -> QueueDepth {
        let depth = try await queue.queueDepth()
        metrics.setQueueDepth(depth)
        return depth
    }

    /// Claims the oldest waiting job (or one whose worker's lease ran out), processes it (load, chunk, embed) while
    /// renewing its lease every third of `lease`, and commits the document and the job's outcome in one transaction.
    /// Returns the job as it ended, or `nil` when the queue had nothing to claim.
    ///
    /// A bad document (damaged, encrypted, over a limit, over the collection's quota) fails its job with the reason;
    /// a failure that may pass (the database, the embedder) gives the job back, to be retried after a pause, until
    /// `maxAttempts` claims. A job whose lease was lost meanwhile (this worker was presumed dead) commits nothing.
    public func processNextJob(worker: String, lease: Duration = .seconds(60), maxAttempts: Int = 3) async throws -> IngestJob? {
        try checkWritable()
        let queue = self.queue
        guard let claim = try await queue.claimJob(worker: worker, lease: lease, maxAttempts: maxAttempts) else { return nil }
        let id = claim.job.id
        let start = ContinuousClock.now
        var report = IngestReport()
        defer { if !report.added.isEmpty || !report.unchanged.isEmpty || !report.failed.isEmpty { record(report, started: start) } }
        let renewal = Task {
            while !Task.isCancelled {
                try await Task.sleep(for: lease / 3)
                guard (try? await queue.renewLease(claim, lease: lease)) ?? true else { return }
            }
        }
        defer { renewal.cancel() }
        logger.info(
            "processing queued document",
            metadata: ["rag.document.id": "\(id)", "rag.document.file": "\(claim.job.fileName)", "rag.job.attempt": "\(claim.attempt)"])
        do {
            let loader = configuration.documentLoader
            let bytes = claim.bytes
            let fileName = claim.job.fileName
            let document = try await Engine.offload { () throws(DocumentError) in try loader.load(data: bytes, fileName: fileName) }
            let prepared = try await prepare(document, sourcePath: nil)
            let indexed = try await commit(prepared) { header, maxChunks in
                switch try await queue.completeJob(claim, document: prepared, header: header, maxChunks: maxChunks) {
                case .lostClaim: nil
                case .completed(let outcome): outcome
                }
            }
            switch indexed {
            case .added(let record)?:
                report.added.append(record)
                metrics.ingestJobs(outcome: "ready").increment()
            case .unchanged(let record)?:
                report.unchanged.append(record)
                metrics.ingestJobs(outcome: "ready").increment()
            case nil:
                logger.warning("lost the claim on a job (its lease ran out); another worker has it", metadata: ["rag.document.id": "\(id)"])
            }
        } catch is CancellationError {
            _ = try? await queue.releaseJob(claim, retryAfter: .zero)
            metrics.ingestJobs(outcome: "retried").increment()
            throw CancellationError()
        } catch {
            let failure = Engine.jobError(for: error)
            if Engine.isPermanent(error) || claim.attempt >= maxAttempts {
                report.failed.append(.init(path: claim.job.fileName, error: error, reason: Engine.reason(for: error)))
                _ = try await queue.failJob(claim, error: failure)
                metrics.ingestJobs(outcome: "failed").increment()
                logger.warning("queued document failed", metadata: ["rag.document.id": "\(id)", "error": "\(error)"])
            } else {
                let pause = Duration.seconds(5 * claim.attempt)
                _ = try await queue.releaseJob(claim, retryAfter: pause)
                metrics.ingestJobs(outcome: "retried").increment()
                logger.warning(
                    "queued document will be retried", metadata: ["rag.document.id": "\(id)", "error": "\(error)", "rag.job.retry_in": "\(pause)"])
            }
        }
        return try await queue.job(id)
    }

    /// Waits until this engine has applied the collection version `wanted` (following the store's changes meanwhile),
    /// for at most `timeout`.
    ///
    /// - Throws: `EngineError.unknownIndexVersion` when the store's newest version is older than `wanted` (no write
    ///   returned it), `EngineError.indexBehind` when the wait ran out or the store could not be read.
    public func waitForIndexVersion(_ wanted: UInt64, timeout: Duration) async throws {
        guard collection.generation < wanted else { return }
        let deadline = ContinuousClock.now + timeout
        var pause = Duration.milliseconds(5)
        while true {
            let newest: UInt64
            do {
                newest = try await store.currentVersion()
                if newest >= wanted { try await follow() }
            } catch {
                throw EngineError(
                    .indexBehind,
                    "this replica has applied index version \(collection.generation), not \(wanted), and cannot read the database to catch up (\(error)); retry later")
            }
            if collection.generation >= wanted { return }
            guard newest >= wanted else {
                throw EngineError(
                    .unknownIndexVersion,
                    "index version \(wanted) does not exist: the newest is \(newest); use the index_version a write returned")
            }
            guard ContinuousClock.now + pause < deadline else {
                throw EngineError(
                    .indexBehind,
                    "this replica has applied index version \(collection.generation), not yet \(wanted), after waiting \(timeout); retry")
            }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(100))
        }
    }

    /// The store's queue. Every store of this package has one.
    var queue: any IngestQueue {
        guard let queue = store as? any IngestQueue else { preconditionFailure("\(type(of: store)) keeps no ingestion queue") }
        return queue
    }

    /// Whether a job that failed with `error` should fail for good rather than be retried.
    static func isPermanent(_ error: any Error) -> Bool {
        switch error {
        case is DocumentError, is EngineError: true
        case let error as CollectionError: error.code == .embedderMismatch || error.code == .corrupt
        default: false
        }
    }

    /// The code and message a failed job records.
    static func jobError(for error: any Error) -> IngestJobError {
        switch error {
        case let error as DocumentError: IngestJobError(code: error.code.metricLabel, message: error.description)
        case let error as EngineError where error.code == .collectionQuotaExceeded:
            IngestJobError(code: "collection_quota_exceeded", message: error.message)
        case let error as EngineError: IngestJobError(code: error.code.description, message: error.message)
        case let error as CollectionError:
            IngestJobError(code: error.code == .io ? "storage_error" : "collection_\(error.code)", message: error.message)
        default: IngestJobError(code: "internal", message: "\(error)")
        }
    }
}

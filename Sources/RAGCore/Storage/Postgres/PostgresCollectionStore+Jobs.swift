import Foundation
import Logging
import NIOCore
import NIOFoundationEssentialsCompat
import PostgresNIO

/// The ingestion queue in the `ingest_jobs` table (schema version 2), as `SQLiteCollectionStore+Jobs.swift` keeps it
/// and with the same semantics; many workers on many machines claim jobs at once with `FOR UPDATE SKIP LOCKED`, so a
/// claim never waits for another worker's. Times are the database server's (`now()`), so the workers' clocks do not
/// matter. A claim is checked under the job row's lock (`FOR UPDATE`) in every transaction that acts on it.
extension PostgresCollectionStore: IngestQueue {
    package func enqueue(id: DocumentID, fileName: String, bytes: Data) async throws(CollectionError) -> IngestJob {
        let logger = self.logger
        let payload = ByteBuffer(data: bytes)
        return try await transaction(failure: "the upload could not be queued") { [self] connection async throws -> IngestJob in
            var inCollection = false
            for try await _ in try await connection.query("SELECT 1 FROM documents WHERE id = \(id.rawValue)", logger: logger) {
                inCollection = true
            }
            let existing = try await job(id, connection, lock: true)
            if let existing {
                switch existing.state {
                case .queued, .processing: return existing
                case .ready where inCollection: return existing
                case .ready, .failed: break  // removed since, or failed: queue it again
                }
            }
            let state = inCollection ? "ready" : "queued"
            let version: Int64? = inCollection ? try await version(connection) : nil
            if existing == nil {
                // A concurrent enqueue of the same bytes may insert first: then this one returns that job.
                try await connection.run(
                    """
                    INSERT INTO ingest_jobs (id, file_name, byte_count, bytes, state, index_version)
                    VALUES (\(id.rawValue), \(fileName), \(bytes.count), \(payload), \(state), \(version))
                    ON CONFLICT (id) DO NOTHING
                    """, logger: logger)
            } else {
                try await connection.run(
                    """
                    UPDATE ingest_jobs SET file_name = \(fileName), byte_count = \(bytes.count), bytes = \(payload), state = \(state),
                    attempts = 0, worker = NULL, lease_until = NULL, not_before = NULL, error_code = NULL, error_message = NULL,
                    index_version = \(version), created_at = now(), updated_at = now()
                    WHERE id = \(id.rawValue)
                    """, logger: logger)
            }
            guard let job = try await job(id, connection, lock: false) else { throw damaged("a queued upload vanished") }
            return job
        }
    }

    package func claimJob(worker: String, lease: Duration, maxAttempts: Int) async throws(CollectionError) -> ClaimedJob? {
        let logger = self.logger
        let seconds = lease.seconds
        return try await transaction(failure: "cannot claim a queued upload") { [self] connection async throws -> ClaimedJob? in
            // Jobs whose workers died too often fail for good.
            let stuck = try await connection.query(
                """
                SELECT id, attempts FROM ingest_jobs WHERE state = 'processing' AND lease_until < now() AND attempts >= \(maxAttempts)
                FOR UPDATE SKIP LOCKED
                """, logger: logger)
            var lost: [(String, Int)] = []
            for try await (id, attempts) in stuck.decode((String, Int).self) { lost.append((id, attempts)) }
            for (id, attempts) in lost {
                let error = IngestJobError.workerLost(attempts: attempts)
                try await connection.run(
                    """
                    UPDATE ingest_jobs SET state = 'failed', worker = NULL, lease_until = NULL, error_code = \(error.code),
                    error_message = \(error.message), updated_at = now() WHERE id = \(id)
                    """, logger: logger)
            }
            let rows = try await connection.query(
                """
                UPDATE ingest_jobs SET state = 'processing', attempts = attempts + 1, worker = \(worker),
                lease_until = now() + make_interval(secs => \(seconds)), not_before = NULL, updated_at = now()
                WHERE id = (
                    SELECT id FROM ingest_jobs
                    WHERE (state = 'queued' AND (not_before IS NULL OR not_before <= now()))
                       OR (state = 'processing' AND lease_until < now())
                    ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
                RETURNING id, bytes
                """, logger: logger)
            var claimed: (String, ByteBuffer)? = nil
            for try await (id, bytes) in rows.decode((String, ByteBuffer).self) { claimed = (id, bytes) }
            guard let (id, bytes) = claimed, let job = try await job(DocumentID(rawValue: id), connection, lock: false) else { return nil }
            return ClaimedJob(job: job, bytes: Data(buffer: bytes), worker: worker, attempt: job.attempts)
        }
    }

    package func renewLease(_ claim: ClaimedJob, lease: Duration) async throws(CollectionError) -> Bool {
        let seconds = lease.seconds
        return try await updateClaimed(claim) { connection, logger in
            try await connection.run(
                """
                UPDATE ingest_jobs SET lease_until = now() + make_interval(secs => \(seconds)), updated_at = now()
                WHERE id = \(claim.job.id.rawValue)
                """, logger: logger)
        }
    }

    package func completeJob(_ claim: ClaimedJob, document: StoredDocument, header: CollectionHeader, maxChunks: Int)
        async throws(CollectionError) -> JobCompletion
    {
        let logger = self.logger
        let json = try encodeRecord(document.record)
        return try await transaction(failure: "the collection could not be saved") { [self] connection async throws -> JobCompletion in
            // The collection lock first, as every writer takes it, then the job's row.
            let existingHeader = try await lockCollection(connection)
            guard try await holds(claim, connection) else { return .lostClaim }
            let outcome = try await add(document, json: json, header: header, existingHeader: existingHeader, maxChunks: maxChunks, connection)
            let version: Int64
            switch outcome {
            case .overQuota: return .completed(outcome)  // the caller fails the job with the engine's message
            case .added(_, _, let added): version = Int64(added)
            case .unchanged: version = try await self.version(connection)
            }
            try await connection.run(
                """
                UPDATE ingest_jobs SET state = 'ready', worker = NULL, lease_until = NULL, error_code = NULL, error_message = NULL,
                index_version = \(version), updated_at = now() WHERE id = \(claim.job.id.rawValue)
                """, logger: logger)
            if case .added = outcome, document.source != nil {
                // The PDF's bytes are in `document_sources` now: the database need not hold them twice.
                try await connection.run("UPDATE ingest_jobs SET bytes = ''::bytea WHERE id = \(claim.job.id.rawValue)", logger: logger)
            }
            return .completed(outcome)
        }
    }

    package func failJob(_ claim: ClaimedJob, error: IngestJobError) async throws(CollectionError) -> Bool {
        try await updateClaimed(claim) { connection, logger in
            try await connection.run(
                """
                UPDATE ingest_jobs SET state = 'failed', worker = NULL, lease_until = NULL, error_code = \(error.code),
                error_message = \(error.message), updated_at = now() WHERE id = \(claim.job.id.rawValue)
                """, logger: logger)
        }
    }

    package func releaseJob(_ claim: ClaimedJob, retryAfter delay: Duration) async throws(CollectionError) -> Bool {
        let seconds = delay.seconds
        return try await updateClaimed(claim) { connection, logger in
            try await connection.run(
                """
                UPDATE ingest_jobs SET state = 'queued', worker = NULL, lease_until = NULL,
                not_before = now() + make_interval(secs => \(seconds)), updated_at = now() WHERE id = \(claim.job.id.rawValue)
                """, logger: logger)
        }
    }

    package func job(_ id: DocumentID) async throws(CollectionError) -> IngestJob? {
        try await withConnection(failure: "cannot read the ingestion queue") { [self] connection async throws -> IngestJob? in
            try await job(id, connection, lock: false)
        }
    }

    package func heldBytes(of id: DocumentID) async throws(CollectionError) -> Int {
        let logger = self.logger
        return try await withConnection(failure: "cannot read the ingestion queue") { connection async throws -> Int in
            for try await (count) in try await connection.query(
                "SELECT octet_length(bytes) FROM ingest_jobs WHERE id = \(id.rawValue)", logger: logger
            ).decode(Int.self) {
                return count
            }
            return 0
        }
    }

    package func queueDepth() async throws(CollectionError) -> QueueDepth {
        let logger = self.logger
        return try await withConnection(failure: "cannot read the ingestion queue") { [self] connection async throws -> QueueDepth in
            var depth = QueueDepth(queued: 0, processing: 0)
            let rows = try await connection.query(
                "SELECT state, count(*)::bigint FROM ingest_jobs WHERE state IN ('queued', 'processing') GROUP BY state", logger: logger)
            for try await (state, count) in rows.decode((String, Int64).self) {
                if state == "queued" { depth.queued = Int(count) } else { depth.processing = Int(count) }
            }
            return depth
        }
    }

    // MARK: Rows

    /// Runs `update` in a transaction if `claim` still holds (the job's row locked meanwhile); returns whether it did.
    private func updateClaimed(
        _ claim: ClaimedJob, _ update: @escaping @Sendable (PostgresConnection, Logger) async throws -> Void
    ) async throws(CollectionError) -> Bool {
        let logger = self.logger
        return try await transaction(failure: "cannot update a queued upload") { [self] connection async throws -> Bool in
            guard try await holds(claim, connection) else { return false }
            try await update(connection, logger)
            return true
        }
    }

    /// Whether the job is still processing under this claim (same worker, same attempt); locks its row.
    func holds(_ claim: ClaimedJob, _ connection: PostgresConnection) async throws -> Bool {
        var holds = false
        let rows = try await connection.query(
            """
            SELECT 1 FROM ingest_jobs WHERE id = \(claim.job.id.rawValue) AND state = 'processing' AND worker = \(claim.worker)
            AND attempts = \(claim.attempt) FOR UPDATE
            """, logger: logger)
        for try await _ in rows { holds = true }
        return holds
    }

    /// The job, its row locked (`FOR UPDATE`) when `lock`.
    func job(_ id: DocumentID, _ connection: PostgresConnection, lock: Bool) async throws -> IngestJob? {
        let rows =
            lock
            ? try await connection.query(
                """
                SELECT id, file_name, byte_count, state, attempts, error_code, error_message, index_version, created_at, updated_at
                FROM ingest_jobs WHERE id = \(id.rawValue) FOR UPDATE
                """, logger: logger)
            : try await connection.query(
                """
                SELECT id, file_name, byte_count, state, attempts, error_code, error_message, index_version, created_at, updated_at
                FROM ingest_jobs WHERE id = \(id.rawValue)
                """, logger: logger)
        var job: IngestJob? = nil
        for try await row in rows {
            let (jobID, fileName, byteCount, state, attempts, errorCode, errorMessage, indexVersion, created, updated) = try row.decode(
                (String, String, Int, String, Int, String?, String?, Int64?, Date, Date).self)
            guard let state = IngestJob.State(rawValue: state) else { throw damaged("a job's state is unknown") }
            job = IngestJob(
                id: DocumentID(rawValue: jobID), fileName: fileName, byteCount: byteCount, state: state, attempts: attempts,
                error: errorCode.map { IngestJobError(code: $0, message: errorMessage ?? "") },
                indexVersion: indexVersion.map { UInt64(clamping: $0) }, createdAt: created, updatedAt: updated)
        }
        return job
    }
}

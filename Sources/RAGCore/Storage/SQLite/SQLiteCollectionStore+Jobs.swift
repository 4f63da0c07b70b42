import Foundation

/// The ingestion queue in the `ingest_jobs` table (schema version 2): one row per upload, keyed by the document id,
/// with the upload's bytes. Every change is one `BEGIN IMMEDIATE` transaction, so claims from several processes are
/// serialised by SQLite's write lock. Times are seconds since 1970 from this machine's clock: every process that
/// shares a SQLite database runs on the same machine.
extension SQLiteCollectionStore: IngestQueue {
    package func enqueue(id: DocumentID, fileName: String, bytes: Data) async throws(CollectionError) -> IngestJob {
        try checkWritable()
        let payload = [UInt8](bytes)
        return try await withConnection(create: true) { db throws(CollectionError) in
            try Self.saving(db) { () throws(CollectionError) -> IngestJob in
                let now = Date().timeIntervalSince1970
                let inCollection = try db.queryInt("SELECT count(*) FROM documents WHERE id = ?", [.text(id.rawValue)]) ?? 0 > 0
                if let job = try Self.job(id, db) {
                    switch job.state {
                    case .queued, .processing: return job
                    case .ready where inCollection: return job
                    case .ready, .failed: break  // removed since, or failed: queue it again
                    }
                }
                let version = inCollection ? try Self.version(db) : nil
                try db.run("DELETE FROM ingest_jobs WHERE id = ?", [.text(id.rawValue)])
                let insert = try db.prepare(
                    """
                    INSERT INTO ingest_jobs (id, file_name, byte_count, state, index_version, created_at, updated_at, bytes)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """)
                try insert.bind([
                    .text(id.rawValue), .text(fileName), .integer(Int64(payload.count)), .text(inCollection ? "ready" : "queued"),
                    version.map { .integer(Int64($0)) } ?? .null, .real(now), .real(now),
                ])
                try insert.run(binding: payload, at: 8)
                return try Self.job(id, db)!
            }
        }!
    }

    package func claimJob(worker: String, lease: Duration, maxAttempts: Int) async throws(CollectionError) -> ClaimedJob? {
        try checkWritable()
        return try await withConnection(create: false) { db throws(CollectionError) -> ClaimedJob? in
            try Self.saving(db) { () throws(CollectionError) -> ClaimedJob? in
                let now = Date().timeIntervalSince1970
                while true {
                    var found: (id: String, attempts: Int64, state: String)? = nil
                    try db.query(
                        """
                        SELECT id, attempts, state FROM ingest_jobs
                        WHERE (state = 'queued' AND (not_before IS NULL OR not_before <= ?))
                           OR (state = 'processing' AND lease_until < ?)
                        ORDER BY created_at, id LIMIT 1
                        """, [.real(now), .real(now)]
                    ) { (row: SQLiteStatement) throws(CollectionError) in
                        found = (row.text(0) ?? "", row.int64(1), row.text(2) ?? "")
                    }
                    guard let found else { return nil }
                    if found.state == "processing", found.attempts >= Int64(maxAttempts) {
                        let error = IngestJobError.workerLost(attempts: Int(found.attempts))
                        try db.run(
                            """
                            UPDATE ingest_jobs SET state = 'failed', worker = NULL, lease_until = NULL, error_code = ?,
                            error_message = ?, updated_at = ? WHERE id = ?
                            """, [.text(error.code), .text(error.message), .real(now), .text(found.id)])
                        continue
                    }
                    try db.run(
                        """
                        UPDATE ingest_jobs SET state = 'processing', attempts = attempts + 1, worker = ?, lease_until = ?,
                        not_before = NULL, updated_at = ? WHERE id = ?
                        """, [.text(worker), .real(now + lease.seconds), .real(now), .text(found.id)])
                    let id = DocumentID(rawValue: found.id)
                    guard let job = try Self.job(id, db) else { return nil }
                    var bytes = Data()
                    try db.query("SELECT bytes FROM ingest_jobs WHERE id = ?", [.text(found.id)]) { (row: SQLiteStatement) throws(CollectionError) in
                        bytes = try row.blob(0) { (raw: UnsafeRawBufferPointer) throws(CollectionError) in Data(raw) }
                    }
                    return ClaimedJob(job: job, bytes: bytes, worker: worker, attempt: job.attempts)
                }
            }
        } ?? nil
    }

    package func renewLease(_ claim: ClaimedJob, lease: Duration) async throws(CollectionError) -> Bool {
        try await updateClaimed(claim) { db, now throws(CollectionError) in
            try db.run(
                "UPDATE ingest_jobs SET lease_until = ?, updated_at = ? WHERE id = ?",
                [.real(now + lease.seconds), .real(now), .text(claim.job.id.rawValue)])
        }
    }

    package func completeJob(_ claim: ClaimedJob, document: StoredDocument, header: CollectionHeader, maxChunks: Int)
        async throws(CollectionError) -> JobCompletion
    {
        try checkWritable()
        return try await withConnection(create: true) { db throws(CollectionError) -> JobCompletion in
            try Self.saving(db) { () throws(CollectionError) -> JobCompletion in
                guard try Self.holds(claim, db) else { return .lostClaim }
                let outcome = try Self.add(document, header: header, maxChunks: maxChunks, db)
                let version: UInt64
                switch outcome {
                case .overQuota: return .completed(outcome)  // the caller fails the job with the engine's message
                case .added(_, _, let added): version = added
                case .unchanged: version = try Self.version(db)
                }
                try db.run(
                    """
                    UPDATE ingest_jobs SET state = 'ready', worker = NULL, lease_until = NULL, error_code = NULL,
                    error_message = NULL, index_version = ?, updated_at = ? WHERE id = ?
                    """, [.integer(Int64(version)), .real(Date().timeIntervalSince1970), .text(claim.job.id.rawValue)])
                if case .added = outcome, document.source != nil {
                    // The PDF's bytes are in `document_sources` now: the database need not hold them twice.
                    try db.run("UPDATE ingest_jobs SET bytes = X'' WHERE id = ?", [.text(claim.job.id.rawValue)])
                }
                return .completed(outcome)
            }
        }!
    }

    package func failJob(_ claim: ClaimedJob, error: IngestJobError) async throws(CollectionError) -> Bool {
        try await updateClaimed(claim) { db, now throws(CollectionError) in
            try db.run(
                """
                UPDATE ingest_jobs SET state = 'failed', worker = NULL, lease_until = NULL, error_code = ?, error_message = ?,
                updated_at = ? WHERE id = ?
                """, [.text(error.code), .text(error.message), .real(now), .text(claim.job.id.rawValue)])
        }
    }

    package func releaseJob(_ claim: ClaimedJob, retryAfter delay: Duration) async throws(CollectionError) -> Bool {
        try await updateClaimed(claim) { db, now throws(CollectionError) in
            try db.run(
                """
                UPDATE ingest_jobs SET state = 'queued', worker = NULL, lease_until = NULL, not_before = ?, updated_at = ?
                WHERE id = ?
                """, [.real(now + delay.seconds), .real(now), .text(claim.job.id.rawValue)])
        }
    }

    package func job(_ id: DocumentID) async throws(CollectionError) -> IngestJob? {
        guard databaseExists else { return nil }
        return try await withConnection(create: false) { db throws(CollectionError) in try Self.job(id, db) } ?? nil
    }

    package func heldBytes(of id: DocumentID) async throws(CollectionError) -> Int {
        guard databaseExists else { return 0 }
        return try await withConnection(create: false) { db throws(CollectionError) -> Int in
            Int(try db.queryInt("SELECT length(bytes) FROM ingest_jobs WHERE id = ?", [.text(id.rawValue)]) ?? 0)
        } ?? 0
    }

    package func queueDepth() async throws(CollectionError) -> QueueDepth {
        guard databaseExists else { return QueueDepth(queued: 0, processing: 0) }
        return try await withConnection(create: false) { db throws(CollectionError) -> QueueDepth in
            var depth = QueueDepth(queued: 0, processing: 0)
            try db.query("SELECT state, count(*) FROM ingest_jobs WHERE state IN ('queued', 'processing') GROUP BY state") {
                (row: SQLiteStatement) throws(CollectionError) in
                if row.text(0) == "queued" { depth.queued = Int(row.int64(1)) } else { depth.processing = Int(row.int64(1)) }
            }
            return depth
        } ?? QueueDepth(queued: 0, processing: 0)
    }

    // MARK: Rows

    /// Runs `update` in a write transaction if `claim` still holds; returns whether it did.
    private func updateClaimed(
        _ claim: ClaimedJob, _ update: @escaping @Sendable (SQLiteConnection, Double) throws(CollectionError) -> Void
    ) async throws(CollectionError) -> Bool {
        try checkWritable()
        return try await withConnection(create: false) { db throws(CollectionError) -> Bool in
            try Self.saving(db) { () throws(CollectionError) -> Bool in
                guard try Self.holds(claim, db) else { return false }
                try update(db, Date().timeIntervalSince1970)
                return true
            }
        } ?? false
    }

    /// Whether the job is still processing under this claim (same worker, same attempt).
    static func holds(_ claim: ClaimedJob, _ db: SQLiteConnection) throws(CollectionError) -> Bool {
        try db.queryInt(
            "SELECT count(*) FROM ingest_jobs WHERE id = ? AND state = 'processing' AND worker = ? AND attempts = ?",
            [.text(claim.job.id.rawValue), .text(claim.worker), .integer(Int64(claim.attempt))]) == 1
    }

    static func job(_ id: DocumentID, _ db: SQLiteConnection) throws(CollectionError) -> IngestJob? {
        var job: IngestJob? = nil
        try db.query(
            """
            SELECT file_name, byte_count, state, attempts, error_code, error_message, index_version, created_at, updated_at
            FROM ingest_jobs WHERE id = ?
            """, [.text(id.rawValue)]
        ) { (row: SQLiteStatement) throws(CollectionError) in
            guard let state = row.text(2).flatMap(IngestJob.State.init(rawValue:)) else { throw damaged("a job's state is unknown", db) }
            let error = row.isNull(4) ? nil : IngestJobError(code: row.text(4) ?? "", message: row.text(5) ?? "")
            job = IngestJob(
                id: id, fileName: row.text(0) ?? "", byteCount: Int(row.int64(1)), state: state, attempts: Int(row.int64(3)),
                error: error, indexVersion: row.isNull(6) ? nil : UInt64(clamping: row.int64(6)),
                createdAt: Date(timeIntervalSince1970: row.double(7)), updatedAt: Date(timeIntervalSince1970: row.double(8)))
        }
        return job
    }
}

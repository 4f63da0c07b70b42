import Foundation

/// The schema and its versioned migrations (`schema_migrations`), applied when a writable store opens the database,
/// inside one transaction.
extension SQLiteCollectionStore {
    /// The schema versions in order; a database records each one applied. Append new versions, never edit old ones.
    static let migrations: [(version: Int64, sql: String)] = [
        (
            1,
            """
            CREATE TABLE collection (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
            CREATE TABLE documents (
                seq INTEGER PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                content_hash TEXT NOT NULL UNIQUE,
                source_path TEXT,
                chunk_count INTEGER NOT NULL,
                record TEXT NOT NULL
            );
            CREATE INDEX documents_by_source_path ON documents (source_path);
            CREATE TABLE chunks (
                document_seq INTEGER NOT NULL,
                ordinal INTEGER NOT NULL,
                chunk_id TEXT NOT NULL,
                page_start INTEGER NOT NULL,
                page_end INTEGER NOT NULL,
                text TEXT NOT NULL
            );
            CREATE UNIQUE INDEX chunks_by_document ON chunks (document_seq, ordinal);
            CREATE TABLE vectors (document_seq INTEGER PRIMARY KEY, data BLOB NOT NULL);
            CREATE TABLE terms (id INTEGER PRIMARY KEY, term TEXT NOT NULL UNIQUE);
            CREATE TABLE document_terms (
                document_seq INTEGER PRIMARY KEY,
                analyzer_version INTEGER NOT NULL,
                data BLOB NOT NULL
            );
            CREATE TABLE changes (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                kind TEXT NOT NULL CHECK (kind IN ('add', 'remove')),
                document_id TEXT NOT NULL
            );
            """
        ),
        (
            2,
            """
            CREATE TABLE ingest_jobs (
                id TEXT PRIMARY KEY,
                file_name TEXT NOT NULL,
                byte_count INTEGER NOT NULL,
                bytes BLOB NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('queued', 'processing', 'ready', 'failed')),
                attempts INTEGER NOT NULL DEFAULT 0,
                worker TEXT,
                lease_until REAL,
                not_before REAL,
                error_code TEXT,
                error_message TEXT,
                index_version INTEGER,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL
            );
            CREATE INDEX ingest_jobs_by_state ON ingest_jobs (state, created_at);
            """
        ),
        (
            3,
            // The original bytes of each PDF, so that any process can render its pages (citations). Documents added
            // before this version have no row: their pages cannot be rendered until they are ingested again.
            """
            CREATE TABLE document_sources (
                document_seq INTEGER PRIMARY KEY,
                byte_count INTEGER NOT NULL,
                bytes BLOB NOT NULL
            );
            """
        ),
        (
            4,
            // A chunk's search context (its document's title and outline sections); empty for chunks made before.
            "ALTER TABLE chunks ADD COLUMN context TEXT NOT NULL DEFAULT '';"
        ),
        (
            5,
            // A change of the vectors' storage format (`storage`, its document_id the format): the change log's check
            // allows the kind. SQLite cannot alter a check, so the table is copied, its numbering kept.
            """
            CREATE TABLE changes_next (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                kind TEXT NOT NULL CHECK (kind IN ('add', 'remove', 'storage')),
                document_id TEXT NOT NULL
            );
            INSERT INTO changes_next (seq, kind, document_id) SELECT seq, kind, document_id FROM changes ORDER BY seq;
            DELETE FROM sqlite_sequence WHERE name = 'changes_next';
            INSERT INTO sqlite_sequence (name, seq)
                SELECT 'changes_next', max(coalesce((SELECT max(seq) FROM sqlite_sequence WHERE name = 'changes'), 0),
                                           coalesce((SELECT max(seq) FROM changes), 0));
            DROP TABLE changes;
            ALTER TABLE changes_next RENAME TO changes;
            """
        ),
    ]

    static var schemaVersion: Int64 { migrations.last!.version }

    /// Brings the schema to ``schemaVersion``: a writable connection applies the missing migrations in one
    /// `BEGIN IMMEDIATE` transaction (a second process opening at the same time waits, then finds them applied); a
    /// read-only one only checks. A database of a newer schema is `unsupportedVersion`.
    static func migrateSchema(_ db: SQLiteConnection, readOnly: Bool) throws(CollectionError) {
        let create = "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
        func applied() throws(CollectionError) -> Int64 {
            let exists = try db.queryInt("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")
            guard exists == 1 else { return 0 }
            return try db.queryInt("SELECT max(version) FROM schema_migrations") ?? 0
        }
        func checkNotNewer(_ version: Int64) throws(CollectionError) {
            guard version <= schemaVersion else {
                throw CollectionError(
                    .unsupportedVersion,
                    "the collection database has schema version \(version); this build knows versions up to \(schemaVersion): open it with a newer release of pdf-chatbot",
                    path: db.path)
            }
        }
        let found = try db.transaction(.deferred) { () throws(CollectionError) in try applied() }
        try checkNotNewer(found)
        guard found < schemaVersion else { return }
        guard !readOnly else {
            // An empty database a writer has just created: no collection yet. Anything else is an older schema that
            // only a writer may bring up to date.
            throw CollectionError(
                .unsupportedVersion,
                "the collection database has schema version \(found), older than this build's \(schemaVersion); open it once with a writable engine to migrate it",
                path: db.path)
        }
        try db.transaction(.immediate) { () throws(CollectionError) in
            try db.execute(create)
            let now = try applied()
            try checkNotNewer(now)
            for migration in migrations where migration.version > now {
                try db.execute(migration.sql)
                try db.run(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    [.integer(migration.version), .text(ISO8601DateFormatter().string(from: Date()))])
            }
        }
    }

    /// `corrupt`, saying what is wrong with the database.
    static func damaged(_ what: String, _ db: SQLiteConnection) -> CollectionError {
        CollectionError(.corrupt, "the collection database is damaged (\(what)); re-ingest the documents or restore a backup", path: db.path)
    }

    /// The collection's embedder and vector storage, or `nil` before the first document. A collection without a
    /// `vector_storage` (made before schema version 5) stores fp32.
    static func header(_ db: SQLiteConnection) throws(CollectionError) -> CollectionHeader? {
        var values: [String: String] = [:]
        try db.query("SELECT key, value FROM collection WHERE key IN ('embedder_id', 'dimension', 'vector_storage')") { (row: SQLiteStatement) throws(CollectionError) in
            values[row.text(0) ?? ""] = row.text(1)
        }
        guard let embedderID = values["embedder_id"], let dimensionText = values["dimension"] else {
            guard values.isEmpty else { throw damaged("the collection's embedder is incomplete", db) }
            return nil
        }
        guard let dimension = Int(dimensionText), (1...65_536).contains(dimension), !embedderID.isEmpty else {
            throw damaged("the collection's dimension is not valid", db)
        }
        guard let storage = VectorFormat(rawValue: values["vector_storage"] ?? VectorFormat.f32.rawValue) else {
            throw damaged("the collection's vector storage is not a format this build knows", db)
        }
        return CollectionHeader(embedderID: embedderID, dimension: dimension, vectorStorage: storage)
    }

    /// The sequence number of the last change, 0 before the first.
    static func version(_ db: SQLiteConnection) throws(CollectionError) -> UInt64 {
        let seq = try db.queryInt("SELECT max(seq) FROM changes") ?? 0
        guard seq >= 0 else { throw damaged("a negative change number", db) }
        return UInt64(seq)
    }
}

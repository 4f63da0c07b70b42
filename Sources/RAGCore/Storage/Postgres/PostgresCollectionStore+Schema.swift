import Foundation
import Logging
import PostgresNIO

/// The schema and its versioned migrations (`schema_migrations`), applied when a store opens the database, in one
/// transaction under a transaction-level advisory lock: replicas that start at once on a fresh database wait for each
/// other, and the first applies the migrations while the others find them applied.
extension PostgresCollectionStore {
    /// The advisory lock key of migrations (any constant unlikely to clash with an application's own: "ragmigr").
    static let migrationLock: Int64 = 0x7261_676D_6967_72

    /// The schema versions in order; a database records each one applied. Append new versions, never edit old ones.
    static let migrations: [(version: Int64, statements: [String])] = [
        (
            1,
            [
                """
                CREATE TABLE collection (
                    id smallint PRIMARY KEY CHECK (id = 1),
                    embedder_id text,
                    dimension integer CHECK (dimension BETWEEN 1 AND 65536),
                    CHECK ((embedder_id IS NULL) = (dimension IS NULL))
                )
                """,
                "INSERT INTO collection (id) VALUES (1)",
                """
                CREATE TABLE documents (
                    seq bigint PRIMARY KEY,
                    id text NOT NULL UNIQUE,
                    content_hash text NOT NULL UNIQUE,
                    source_path text,
                    chunk_count integer NOT NULL,
                    record text NOT NULL
                )
                """,
                "CREATE INDEX documents_by_source_path ON documents (source_path)",
                """
                CREATE TABLE chunks (
                    document_seq bigint NOT NULL REFERENCES documents (seq) ON DELETE CASCADE,
                    ordinal integer NOT NULL,
                    chunk_id text NOT NULL,
                    page_start integer NOT NULL,
                    page_end integer NOT NULL,
                    text text NOT NULL,
                    PRIMARY KEY (document_seq, ordinal)
                )
                """,
                "CREATE TABLE vectors (document_seq bigint PRIMARY KEY REFERENCES documents (seq) ON DELETE CASCADE, data bytea NOT NULL)",
                "CREATE TABLE terms (id integer PRIMARY KEY, term text NOT NULL UNIQUE)",
                """
                CREATE TABLE document_terms (
                    document_seq bigint PRIMARY KEY REFERENCES documents (seq) ON DELETE CASCADE,
                    analyzer_version integer NOT NULL,
                    data bytea NOT NULL
                )
                """,
                """
                CREATE TABLE changes (
                    seq bigint PRIMARY KEY CHECK (seq > 0),
                    kind text NOT NULL CHECK (kind IN ('add', 'remove')),
                    document_id text NOT NULL
                )
                """,
            ]
        ),
        (
            2,
            [
                """
                CREATE TABLE ingest_jobs (
                    id text PRIMARY KEY,
                    file_name text NOT NULL,
                    byte_count bigint NOT NULL,
                    bytes bytea NOT NULL,
                    state text NOT NULL CHECK (state IN ('queued', 'processing', 'ready', 'failed')),
                    attempts integer NOT NULL DEFAULT 0,
                    worker text,
                    lease_until timestamptz,
                    not_before timestamptz,
                    error_code text,
                    error_message text,
                    index_version bigint,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    updated_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                // PDFs are compressed already: keep the bytes out of line without compressing them again.
                "ALTER TABLE ingest_jobs ALTER COLUMN bytes SET STORAGE EXTERNAL",
                "CREATE INDEX ingest_jobs_by_state ON ingest_jobs (state, created_at)",
            ]
        ),
        (
            3,
            [
                // The original bytes of each PDF, so that any replica can render its pages (citations). Documents
                // added before this version have no row: their pages cannot be rendered until they are ingested again.
                """
                CREATE TABLE document_sources (
                    document_seq bigint PRIMARY KEY REFERENCES documents (seq) ON DELETE CASCADE,
                    byte_count bigint NOT NULL,
                    bytes bytea NOT NULL
                )
                """,
                // PDFs are compressed already: keep the bytes out of line without compressing them again.
                "ALTER TABLE document_sources ALTER COLUMN bytes SET STORAGE EXTERNAL",
            ]
        ),
        (
            4,
            // A chunk's search context (its document's title and outline sections); empty for chunks made before.
            ["ALTER TABLE chunks ADD COLUMN context text NOT NULL DEFAULT ''"]
        ),
        (
            5,
            // The format of the stored vectors (`--vector-storage`; fp32 for a collection made before), and a change of
            // it in the change log (`storage`, its document_id the format).
            [
                "ALTER TABLE collection ADD COLUMN IF NOT EXISTS vector_storage text NOT NULL DEFAULT 'f32'",
                "ALTER TABLE changes DROP CONSTRAINT IF EXISTS changes_kind_check",
                "ALTER TABLE changes ADD CONSTRAINT changes_kind_check CHECK (kind IN ('add', 'remove', 'storage'))",
            ]
        ),
    ]

    package static var schemaVersion: Int64 { migrations.last!.version }

    /// Brings the schema to ``schemaVersion``. A database of a newer schema is `unsupportedVersion`.
    func migrateSchema() async throws(CollectionError) {
        let logger = self.logger
        let applied = try await transaction(failure: "cannot prepare the collection database") { [self] connection async throws -> [Int64] in
            try await connection.run("SELECT pg_advisory_xact_lock(\(Self.migrationLock))", logger: logger)
            try await connection.run(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version bigint PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
                logger: logger)
            var found: Int64 = 0
            for try await (version) in try await connection.query("SELECT coalesce(max(version), 0) FROM schema_migrations", logger: logger)
                .decode(Int64.self)
            {
                found = version
            }
            guard found <= Self.schemaVersion else {
                throw CollectionError(
                    .unsupportedVersion,
                    "the collection database has schema version \(found); this build knows versions up to \(Self.schemaVersion): use a newer release of pdf-chatbot",
                    path: location)
            }
            var applied: [Int64] = []
            for migration in Self.migrations where migration.version > found {
                for statement in migration.statements {
                    try await connection.run(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.run("INSERT INTO schema_migrations (version) VALUES (\(migration.version))", logger: logger)
                applied.append(migration.version)
            }
            return applied
        }
        if !applied.isEmpty {
            logger.info("migrated the collection database", metadata: ["rag.schema.versions": "\(applied)", "rag.collection": "\(location)"])
        }
    }
}

extension PostgresCollectionStore {
    /// The schema versions the database records as applied, oldest first (for checks and tests).
    package func appliedMigrations() async throws(CollectionError) -> [Int64] {
        let logger = self.logger
        return try await withConnection(failure: "cannot read the collection") { [self] connection async throws -> [Int64] in
            var versions: [Int64] = []
            for try await (version) in try await connection.query("SELECT version FROM schema_migrations ORDER BY version", logger: logger)
                .decode(Int64.self)
            {
                versions.append(version)
            }
            return versions
        }
    }
}

import Foundation
import Synchronization

/// The embedded store: a SQLite database, `collection.db`, in the collection directory, in WAL mode (readers never
/// wait for the writer, and a writer for readers).
///
/// Tables (schema version 2, `SQLiteCollectionStore+Schema.swift`): `collection` (the embedder id and dimension),
/// `documents` (one row per document, keyed by the change that added it, its record as JSON, content hash unique),
/// `chunks` (text, pages, ids, by document and ordinal), `vectors` (one blob per document: chunk count × dimension
/// little-endian f32, L2-normalised), `terms` and `document_terms` (the BM25 statistics per document, by term
/// number), `changes`, the change log, whose sequence number is the collection's version, and `ingest_jobs`, the
/// ingestion queue (`SQLiteCollectionStore+Jobs.swift`).
///
/// Every write is one `BEGIN IMMEDIATE` transaction: SQLite's write lock serialises writers across processes, and a
/// writer waits up to `busyTimeout` for it. Commits are durable (`synchronous=FULL`: the WAL is synced at every
/// commit, as the old file was at every save). Nothing read from the database is trusted: every count, length and
/// blob size is checked before anything is allocated for it, and a row no writer makes is `corrupt`, never a crash.
///
/// A directory that holds a collection file of an earlier release (`collection.rag`) is migrated the first time a
/// writable store opens it (`SQLiteCollectionStore+Migration.swift`); a read-only store reads that file instead.
/// All work is blocking and runs on `BlockingPool.shared`.
package final class SQLiteCollectionStore: CollectionStore {
    /// The database's name in a collection directory.
    package static let fileName = "collection.db"

    package let directory: URL
    package let readOnly: Bool
    /// How long a statement waits for another process's lock before failing.
    package let busyTimeout: Duration
    /// The open connection, once a database exists; used by one thread at a time.
    private let connection = Mutex<SQLiteConnection?>(nil)

    package init(directory: URL, readOnly: Bool = false, busyTimeout: Duration = .seconds(10)) {
        self.directory = directory
        self.readOnly = readOnly
        self.busyTimeout = busyTimeout
    }

    package var location: String { directory.path }
    package var databaseURL: URL { directory.appendingPathComponent(Self.fileName) }
    var legacyFile: LegacyCollectionFile { LegacyCollectionFile(directory: directory) }

    /// Whether the directory holds a database.
    package var databaseExists: Bool { FileManager.default.fileExists(atPath: databaseURL.path) }
    /// Whether the directory holds a collection file of an earlier release (not migrated yet).
    package var legacyFileExists: Bool { legacyFile.exists }

    // MARK: Connection

    /// Runs `body` on the connection, on a pool thread. Without a database: creates one when `create` (a write),
    /// migrating a collection file of an earlier release into it; else returns `nil`. A writable store migrates such
    /// a file whenever it opens the collection.
    func withConnection<T: Sendable>(
        create: Bool, _ body: @escaping @Sendable (SQLiteConnection) throws(CollectionError) -> T
    ) async throws(CollectionError) -> T? {
        try await BlockingPool.shared.run { () throws(CollectionError) -> T? in
            try self.connection.withLock { connection throws(CollectionError) -> T? in
                if connection == nil {
                    guard let opened = try self.open(create: create) else { return nil }
                    connection = opened
                }
                return try body(connection!)
            }
        }
    }

    /// Opens the database, creating or migrating it as `withConnection` says; `nil` when there is none to open.
    private func open(create: Bool) throws(CollectionError) -> SQLiteConnection? {
        let path = databaseURL.path
        if !databaseExists {
            guard !readOnly else { return nil }
            if legacyFile.exists {
                try CollectionDirectory.create(directory)
                try migrateLegacyFile()
            } else {
                guard create else { return nil }
                try CollectionDirectory.create(directory)
                try SQLiteConnection.createFile(path, mode: CollectionDirectory.fileMode)
            }
        } else if !readOnly, legacyFile.exists {
            try finishMigration()  // a migration stopped between its two renames
        }
        let db = try SQLiteConnection(path: path, readOnly: readOnly, busyTimeout: busyTimeout)
        if !readOnly {
            try db.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL")
        }
        try Self.migrateSchema(db, readOnly: readOnly)
        return db
    }

    /// Creates the database, with its schema and no collection yet, when the directory has none (migrating a
    /// collection file of an earlier release if there is one), on the caller's thread.
    package func createIfMissing() throws(CollectionError) {
        try checkWritable()
        try connection.withLock { connection throws(CollectionError) in
            if connection == nil { connection = try open(create: true) }
        }
    }

    /// Closes the connection (the next use opens it again). Closing the last connection to the database checkpoints
    /// its WAL into it and removes the WAL.
    package func closeConnection() {
        connection.withLock { $0 = nil }
    }

    /// The embedder of the collection in `directory`, read without checking or migrating the schema: the
    /// `collection` table is the same in every version, so a database that an earlier release wrote (which the
    /// writable engine about to open it migrates) still says which embedder to load first. `nil` when there is no
    /// collection yet.
    package static func peekHeader(directory: URL) throws(CollectionError) -> CollectionHeader? {
        let store = SQLiteCollectionStore(directory: directory, readOnly: true)
        guard store.databaseExists else { return store.legacyFile.header() }
        let db = try SQLiteConnection(path: store.databaseURL.path, readOnly: true, busyTimeout: .seconds(10))
        let tables = try db.queryInt("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'collection'")
        guard tables == 1 else { return nil }
        return try header(db)
    }

    // MARK: CollectionStore

    package func header() async throws(CollectionError) -> CollectionHeader? {
        if !databaseExists && (readOnly || !legacyFile.exists) { return legacyFile.header() }
        return try await withConnection(create: false) { db throws(CollectionError) in try Self.header(db) } ?? nil
    }

    package func currentVersion() async throws(CollectionError) -> UInt64 {
        guard databaseExists else { return 0 }
        return try await withConnection(create: false) { db throws(CollectionError) in try Self.version(db) } ?? 0
    }

    package func loadSnapshot() async throws(CollectionError) -> CollectionSnapshot? {
        if readOnly && !databaseExists {
            let legacy = legacyFile
            return try await BlockingPool.shared.run { () throws(CollectionError) -> CollectionSnapshot? in
                guard var collection = try legacy.load() else { return nil }
                collection.generation = 0  // the old file's save count is no version of a change log
                return CollectionSnapshot(collection: collection, version: 0, isLegacy: true)
            }
        }
        return try await withConnection(create: false) { db throws(CollectionError) in try Self.loadSnapshot(db) } ?? nil
    }

    package func add(_ document: StoredDocument, header: CollectionHeader, maxChunks: Int) async throws(CollectionError) -> AddOutcome {
        try checkWritable()
        return try await withConnection(create: true) { db throws(CollectionError) in
            try Self.saving(db) { () throws(CollectionError) in try Self.add(document, header: header, maxChunks: maxChunks, db) }
        }!
    }

    package func remove(_ id: DocumentID) async throws(CollectionError) -> RemoveOutcome? {
        try checkWritable()
        return try await withConnection(create: false) { db throws(CollectionError) in
            try Self.saving(db) { () throws(CollectionError) in try Self.remove(id, db) }
        } ?? nil
    }

    package func convertVectors(to format: VectorFormat) async throws(CollectionError) -> UInt64? {
        try checkWritable()
        guard databaseExists else { return nil }
        return try await withConnection(create: false) { db throws(CollectionError) -> UInt64? in
            let version = try Self.saving(db) { () throws(CollectionError) in try Self.convertVectors(to: format, db) }
            // The old blobs' pages are free now: give them back to the file system (a smaller format halves or
            // quarters the bulk of the file). Only space is at stake, so a failure (another process busy) is ignored.
            if version != nil { try? db.execute("VACUUM") }
            return version
        } ?? nil
    }

    package func changes(after version: UInt64, limit: Int) async throws(CollectionError) -> [CollectionChange] {
        guard databaseExists else { return [] }
        return try await withConnection(create: false) { db throws(CollectionError) in
            try Self.changes(after: version, limit: limit, db)
        } ?? []
    }

    package func source(of id: DocumentID) async throws(CollectionError) -> Data? {
        guard databaseExists else { return nil }
        return try await withConnection(create: false) { db throws(CollectionError) -> Data? in
            var source: Data? = nil
            try db.query(
                "SELECT s.byte_count, s.bytes FROM documents d JOIN document_sources s ON s.document_seq = d.seq WHERE d.id = ?",
                [.text(id.rawValue)]
            ) { (row: SQLiteStatement) throws(CollectionError) in
                let expected = row.int64(0)
                let bytes = try row.blob(1) { (raw: UnsafeRawBufferPointer) throws(CollectionError) in Data(raw) }
                guard Int64(bytes.count) == expected else { throw Self.damaged("a document's source has the wrong length", db) }
                source = bytes
            }
            return source
        } ?? nil
    }

    func checkWritable() throws(CollectionError) {
        guard !readOnly else {
            throw CollectionError(.readOnly, "the collection is opened read-only", path: databaseURL.path)
        }
    }

    /// Runs a write transaction; a failure is "the collection could not be saved" with SQLite's reason (a full disk:
    /// "database or disk is full"), and nothing of it is committed.
    static func saving<T>(_ db: SQLiteConnection, _ body: () throws(CollectionError) -> T) throws(CollectionError) -> T {
        db.failure = "the collection could not be saved"
        defer { db.failure = nil }
        return try db.transaction(.immediate, body)
    }
}

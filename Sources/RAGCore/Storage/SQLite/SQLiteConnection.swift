import CSQLite
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One connection to a SQLite database, over the C API: prepared statements with typed binds and columns, blobs read
/// straight into the caller's memory, and transactions. The thin layer under `SQLiteCollectionStore`; nothing else
/// in the package talks SQL.
///
/// A connection is opened in SQLite's multi-thread mode (`SQLITE_OPEN_NOMUTEX`): it may move between threads but must
/// be used by one at a time, which its owner guarantees (the store keeps it in a `Mutex` and uses it on
/// `BlockingPool` threads only).
///
/// ```swift
/// let db = try SQLiteConnection(path: "/tmp/x.db", readOnly: false)
/// try db.execute("CREATE TABLE t (a INTEGER)")
/// try db.transaction {
///     try db.run("INSERT INTO t (a) VALUES (?)", [.integer(1)])
/// }
/// let count = try db.queryInt("SELECT count(*) FROM t")
/// ```
final class SQLiteConnection: @unchecked Sendable {
    // @unchecked: the handle is used by one thread at a time (see above); its owner serialises every use.
    let handle: OpaquePointer
    /// The database file, for the errors' `path`.
    let path: String

    /// A value bound to a statement's parameter.
    enum Value: Sendable, Hashable {
        case integer(Int64)
        case real(Double)
        case text(String)
        case null
    }

    /// Opens the database at `path`; a writable connection creates it when missing. `busyTimeout` is how long a
    /// statement waits for another connection's lock before failing with "database is locked".
    init(path: String, readOnly: Bool, busyTimeout: Duration = .seconds(5)) throws(CollectionError) {
        var db: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
            | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        let status = sqlite3_open_v2(path, &db, flags, nil)
        guard status == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(db)
            throw SQLiteConnection.error(status, message, "cannot open the collection database", path: path)
        }
        self.handle = db
        self.path = path
        let milliseconds = busyTimeout.components.seconds * 1000 + busyTimeout.components.attoseconds / 1_000_000_000_000_000
        sqlite3_busy_timeout(db, Int32(clamping: milliseconds))
    }

    deinit { sqlite3_close_v2(handle) }

    // MARK: Errors

    /// The one place a SQLite status becomes a `CollectionError`: damage (`SQLITE_CORRUPT`, `SQLITE_NOTADB`) is
    /// `corrupt`, everything else `io`. The message says what was being done and gives SQLite's reason, which names no
    /// file.
    static func error(_ status: Int32, _ message: String, _ operation: String, path: String) -> CollectionError {
        switch status & 0xff {
        case SQLITE_CORRUPT, SQLITE_NOTADB:
            return CollectionError(.corrupt, "the collection database is damaged: \(operation): \(message)", path: path)
        case SQLITE_BUSY, SQLITE_LOCKED:
            return CollectionError(
                .io, "\(operation): another process kept the collection locked past the busy timeout (\(message))", path: path)
        default:
            return CollectionError(.io, "\(operation): \(message)", path: path)
        }
    }

    /// What a failure means for the caller, when set ("the collection could not be saved"): the errors' messages
    /// then say that instead of naming the statement that failed.
    var failure: String?

    /// Throws for a status other than `SQLITE_OK`, `SQLITE_ROW` or `SQLITE_DONE`.
    func check(_ status: Int32, _ operation: @autoclosure () -> String) throws(CollectionError) {
        guard status != SQLITE_OK && status != SQLITE_ROW && status != SQLITE_DONE else { return }
        throw SQLiteConnection.error(status, String(cString: sqlite3_errmsg(handle)), failure ?? operation(), path: path)
    }

    // MARK: Statements

    /// Runs one or more statements without parameters or results (schema, pragmas).
    func execute(_ sql: String) throws(CollectionError) {
        try check(sqlite3_exec(handle, sql, nil, nil, nil), "cannot run \(sql.prefix(40))")
    }

    /// Compiles one statement.
    func prepare(_ sql: String) throws(CollectionError) -> SQLiteStatement {
        var statement: OpaquePointer?
        let status = sqlite3_prepare_v3(handle, sql, -1, 0, &statement, nil)
        guard status == SQLITE_OK, let statement else {
            try check(status == SQLITE_OK ? SQLITE_ERROR : status, "cannot prepare \(sql.prefix(40))")
            throw CollectionError(.io, "cannot prepare an empty statement", path: path)
        }
        return SQLiteStatement(statement, connection: self)
    }

    /// Runs one statement with `values` bound, stepping it to its end.
    func run(_ sql: String, _ values: [Value] = []) throws(CollectionError) {
        let statement = try prepare(sql)
        try statement.bind(values)
        while try statement.step() {}
    }

    /// Calls `row` for each result row of `sql`.
    func query(_ sql: String, _ values: [Value] = [], row: (SQLiteStatement) throws(CollectionError) -> Void) throws(CollectionError) {
        let statement = try prepare(sql)
        try statement.bind(values)
        while try statement.step() { try row(statement) }
    }

    /// The first column of the first row of `sql` as an integer, or `nil` when there is no row or it is NULL.
    func queryInt(_ sql: String, _ values: [Value] = []) throws(CollectionError) -> Int64? {
        let statement = try prepare(sql)
        try statement.bind(values)
        guard try statement.step(), !statement.isNull(0) else { return nil }
        return statement.int64(0)
    }

    /// The row id of the last row this connection inserted.
    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    // MARK: Transactions

    /// How a transaction takes its lock.
    enum TransactionKind: String {
        /// Takes the write lock at `BEGIN` (waiting up to the busy timeout), so that a write never fails half way
        /// for want of it: every write transaction is immediate.
        case immediate = "BEGIN IMMEDIATE"
        /// Reads one consistent snapshot of the database, however many statements it takes.
        case deferred = "BEGIN DEFERRED"
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    func transaction<T>(_ kind: TransactionKind = .immediate, _ body: () throws(CollectionError) -> T) throws(CollectionError) -> T {
        try execute(kind.rawValue)
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            if sqlite3_get_autocommit(handle) == 0 { sqlite3_exec(handle, "ROLLBACK", nil, nil, nil) }
            throw error
        }
    }

    // MARK: Blobs

    /// Reads blobs of `table`.`column` by row id straight into the caller's memory (`sqlite3_blob_read`), without
    /// the copy a `SELECT` makes of a blob that spans overflow pages.
    func blobReader(table: String, column: String) -> SQLiteBlobReader {
        SQLiteBlobReader(connection: self, table: table, column: column)
    }

    // MARK: Files

    /// Creates the file at `path` with `mode` (whatever the umask) if it does not exist, so that SQLite, which gives
    /// its `-wal` and `-shm` files the mode of the database file, creates those with it too.
    static func createFile(_ path: String, mode: mode_t) throws(CollectionError) {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, mode)
        guard fd >= 0 else {
            throw CollectionError(.io, "cannot create the collection database: \(String(cString: strerror(errno)))", path: path)
        }
        defer { close(fd) }
        guard fchmod(fd, mode) == 0 else {
            throw CollectionError(
                .io, "cannot set the mode of the collection database: \(String(cString: strerror(errno)))", path: path)
        }
    }
}

/// A compiled statement of a `SQLiteConnection`; finalized when released. Parameters and columns count from 1 and 0
/// as in SQLite.
final class SQLiteStatement {
    let handle: OpaquePointer
    let connection: SQLiteConnection

    fileprivate init(_ handle: OpaquePointer, connection: SQLiteConnection) {
        self.handle = handle
        self.connection = connection
    }

    deinit { sqlite3_finalize(handle) }

    /// Binds `values` to parameters 1, 2, …
    func bind(_ values: [SQLiteConnection.Value]) throws(CollectionError) {
        for (offset, value) in values.enumerated() { try bind(Int32(offset + 1), value) }
    }

    func bind(_ index: Int32, _ value: SQLiteConnection.Value) throws(CollectionError) {
        let status: Int32
        switch value {
        case .integer(let integer): status = sqlite3_bind_int64(handle, index, integer)
        case .real(let real): status = sqlite3_bind_double(handle, index, real)
        case .null: status = sqlite3_bind_null(handle, index)
        case .text(let text):
            var text = text
            status = text.withUTF8 { utf8 in
                utf8.withMemoryRebound(to: CChar.self) { characters in
                    guard let base = characters.baseAddress else { return ragsql_bind_text_copy(handle, index, "", 0) }
                    return ragsql_bind_text_copy(handle, index, base, Int32(clamping: characters.count))
                }
            }
        }
        try connection.check(status, "cannot bind a parameter")
    }

    /// Binds a blob that SQLite reads in place: `bytes` must stay valid until the statement has been stepped to its
    /// end or reset, so call it inside the `withUnsafeBytes` that the step is in.
    func bind(_ index: Int32, blob bytes: UnsafeRawBufferPointer) throws(CollectionError) {
        try connection.check(
            ragsql_bind_blob_static(handle, index, bytes.baseAddress, sqlite3_uint64(bytes.count)), "cannot bind a blob")
    }

    /// Binds `array`'s bytes as a blob to parameter `index` (read in place) and steps the statement to its end.
    func run<Element: BitwiseCopyable>(binding array: [Element], at index: Int32) throws(CollectionError) {
        var failure: CollectionError? = nil
        array.withUnsafeBytes { bytes in
            do {
                try bind(index, blob: bytes)
                while try step() {}
            } catch let error as CollectionError {
                failure = error
            } catch {
                failure = CollectionError(.io, "\(error)", path: connection.path)
            }
        }
        if let failure { throw failure }
    }

    /// Steps the statement: `true` when a row is ready, `false` at the end.
    func step() throws(CollectionError) -> Bool {
        let status = sqlite3_step(handle)
        if status == SQLITE_ROW { return true }
        if status == SQLITE_DONE { return false }
        try connection.check(status, "cannot run \(String(cString: sqlite3_sql(handle)).prefix(40))")
        return false
    }

    /// Makes the statement ready to run again, keeping its bindings until they are bound anew.
    func reset() { sqlite3_reset(handle) }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }
    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }
    func double(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }

    /// The column as UTF-8 text (invalid sequences replaced), or `nil` when it is NULL.
    func text(_ column: Int32) -> String? {
        guard let bytes = sqlite3_column_text(handle, column) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    /// Calls `body` with the column's bytes (empty for NULL), valid only during the call.
    func blob<T>(_ column: Int32, _ body: (UnsafeRawBufferPointer) throws(CollectionError) -> T) throws(CollectionError) -> T {
        let bytes = sqlite3_column_blob(handle, column)
        let count = Int(sqlite3_column_bytes(handle, column))
        return try body(UnsafeRawBufferPointer(start: count > 0 ? bytes : nil, count: count))
    }
}

/// Reads whole blobs of one column by row id into memory the caller owns (`sqlite3_blob_open`, `_reopen`, `_read`).
final class SQLiteBlobReader {
    let connection: SQLiteConnection
    let table: String
    let column: String
    private var blob: OpaquePointer?

    fileprivate init(connection: SQLiteConnection, table: String, column: String) {
        self.connection = connection
        self.table = table
        self.column = column
    }

    deinit { if let blob { sqlite3_blob_close(blob) } }

    /// Moves to row `rowID` and returns its blob's length in bytes, to be checked before anything is allocated.
    func open(row rowID: Int64) throws(CollectionError) -> Int {
        if let blob {
            let status = sqlite3_blob_reopen(blob, rowID)
            guard status == SQLITE_OK else {
                // A failed reopen leaves the handle unusable.
                sqlite3_blob_close(blob)
                self.blob = nil
                try connection.check(status, "cannot read the \(column) of row \(rowID) of \(table)")
                return 0
            }
        } else {
            var opened: OpaquePointer?
            let status = sqlite3_blob_open(connection.handle, "main", table, column, rowID, 0, &opened)
            guard status == SQLITE_OK, let opened else {
                if let opened { sqlite3_blob_close(opened) }
                try connection.check(status == SQLITE_OK ? SQLITE_ERROR : status, "cannot read the \(column) of row \(rowID) of \(table)")
                return 0
            }
            blob = opened
        }
        return Int(sqlite3_blob_bytes(blob))
    }

    /// Copies the open blob's first `destination.count` bytes into `destination`.
    func read(into destination: UnsafeMutableRawBufferPointer) throws(CollectionError) {
        guard let blob, let base = destination.baseAddress else { return }
        try connection.check(
            sqlite3_blob_read(blob, base, Int32(clamping: destination.count), 0), "cannot read the \(column) of \(table)")
    }
}

import CSQLite
import Foundation
import RAGCore

/// Makes commits to a collection fail, deterministically and whoever runs the tests (root, whom file permissions do
/// not stop, included), for every process that writes it: a trigger in the collection's database refuses the rows of
/// its change log with SQLite's message for a full disk, so every write transaction (an addition, a removal) fails
/// and is rolled back as a write to a full disk is. For the package's own tests: it relies on the store's schema.
package enum StorageFaults {
    static let trigger = "rag_test_storage_fault"

    /// Makes every later commit to the collection in `directory` fail, until ``unblockSaves(in:)``. Creates the
    /// database (holding no collection yet) when the directory has none.
    package static func blockSaves(in directory: URL) throws {
        try SQLiteCollectionStore(directory: directory).createIfMissing()
        try execute(
            "CREATE TRIGGER IF NOT EXISTS \(trigger) BEFORE INSERT ON changes BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
            in: directory)
    }

    /// Lets commits succeed again.
    package static func unblockSaves(in directory: URL) throws {
        try execute("DROP TRIGGER IF EXISTS \(trigger)", in: directory)
    }

    /// Runs `sql` on the collection's database in `directory` through a connection of its own.
    package static func execute(_ sql: String, in directory: URL) throws {
        let path = directory.appendingPathComponent(SQLiteCollectionStore.fileName).path
        var db: OpaquePointer?
        defer { sqlite3_close_v2(db) }
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, nil) == SQLITE_OK else {
            throw CollectionError(.io, "cannot open the database: \(String(cString: sqlite3_errmsg(db)))", path: path)
        }
        sqlite3_busy_timeout(db, 10_000)
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else {
            throw CollectionError(.io, "cannot run \(sql): \(String(cString: sqlite3_errmsg(db)))", path: path)
        }
    }

    /// The integer the first column of `sql`'s first row holds, read from the collection database in `directory`
    /// through a connection of its own (what a test checks on disk). `nil` when there is no row or it is NULL.
    package static func integer(_ sql: String, in directory: URL) throws -> Int64? {
        let path = directory.appendingPathComponent(SQLiteCollectionStore.fileName).path
        var db: OpaquePointer?
        defer { sqlite3_close_v2(db) }
        var statement: OpaquePointer?
        defer { sqlite3_finalize(statement) }
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, nil) == SQLITE_OK,
            sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK
        else {
            throw CollectionError(.io, "cannot run \(sql): \(String(cString: sqlite3_errmsg(db)))", path: path)
        }
        sqlite3_busy_timeout(db, 10_000)
        guard sqlite3_step(statement) == SQLITE_ROW, sqlite3_column_type(statement, 0) != SQLITE_NULL else { return nil }
        return sqlite3_column_int64(statement, 0)
    }
}

import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Migrating a collection file of an earlier release (`collection.rag`, formats 1 and 2) into the database, the first
/// time a writable store opens its directory.
///
/// 1. Take an exclusive `flock` on `collection.rag` itself: a second process opening the directory at the same time
///    waits, then finds the database and does nothing.
/// 2. Read the file with the legacy decoder (all its checks apply: a damaged file is `corrupt` and nothing is made).
/// 3. Write every document into a new database under a temporary name, `.collection.db.migrating`, in one
///    transaction, sync it and rename it to `collection.db` (then sync the directory).
/// 4. Only then rename the old file to `collection.rag.migrated`, which is kept (delete it once the new collection
///    has been seen to work).
///
/// A crash before step 3's rename leaves the old file as the collection (and perhaps the temporary database, which
/// the next migration removes first); a crash after it leaves the complete database, and the next writable open
/// does step 4 (`finishMigration`). A read-only store never migrates: it reads the old file until a writer has.
extension SQLiteCollectionStore {
    static let migratingName = ".collection.db.migrating"
    static let migratedLegacyName = "collection.rag.migrated"

    func migrateLegacyFile() throws(CollectionError) {
        let legacy = legacyFile
        let lock = open(legacy.fileURL.path, O_RDONLY | O_CLOEXEC)
        guard lock >= 0 else {
            if errno == ENOENT { return }  // migrated (and renamed) by another process meanwhile
            throw CollectionError(.io, "cannot open the collection file to migrate it: \(CollectionDirectory.errnoText())", path: legacy.fileURL.path)
        }
        defer { close(lock) }
        while flock(lock, LOCK_EX) != 0 {
            guard errno == EINTR else {
                throw CollectionError(.io, "cannot lock the collection file to migrate it: \(CollectionDirectory.errnoText())", path: legacy.fileURL.path)
            }
        }
        defer { flock(lock, LOCK_UN) }
        if databaseExists {
            try finishMigration()
            return
        }
        guard let collection = try legacy.load() else { return }
        let temporary = directory.appendingPathComponent(Self.migratingName).path
        for suffix in ["", "-journal", "-wal", "-shm"] { unlink(temporary + suffix) }  // an earlier migration's crash
        do {
            try Self.write(collection, toNewDatabaseAt: temporary)
            try Self.syncFile(temporary)
        } catch {
            unlink(temporary)
            throw error
        }
        guard rename(temporary, databaseURL.path) == 0 else {
            let reason = CollectionDirectory.errnoText()
            unlink(temporary)
            throw CollectionError(.io, "cannot move the migrated collection into place: \(reason)", path: databaseURL.path)
        }
        Self.syncDirectory(directory.path)
        try finishMigration()
    }

    /// Renames the old collection file aside once the database is in place.
    func finishMigration() throws(CollectionError) {
        let legacy = legacyFile.fileURL.path
        let aside = directory.appendingPathComponent(Self.migratedLegacyName).path
        guard rename(legacy, aside) == 0 || errno == ENOENT else {
            throw CollectionError(.io, "cannot rename the migrated collection file: \(CollectionDirectory.errnoText())", path: legacy)
        }
        Self.syncDirectory(directory.path)
    }

    /// Writes `collection` into a new database at `path` in one transaction, its documents in their order, each
    /// with an addition in the change log. The file is new and renamed into place only when complete, so it needs no
    /// journal while it is written.
    static func write(_ collection: DocumentCollection, toNewDatabaseAt path: String) throws(CollectionError) {
        try SQLiteConnection.createFile(path, mode: CollectionDirectory.fileMode)
        let db = try SQLiteConnection(path: path, readOnly: false)
        try db.execute("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF")
        try migrateSchema(db, readOnly: false)
        let header = CollectionHeader(embedderID: collection.embedderID, dimension: collection.dimension, vectorStorage: collection.storageFormat)
        let terms = collection.lexicalIndex.documentTerms(rowCounts: collection.documents.map(\.chunkCount))
        var termIDs: [String: Int64] = [:]
        try db.transaction(.immediate) { () throws(CollectionError) in
            try db.run(
                "INSERT INTO collection (key, value) VALUES ('embedder_id', ?), ('dimension', ?), ('vector_storage', ?)",
                [.text(header.embedderID), .text(String(header.dimension)), .text(header.vectorStorage.rawValue)])
            var row = 0
            for (position, record) in collection.documents.enumerated() {
                let rows = row..<row + record.chunkCount
                row = rows.upperBound
                let vectors = collection.vectors.rows(rows)
                let document = StoredDocument(
                    record: record, chunks: Array(collection.chunks[rows]), vectors: vectors, terms: terms[position])
                let seq = try appendChange("add", record.id, db)
                try withUnsafeMutablePointer(to: &termIDs) { (cache) throws(CollectionError) in
                    try insert(document, seq: Int64(seq), storage: header.vectorStorage, dimension: header.dimension, db, termIDs: cache)
                }
            }
        }
        try db.execute("PRAGMA journal_mode=WAL")
    }

    static func syncFile(_ path: String) throws(CollectionError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0, fsync(fd) == 0 else {
            let reason = CollectionDirectory.errnoText()
            if fd >= 0 { close(fd) }
            throw CollectionError(.io, "cannot write the migrated collection: \(reason)", path: path)
        }
        close(fd)
    }

    static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }
}

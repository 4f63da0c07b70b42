import Foundation
import Logging
import RAGCore
import RAGTesting
import TestSupport
import Testing

/// The SQLite store's own behaviour: a crafted database is damage, never a crash; a write grows the database by the
/// document, not by the collection; collection files of earlier releases migrate.
@Suite struct SQLiteStoreTests {
    /// A database holding the sample document, edited by `sql` through a connection of its own, then opened afresh.
    func load(after sql: String) async throws -> CollectionSnapshot? {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            let store = SQLiteCollectionStore(directory: directory)
            _ = try await store.add(CollectionStoreTests.sampleDocument(), header: CollectionStoreTests.header, maxChunks: 0)
        }
        try StorageFaults.execute(sql, in: directory)
        return try await SQLiteCollectionStore(directory: directory).loadSnapshot()
    }

    @Test func theSampleDatabaseLoads() async throws {
        let snapshot = try #require(try await load(after: "SELECT 1"))
        #expect(snapshot.collection.chunks.count == 2)
        #expect(snapshot.collection.chunks == CollectionStoreTests.sampleCollection().chunks)
    }

    /// Rows no writer makes. Each is read as damage (`corrupt`, "damaged"), never trusted for an allocation.
    static let craftedRows: [String] = [
        "UPDATE vectors SET data = zeroblob(3)",
        "UPDATE vectors SET data = zeroblob(4 * 4 * 3)",
        "DELETE FROM vectors",
        "UPDATE documents SET chunk_count = -1",
        "UPDATE documents SET chunk_count = 1000000000",
        "UPDATE documents SET chunk_count = 9223372036854775807",
        "UPDATE documents SET record = 'garbage'",
        "UPDATE documents SET content_hash = 'another'",
        "UPDATE chunks SET ordinal = ordinal + 5",
        "UPDATE chunks SET page_start = -3",
        "DELETE FROM chunks WHERE ordinal = 1",
        "UPDATE collection SET value = '0' WHERE key = 'dimension'",
        "UPDATE collection SET value = '99999999999999999999' WHERE key = 'dimension'",
        "DELETE FROM collection WHERE key = 'dimension'",
        "UPDATE collection SET value = 'f64' WHERE key = 'vector_storage'",
        // fp32 blobs read as int8 ones: the lengths do not match.
        "UPDATE collection SET value = 'i8' WHERE key = 'vector_storage'",
        // Two int8 rows of 4 values (8 bytes each), the first with a NaN scale.
        "UPDATE collection SET value = 'i8' WHERE key = 'vector_storage'; UPDATE vectors SET data = x'0000c07f01020304' || x'0000803c01020304'",
        "UPDATE collection SET value = 'i8' WHERE key = 'vector_storage'; UPDATE vectors SET data = x'0000803c01020380' || x'0000803c01020304'",
        "UPDATE document_terms SET data = x'01000000'",
        "UPDATE document_terms SET data = x'ffffffff'",
        "UPDATE document_terms SET data = x'02000000010000000100000001'",
        // Two rows of one term each; then a posting naming term 100000, which does not exist.
        "UPDATE document_terms SET data = x'020000000100000001000000a086010000000000' || x'01000000'",
        // A posting to row 7 of a two-row document.
        "UPDATE document_terms SET data = x'020000000100000001000000010000000700000001000000'",
        // Term 1 at row 1, then again at row 0: out of order.
        "UPDATE document_terms SET data = x'020000000100000001000000' || x'010000000100000001000000' || x'010000000000000001000000'",
        "DELETE FROM document_terms",
        "INSERT INTO terms (id, term) VALUES (1000, 'gap')",
    ]

    @Test(arguments: craftedRows)
    func craftedRowsAreDamageNotCrashes(sql: String) async throws {
        let error = await #expect(throws: CollectionError.self) { try await load(after: sql) }
        #expect(error?.code == .corrupt, "\(String(describing: error))")
        #expect(error?.message.contains("damaged") == true)
        #expect(error?.path?.hasSuffix("collection.db") == true)
        #expect(error?.message.contains("/") == false, "the path goes in `path`")
    }

    /// A database of schema version 2 (before sources were kept) is brought to the current version when a writer
    /// opens it: its documents stay, without sources, and documents added afterwards keep theirs.
    @Test func aVersion2DatabaseMigratesAndItsDocumentsHaveNoSource() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var old = CollectionStoreTests.sampleDocument()
        old.source = Data("%PDF-old".utf8)
        do {
            let store = SQLiteCollectionStore(directory: directory)
            _ = try await store.add(old, header: CollectionStoreTests.header, maxChunks: 0)
        }
        // Back to version 2, as an earlier release left it.
        try StorageFaults.execute(
            "DROP TABLE document_sources; ALTER TABLE chunks DROP COLUMN context; DELETE FROM schema_migrations WHERE version >= 3",
            in: directory)
        let store = SQLiteCollectionStore(directory: directory)
        #expect(try await store.loadSnapshot()?.collection.documents.map(\.id) == [old.record.id])
        #expect(try await store.source(of: old.record.id) == nil)
        var new = CollectionStoreTests.sampleDocument(content: "b", fileName: "b.pdf", sourcePath: nil)
        new.source = Data("%PDF-new".utf8)
        _ = try await store.add(new, header: CollectionStoreTests.header, maxChunks: 0)
        #expect(try await store.source(of: new.record.id) == Data("%PDF-new".utf8))
    }

    @Test func aDatabaseOfANewerSchemaIsRefused() async throws {
        let error = await #expect(throws: CollectionError.self) {
            try await load(after: "INSERT INTO schema_migrations (version, applied_at) VALUES (99, 'later')")
        }
        #expect(error?.code == .unsupportedVersion)
    }

    /// A database written before chunks had a context (schema 3) gains the column when a writer opens it; its chunks
    /// load as they were, without context.
    @Test func aDatabaseOfSchema3IsMigratedAndKeepsItsChunks() async throws {
        let snapshot = try #require(
            try await load(after: "ALTER TABLE chunks DROP COLUMN context; DELETE FROM schema_migrations WHERE version >= 4"))
        #expect(snapshot.collection.chunks.map(\.text) == CollectionStoreTests.sampleCollection().chunks.map(\.text))
        #expect(snapshot.collection.chunks.allSatisfy { $0.context.isEmpty })
    }

    /// A collection an earlier release wrote is usable at once, by the server and every command: its embedder is
    /// read without checking the schema, and the writable engine then migrates it. (Reading the embedder through a
    /// read-only store refused the older schema, so every command failed after an upgrade.)
    @Test func anEngineOpensACollectionOfAnEarlierSchema() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            let engine = try await Engine(
                configuration: EngineConfiguration(collectionDirectory: directory), embedder: HashingEmbedder(dimension: 64),
                metrics: RAGMetrics())
            _ = try await engine.ingest(data: Data("Pumps are primed with two litres of water.".utf8), fileName: "pump.txt")
            await engine.close()
        }
        try StorageFaults.execute(
            "ALTER TABLE chunks DROP COLUMN context; DELETE FROM schema_migrations WHERE version >= 4", in: directory)
        let embedder = try await EngineSetup.embedder(
            collectionDirectory: directory, choice: nil, openAI: nil, metrics: nil, modelsDirectory: directory,
            logger: Logger(label: "test"))
        #expect(embedder.identifier == HashingEmbedder(dimension: 64).identifier)
        let engine = try await Engine(
            configuration: EngineConfiguration(collectionDirectory: directory), embedder: embedder, metrics: RAGMetrics())
        #expect(engine.collection.documents.map(\.fileName) == ["pump.txt"])
    }

    @Test func aFileThatIsNoDatabaseIsDamage() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data(repeating: 0x41, count: 8192).write(to: directory.appendingPathComponent("collection.db"))
        let error = await #expect(throws: CollectionError.self) { try await SQLiteCollectionStore(directory: directory).loadSnapshot() }
        #expect(error?.code == .corrupt)
    }

    /// A change log entry that names another document than the one its change added, seen by a follower.
    @Test func aCraftedChangeIsDamage() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = SQLiteCollectionStore(directory: directory)
        _ = try await store.add(CollectionStoreTests.sampleDocument(), header: CollectionStoreTests.header, maxChunks: 0)
        try StorageFaults.execute("UPDATE changes SET document_id = 'another'", in: directory)
        let error = await #expect(throws: CollectionError.self) { try await store.changes(after: 0, limit: 10) }
        #expect(error?.code == .corrupt)
    }

    /// Adding a document to a large collection writes that document (its rows, and the pages of the b-trees that lead
    /// to them), not the collection: the old file was rewritten whole.
    @Test func addingADocumentGrowsTheDatabaseByTheDocumentNotByTheCollection() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let header = CollectionHeader(embedderID: "hashing-v1-d4", dimension: 4)
        func document(_ number: Int) -> StoredDocument {
            var document = CollectionStoreTests.sampleDocument(
                content: "document \(number)", fileName: "d\(number).pdf", sourcePath: nil,
                text: String(repeating: "Words of document \(number) fill its first page. ", count: 40))
            document.record.title = "Document \(number)"
            return document
        }
        do {
            let store = SQLiteCollectionStore(directory: directory)
            for number in 0..<300 { _ = try await store.add(document(number), header: header, maxChunks: 0) }
            store.closeConnection()  // closing the last connection checkpoints the WAL into the database and removes it
        }
        func bytes() throws -> Int {
            try ["collection.db", "collection.db-wal"].reduce(0) { total, name in
                let path = directory.appendingPathComponent(name).path
                guard FileManager.default.fileExists(atPath: path) else { return total }
                return total + (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0)
            }
        }
        let before = try bytes()
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("collection.db-wal").path))
        let store = SQLiteCollectionStore(directory: directory)
        _ = try await store.add(document(300), header: header, maxChunks: 0)
        let growth = try bytes() - before
        // One document of about 2 KB of text: its pages, and a handful of index and table pages, in the WAL.
        #expect(before > 500_000, "the collection is large: \(before) bytes")
        #expect(growth < 80_000, "one document wrote \(growth) bytes into a collection of \(before)")
        #expect(try await store.loadSnapshot()?.collection.documents.count == 301)
    }
}

/// Collection files of earlier releases (formats 1 and 2) become a database the first time a writable engine opens
/// the directory, and answer the same searches.
@Suite struct MigrationTests {
    static let texts = [
        "alpha.txt": "Alpacas are kept for their wool, which is warm and light.",
        "beta.txt": "Beavers build dams across rivers with branches and mud.",
        "gamma.txt": "Gamma rays are the most energetic form of light.",
    ]

    /// An in-memory engine holding the texts: the reference the migrated collection must answer like.
    static func reference() async throws -> Engine {
        let engine = try await Engine()
        for name in texts.keys.sorted() { _ = try await engine.ingest(data: Data(texts[name]!.utf8), fileName: name) }
        return engine
    }

    static let questions = ["warm wool", "rivers and dams", "energetic light", "what do beavers build"]

    @Test(arguments: [UInt32(1), 2])
    func aCollectionFileMigratesAndAnswersTheSameSearches(version: UInt32) async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let reference = try await Self.reference()
        let legacy = LegacyCollectionFile(directory: directory)
        let bytes = Data(LegacyCollectionFile.encode(reference.collection, version: version))
        try bytes.write(to: legacy.fileURL)

        let engine = try await Engine(configuration: EngineConfiguration(collectionDirectory: directory))
        #expect(engine.collection.documents == reference.collection.documents)
        #expect(engine.collection.generation == 3, "one addition in the log per document")
        for question in Self.questions {
            for mode in [RetrievalOptions.Mode.hybrid, .vector, .lexical] {
                var options = RetrievalOptions()
                options.mode = mode
                let migrated = try await engine.search(question, k: 3, retrieval: options)
                let expected = try await reference.search(question, k: 3, retrieval: options)
                #expect(migrated == expected, "\(question), \(mode)")
            }
        }
        // The old file is kept aside, unchanged; the directory now holds the database.
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(!names.contains("collection.rag") && !names.contains(".collection.db.migrating"))
        #expect(try Data(contentsOf: directory.appendingPathComponent("collection.rag.migrated")) == bytes)
        let reopened = try await Engine(configuration: EngineConfiguration(collectionDirectory: directory))
        #expect(reopened.collection.chunks == reference.collection.chunks)
        #expect(reopened.collection.vectors.f32.storage == reference.collection.vectors.f32.storage)
    }

    /// A crash during a migration, before the new database was renamed into place, leaves the old file as the
    /// collection and a temporary database: readers use the file, and the next writer migrates again from it.
    @Test func aMigrationThatCrashedBeforeItsRenameLeavesTheOldFileWorking() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let reference = try await Self.reference()
        try Data(LegacyCollectionFile.encode(reference.collection)).write(to: LegacyCollectionFile(directory: directory).fileURL)
        try Data(repeating: 0x5A, count: 10_000).write(to: directory.appendingPathComponent(".collection.db.migrating"))

        var readOnly = EngineConfiguration(collectionDirectory: directory)
        readOnly.readOnly = true
        let reader = try await Engine(configuration: readOnly)
        #expect(reader.collection.documents == reference.collection.documents)
        #expect(try await reader.search("warm wool", k: 1).first?.chunk.fileName == "alpha.txt")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("collection.db").path))

        let writer = try await Engine(configuration: EngineConfiguration(collectionDirectory: directory))
        #expect(writer.collection.documents == reference.collection.documents)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(names.contains("collection.db") && names.contains("collection.rag.migrated"))
        #expect(!names.contains(".collection.db.migrating") && !names.contains("collection.rag"))

        // The reader that was serving the old file moves to the database once, and then follows its log.
        #expect(try await reader.follow() == 3)
        _ = try await writer.ingest(data: Data("Otters hold hands while they sleep.".utf8), fileName: "otters.txt")
        #expect(try await reader.follow() == 1)
        #expect(reader.collection.documents.map(\.fileName) == writer.collection.documents.map(\.fileName))
    }

    /// A crash after the rename, before the old file was renamed aside: the database is complete and is used; the
    /// next writer renames the old file aside.
    @Test func aMigrationThatCrashedAfterItsRenameIsFinished() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let reference = try await Self.reference()
        let legacy = LegacyCollectionFile(directory: directory)
        let bytes = Data(LegacyCollectionFile.encode(reference.collection))
        try bytes.write(to: legacy.fileURL)
        _ = try await Engine(configuration: EngineConfiguration(collectionDirectory: directory))
        let aside = directory.appendingPathComponent("collection.rag.migrated")
        try FileManager.default.moveItem(at: aside, to: legacy.fileURL)

        let engine = try await Engine(configuration: EngineConfiguration(collectionDirectory: directory))
        #expect(engine.collection.documents == reference.collection.documents)
        #expect(engine.collection.generation == 3, "not migrated twice")
        #expect(!legacy.exists && FileManager.default.fileExists(atPath: aside.path))
    }

    /// Two processes opening the directory at once: one migrates, the other waits for it and uses its database.
    @Test func twoOpenersMigrateOnce() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let reference = try await Self.reference()
        try Data(LegacyCollectionFile.encode(reference.collection)).write(to: LegacyCollectionFile(directory: directory).fileURL)
        let configuration = EngineConfiguration(collectionDirectory: directory)
        async let first = Engine(configuration: configuration)
        async let second = Engine(configuration: configuration)
        let engines = try await [first, second]
        for engine in engines {
            #expect(engine.collection.documents == reference.collection.documents)
            #expect(engine.collection.generation == 3)
        }
        #expect(try await SQLiteCollectionStore(directory: directory).changes(after: 0, limit: 100).count == 3)
    }
}

/// The CLI on a directory of an earlier release: `rag doctor` (which never writes) says the collection is in the old
/// format; `rag list` migrates it and lists the same documents; `rag ingest` adds to the migrated collection.
@Suite struct CLIMigrationTests {
    @Test func ragListMigratesAnOldCollectionAndRagDoctorSaysItWillBe() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let reference = try await MigrationTests.reference()
        try Data(LegacyCollectionFile.encode(reference.collection)).write(to: LegacyCollectionFile(directory: directory).fileURL)

        let doctor = try await RAGProcess.run(["doctor"], collection: directory)
        #expect(doctor.stdout.contains("warn  format"), "\(doctor.stdout)")
        #expect(doctor.stdout.contains("3 documents"), "\(doctor.stdout)")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("collection.db").path))

        let list = try await RAGProcess.run(["list"], collection: directory)
        #expect(list.status == 0, "\(list.stderr)")
        for name in MigrationTests.texts.keys { #expect(list.stdout.contains(name), "\(list.stdout)") }
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("collection.db").path))
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("collection.rag.migrated").path))

        let text = directory.appendingPathComponent("otters.txt")
        try "Otters hold hands while they sleep.".write(to: text, atomically: true, encoding: .utf8)
        let ingest = try await RAGProcess.run(["ingest", text.path], collection: directory)
        #expect(ingest.status == 0, "\(ingest.stderr)")
        let search = try await RAGProcess.run(["search", "otters sleeping", "-k", "1"], collection: directory)
        #expect(search.stdout.contains("otters.txt"), "\(search.stdout)")
        let after = try await RAGProcess.run(["doctor"], collection: directory)
        #expect(!after.stdout.contains("warn  format") && after.stdout.contains("4 documents"), "\(after.stdout)")
    }
}

/// Where the engines of a test keep their collection: a directory (SQLite) or a fresh PostgreSQL database.
struct CollectionBackend: Sendable, CustomTestStringConvertible {
    let name: String
    var testDescription: String { name }

    static let all = [CollectionBackend(name: "sqlite"), CollectionBackend(name: "postgres")]

    /// Runs `body` with a configuration on a new, empty collection; skipped (with a message) for PostgreSQL when it is
    /// not installed outside CI.
    func withConfiguration(_ body: (EngineConfiguration) async throws -> Void) async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        guard name == "postgres" else { return try await body(EngineConfiguration(collectionDirectory: directory)) }
        guard PostgresTestServer.isAvailable else {
            print(PostgresTestServer.unavailableReason ?? "")
            return
        }
        let url = try DatabaseURL(try await PostgresTestServer.shared.freshDatabaseURL())
        try await body(EngineConfiguration(databaseURL: url, databaseMaxConnections: 4))
    }
}

/// Two engines on one collection, as two processes (a server and `rag ingest`, or two replicas): each sees the
/// other's changes by following the change log, one change at a time, without reloading the collection.
@Suite struct FollowTests {
    @Test(arguments: CollectionBackend.all)
    func aDocumentAddedOrRemovedByOneEngineIsFoundByTheOtherAfterItFollows(backend: CollectionBackend) async throws {
        try await backend.withConfiguration { configuration in
        let writer = try await Engine(configuration: configuration)
        for name in MigrationTests.texts.keys.sorted() {
            _ = try await writer.ingest(data: Data(MigrationTests.texts[name]!.utf8), fileName: name)
        }
        var readOnly = configuration
        readOnly.readOnly = true
        let metrics = RAGMetrics()
        let reader = try await Engine(configuration: readOnly, metrics: metrics)
        #expect(reader.collection.documents.count == 3)
        #expect(try await reader.follow() == 0, "nothing new")

        _ = try await writer.ingest(data: Data("Otters hold hands while they sleep.".utf8), fileName: "otters.txt")
        #expect(try await reader.search("otters sleep", k: 1).first?.chunk.fileName != "otters.txt")
        #expect(try await reader.follow() == 1, "one change applied, not a reload")
        let text = metrics.render()
        #expect(text.contains("rag_collection_changes_applied_total 1\n"), "\(text)")
        #expect(text.contains("rag_collection_version 4.0\n"), "\(text)")
        #expect(try await reader.search("otters sleep", k: 1).first?.chunk.fileName == "otters.txt")
        #expect(reader.collection.generation == writer.collection.generation)

        _ = try await writer.remove("beta.txt")
        _ = try await writer.remove("otters.txt")
        #expect(try await reader.follow() == 2)
        #expect(reader.collection.documents.map(\.fileName) == ["alpha.txt", "gamma.txt"])
        #expect(reader.collection.chunks == writer.collection.chunks)
        #expect(reader.collection.vectors.f32.storage == writer.collection.vectors.f32.storage)
        #expect(try await reader.search("beavers dams", k: 3).allSatisfy { $0.chunk.fileName != "beta.txt" })
        await reader.close()
        await writer.close()
        }
    }

    /// A writer applies the changes another process made before its own, in order, so that its collection is the
    /// store's.
    @Test(arguments: CollectionBackend.all)
    func aWriterAppliesOtherWritersChangesBeforeItsOwn(backend: CollectionBackend) async throws {
        try await backend.withConfiguration { configuration in
        let first = try await Engine(configuration: configuration)
        let second = try await Engine(configuration: configuration)
        _ = try await first.ingest(data: Data("Alpacas are kept for their wool.".utf8), fileName: "alpha.txt")
        _ = try await second.ingest(data: Data("Beavers build dams.".utf8), fileName: "beta.txt")
        #expect(second.collection.documents.map(\.fileName) == ["alpha.txt", "beta.txt"])
        _ = try await second.remove("alpha.txt")
        _ = try await first.ingest(data: Data("Gamma rays are light.".utf8), fileName: "gamma.txt")
        #expect(first.collection.documents.map(\.fileName) == ["beta.txt", "gamma.txt"])
        #expect(first.collection.generation == 4)
        let fresh = try await Engine(configuration: configuration)
        #expect(fresh.collection.documents == first.collection.documents)
        #expect(fresh.collection.vectors.f32.storage == first.collection.vectors.f32.storage)
        for engine in [first, second, fresh] { await engine.close() }
        }
    }

    /// A second engine on the same database learns of the first's addition from its notification, without any polling (how
    /// soon is Benchmarks/scripts/replicas.py's to measure), and catches up from the change log.
    @Test(.enabled(if: PostgresTestServer.isAvailable, Comment(rawValue: PostgresTestServer.unavailableReason ?? "")))
    func anAdditionIsSignalledToTheOtherEngine() async throws {
        try await CollectionBackend(name: "postgres").withConfiguration { configuration in
            let writer = try await Engine(configuration: configuration)
            let reader = try await Engine(configuration: configuration)
            var signals = try #require(reader.changeSignals()).makeAsyncIterator()
            #expect(await signals.next() == 0, "listening")
            _ = try await writer.ingest(data: Data("Otters hold hands while they sleep.".utf8), fileName: "otters.txt")
            let signalled = await signals.next()
            #expect(signalled == 1)
            #expect(try await reader.follow() == 1)
            #expect(try await reader.search("otters sleep", k: 1).first?.chunk.fileName == "otters.txt")
            await reader.close()
            await writer.close()
        }
    }
}

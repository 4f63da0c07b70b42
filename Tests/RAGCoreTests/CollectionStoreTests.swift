import Foundation
import RAGCore
import Synchronization
import TestSupport
import Testing

/// A way to make a store over a fresh place, so that every store test runs against each store: SQLite, PostgreSQL
/// and the in-memory twin. `make` called again with the same directory opens the same collection (a second process's
/// store: for SQLite the same directory, for PostgreSQL the same database, for memory the same instance).
struct StoreFactory: Sendable, CustomTestStringConvertible {
    let name: String
    let make: @Sendable (URL) async throws -> any CollectionStore
    var testDescription: String { name }

    /// Whether the store can be made here (PostgreSQL may be missing outside CI; see `PostgresTestServer`).
    var isAvailable: Bool { name != "postgres" || PostgresTestServer.isAvailable }

    static let sqlite = StoreFactory(name: "sqlite") { SQLiteCollectionStore(directory: $0) }
    static let postgres = StoreFactory(name: "postgres") { directory in
        try await PostgresCollectionStore(url: try await TestDatabases.shared.url(for: directory), maxConnections: 4)
    }
    static let memory = StoreFactory(name: "memory") { directory in TestDatabases.memory(for: directory) }

    static let all: [StoreFactory] = [sqlite, postgres, memory]
}

/// A fresh PostgreSQL database per test directory (made on first use), and a memory store per directory.
actor TestDatabases {
    static let shared = TestDatabases()
    private var urls: [String: DatabaseURL] = [:]
    private static let memoryStores = Mutex<[String: MemoryCollectionStore]>([:])

    func url(for directory: URL) async throws -> DatabaseURL {
        if let url = urls[directory.path] { return url }
        let url = try DatabaseURL(try await PostgresTestServer.shared.freshDatabaseURL())
        urls[directory.path] = url
        return url
    }

    static func memory(for directory: URL) -> MemoryCollectionStore {
        memoryStores.withLock { stores in
            if let store = stores[directory.path] { return store }
            let store = MemoryCollectionStore()
            stores[directory.path] = store
            return store
        }
    }
}

/// The behaviour every `CollectionStore` shares: what `add`, `remove`, `changes` and `loadSnapshot` do and refuse.
@Suite struct CollectionStoreTests {
    static let header = CollectionHeader(embedderID: "hashing-v1-d4", dimension: 4)

    static func sampleCollection() -> DocumentCollection {
        var collection = DocumentCollection(embedderID: "hashing-v1-d4", dimension: 4)
        let document = sampleDocument()
        collection.add(document.record, chunks: document.chunks, normalizedVectors: document.vectors, terms: document.terms)
        return collection
    }

    /// A two-page PDF's record and chunks, with the given content (its hash and id follow from it).
    static func sampleDocument(content: String = "a", fileName: String = "a.pdf", sourcePath: String? = "/x/a.pdf", text: String = "one")
        -> StoredDocument
    {
        let document = Document(
            fileName: fileName, kind: .pdf, title: "Title", author: "Ann", pageCount: 2,
            pages: [Page(number: 1, text: text), Page(number: 2, text: "two")],
            warnings: [DocumentWarning(kind: .pageFailed, page: 3, message: "broken")], contentHash: SHA256.hex(content),
            byteCount: 10, outline: [OutlineEntry(title: "Basics", depth: 0, page: 2)])
        // With section context, so that the stores must keep each chunk's context ("Basics" on page 2).
        let chunks = Chunker(options: ChunkingOptions(sectionContext: true)).chunks(of: document)
        var vectors = VectorIndex(dimension: 4)
        vectors.add(chunks.indices.map { [1, 2, 3, Float($0 + 4)] })
        return StoredDocument(
            record: DocumentRecord(document: document, chunkCount: chunks.count, sourcePath: sourcePath), chunks: chunks,
            vectors: vectors.storage, terms: DocumentTerms(texts: chunks.map(\.indexedText)))
    }

    /// A document's statistics as a table, whatever the order of its terms.
    static func termTable(_ terms: DocumentTerms) -> [String: [DocumentTerms.Posting]] {
        Dictionary(uniqueKeysWithValues: zip(terms.terms, terms.postings))
    }

    func withStore(_ factory: StoreFactory, _ body: (any CollectionStore, URL) async throws -> Void) async throws {
        guard factory.isAvailable else {
            print(PostgresTestServer.unavailableReason ?? "")
            return
        }
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try await factory.make(directory)
        do {
            try await body(store, directory)
        } catch {
            await store.shutdown()
            throw error
        }
        await store.shutdown()
    }

    @Test(arguments: StoreFactory.all)
    func anEmptyStoreHasNoCollection(factory: StoreFactory) async throws {
        try await withStore(factory) { (store: any CollectionStore, _: URL) async throws in
            #expect(try await store.loadSnapshot() == nil)
            #expect(try await store.header() == nil)
            #expect(try await store.currentVersion() == 0)
            #expect(try await store.changes(after: 0, limit: 10).isEmpty)
            #expect(try await store.remove(DocumentID(rawValue: "nothing")) == nil)
        }
    }

    @Test(arguments: StoreFactory.all)
    func aDocumentRoundTripsWithEverything(factory: StoreFactory) async throws {
        try await withStore(factory) { store, _ in
            let document = Self.sampleDocument()
            guard case .added(let replaced, let first, let version) = try await store.add(document, header: Self.header, maxChunks: 0) else {
                Issue.record("not added")
                return
            }
            #expect(replaced.isEmpty && first == 1 && version == 1)
            #expect(try await store.header() == Self.header)
            let snapshot = try #require(try await store.loadSnapshot())
            var expected = DocumentCollection(embedderID: "hashing-v1-d4", dimension: 4)
            expected.add(document.record, chunks: document.chunks, normalizedVectors: document.vectors, terms: document.terms)
            #expect(snapshot.version == 1 && snapshot.collection.generation == 1)
            #expect(snapshot.collection.embedderID == "hashing-v1-d4" && snapshot.collection.dimension == 4)
            #expect(snapshot.collection.documents == expected.documents)
            #expect(snapshot.collection.documents[0].warnings.first?.page == 3)
            #expect(snapshot.collection.chunks == expected.chunks)
            #expect(snapshot.collection.chunks.map(\.context) == ["Title", "Basics"])
            #expect(snapshot.collection.vectors.f32.storage == expected.vectors.f32.storage)
            #expect(snapshot.collection.lexicalSearch("two", k: 3) == expected.lexicalSearch("two", k: 3))
            #expect(snapshot.collection.lexicalIndex.termCount == expected.lexicalIndex.termCount)
        }
    }

    @Test(arguments: StoreFactory.all)
    func theSameContentIsAddedOnceAndTheQuotaIsCheckedInTheTransaction(factory: StoreFactory) async throws {
        try await withStore(factory) { store, _ in
            let document = Self.sampleDocument()
            _ = try await store.add(document, header: Self.header, maxChunks: 0)
            var again = Self.sampleDocument(sourcePath: "/elsewhere/a.pdf")
            again.record.ingestedAt = Date(timeIntervalSince1970: 0)
            guard case .unchanged(let existing) = try await store.add(again, header: Self.header, maxChunks: 0) else {
                Issue.record("added twice")
                return
            }
            #expect(existing == document.record)
            let other = Self.sampleDocument(content: "b", fileName: "b.pdf", sourcePath: nil)
            guard case .overQuota(let chunks) = try await store.add(other, header: Self.header, maxChunks: document.chunks.count + 1)
            else {
                Issue.record("over the quota, yet added")
                return
            }
            #expect(chunks == document.chunks.count)
            #expect(try await store.currentVersion() == 1)
        }
    }

    @Test(arguments: StoreFactory.all)
    func aNewVersionFromTheSamePathReplacesTheOldOneAndTheLogSaysSo(factory: StoreFactory) async throws {
        try await withStore(factory) { store, _ in
            let first = Self.sampleDocument()
            _ = try await store.add(first, header: Self.header, maxChunks: 0)
            let second = Self.sampleDocument(content: "a2", text: "changed")
            // The replaced document's chunks do not count against the quota.
            guard case .added(let replaced, let firstChange, let version) = try await store.add(
                second, header: Self.header, maxChunks: second.chunks.count)
            else {
                Issue.record("not added")
                return
            }
            #expect(replaced == [first.record.id] && firstChange == 2 && version == 3)
            let snapshot = try #require(try await store.loadSnapshot())
            #expect(snapshot.collection.documents.map(\.id) == [second.record.id])
            #expect(snapshot.collection.chunks == second.chunks)

            let changes = try await store.changes(after: 0, limit: 10)
            #expect(changes.map(\.version) == [1, 2, 3])
            #expect(changes.map(\.documentID) == [first.record.id, first.record.id, second.record.id])
            // The first addition's document is gone: nothing to add, the removal after it says so.
            guard case .added(nil) = changes[0].kind, case .removed = changes[1].kind, case .added(let added?) = changes[2].kind else {
                Issue.record("unexpected changes")
                return
            }
            #expect(added.record == second.record && added.chunks == second.chunks && added.vectors == second.vectors)
            #expect(Self.termTable(added.terms) == Self.termTable(second.terms), "the same statistics, in any term order")
            #expect(try await store.changes(after: 2, limit: 10).map(\.version) == [3])
            #expect(try await store.changes(after: 0, limit: 1).map(\.version) == [1])
        }
    }

    @Test(arguments: StoreFactory.all)
    func removeDeletesTheDocumentAndLogsIt(factory: StoreFactory) async throws {
        try await withStore(factory) { store, _ in
            let first = Self.sampleDocument()
            let other = Self.sampleDocument(content: "b", fileName: "b.pdf", sourcePath: nil)
            _ = try await store.add(first, header: Self.header, maxChunks: 0)
            _ = try await store.add(other, header: Self.header, maxChunks: 0)
            let removed = try #require(try await store.remove(first.record.id))
            #expect(removed.record == first.record && removed.version == 3)
            #expect(try await store.remove(first.record.id) == nil)
            let snapshot = try #require(try await store.loadSnapshot())
            #expect(snapshot.version == 3)
            #expect(snapshot.collection.documents.map(\.fileName) == ["b.pdf"])
            #expect(snapshot.collection.vectors.count == other.chunks.count)
            #expect(snapshot.collection.search(vector: [1, 2, 3, 4], k: 3).allSatisfy { $0.chunk.fileName == "b.pdf" })
        }
    }

    /// A PDF's original bytes are kept with it, so that any process can render its pages; a document without them
    /// (a text file, or one added before the store kept sources) has none, and removing a document removes them.
    @Test(arguments: StoreFactory.all)
    func aDocumentsSourceIsKeptWithItAndGoesWithIt(factory: StoreFactory) async throws {
        try await withStore(factory) { store, directory in
            var pdf = Self.sampleDocument()
            let bytes = Data((0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })  // past one database page
            pdf.source = bytes
            let older = Self.sampleDocument(content: "b", fileName: "b.pdf", sourcePath: nil)
            _ = try await store.add(pdf, header: Self.header, maxChunks: 0)
            _ = try await store.add(older, header: Self.header, maxChunks: 0)
            #expect(try await store.source(of: pdf.record.id) == bytes)
            #expect(try await store.source(of: older.record.id) == nil)
            #expect(try await store.source(of: DocumentID(rawValue: "nothing")) == nil)
            // Another process on the same collection reads the same bytes (any replica renders any page).
            let second = try await factory.make(directory)
            #expect(try await second.source(of: pdf.record.id) == bytes)
            await second.shutdown()
            // Snapshots and changes never carry the bytes.
            for change in try await store.changes(after: 0, limit: 10) {
                if case .added(let document?) = change.kind { #expect(document.source == nil) }
            }
            _ = try #require(try await store.remove(pdf.record.id))
            #expect(try await store.source(of: pdf.record.id) == nil)
            // Added again, it has its bytes again.
            _ = try await store.add(pdf, header: Self.header, maxChunks: 0)
            #expect(try await store.source(of: pdf.record.id) == bytes)
        }
    }

    @Test(arguments: StoreFactory.all)
    func aCollectionKeepsItsEmbedder(factory: StoreFactory) async throws {
        try await withStore(factory) { store, _ in
            _ = try await store.add(Self.sampleDocument(), header: Self.header, maxChunks: 0)
            let other = CollectionHeader(embedderID: "minilm-l6-v2", dimension: 4)
            let error = await #expect(throws: CollectionError.self) {
                try await store.add(Self.sampleDocument(content: "b"), header: other, maxChunks: 0)
            }
            #expect(error?.code == .embedderMismatch)
            #expect(try await store.currentVersion() == 1)
        }
    }

    /// Applying the log to an older snapshot gives the collection a fresh load gives.
    @Test(arguments: StoreFactory.all)
    func applyingTheLogEqualsLoadingAfresh(factory: StoreFactory) async throws {
        try await withStore(factory) { store, _ in
            _ = try await store.add(Self.sampleDocument(), header: Self.header, maxChunks: 0)
            let before = try #require(try await store.loadSnapshot())
            _ = try await store.add(Self.sampleDocument(content: "b", fileName: "b.pdf", sourcePath: nil, text: "bee"), header: Self.header, maxChunks: 0)
            _ = try await store.add(Self.sampleDocument(content: "a2", text: "changed"), header: Self.header, maxChunks: 0)
            var followed = before.collection
            for change in try await store.changes(after: before.version, limit: 100) { followed.apply(change) }
            let fresh = try #require(try await store.loadSnapshot())
            #expect(followed.generation == fresh.version && fresh.version == 4)
            #expect(followed.documents == fresh.collection.documents)
            #expect(followed.chunks == fresh.collection.chunks)
            #expect(followed.vectors.f32.storage == fresh.collection.vectors.f32.storage)
            #expect(followed.lexicalSearch("bee changed two", k: 5) == fresh.collection.lexicalSearch("bee changed two", k: 5))
        }
    }

    @Test(arguments: StoreFactory.all)
    func anotherStoreOnTheSameCollectionLoadsTheSameSnapshot(factory: StoreFactory) async throws {
        try await withStore(factory) { store, directory in
            _ = try await store.add(Self.sampleDocument(), header: Self.header, maxChunks: 0)
            _ = try await store.add(Self.sampleDocument(content: "b", fileName: "b.pdf", sourcePath: nil, text: "bee"), header: Self.header, maxChunks: 0)
            _ = try await store.remove(Self.sampleDocument().record.id)
            let reopened = try await factory.make(directory)
            let mine = try #require(try await store.loadSnapshot())
            let theirs = try #require(try await reopened.loadSnapshot())
            await reopened.shutdown()
            #expect(mine.version == 3 && theirs.version == 3)
            #expect(mine.collection.documents == theirs.collection.documents)
            #expect(mine.collection.chunks == theirs.collection.chunks)
            #expect(mine.collection.vectors.f32.storage == theirs.collection.vectors.f32.storage)
            #expect(mine.collection.lexicalSearch("bee two", k: 5) == theirs.collection.lexicalSearch("bee two", k: 5))
        }
    }

    /// Two stores (two processes) adding at once: every change gets its own number, the log has no gap, and what each
    /// was told matches the log.
    @Test(arguments: StoreFactory.all)
    func concurrentWritersMakeAGapFreeOrderedLog(factory: StoreFactory) async throws {
        try await withStore(factory) { store, directory in
            let other = try await factory.make(directory)
            let perWriter = 12
            let told = try await withThrowingTaskGroup(of: [(UInt64, DocumentID)].self) { group in
                for (writer, target) in [store, other].enumerated() {
                    group.addTask {
                        var versions: [(UInt64, DocumentID)] = []
                        for index in 0..<perWriter {
                            let document = Self.sampleDocument(
                                content: "w\(writer)-\(index)", fileName: "w\(writer)-\(index).pdf", sourcePath: nil, text: "text \(writer) \(index)")
                            guard case .added(_, _, let version) = try await target.add(document, header: Self.header, maxChunks: 0) else {
                                throw CollectionError(.io, "not added")
                            }
                            versions.append((version, document.record.id))
                        }
                        return versions
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            await other.shutdown()
            let log = try await store.changes(after: 0, limit: 1000)
            #expect(log.map(\.version) == Array(1...UInt64(2 * perWriter)))
            #expect(Set(told.map(\.0)) == Set(log.map(\.version)))
            for (version, id) in told { #expect(log[Int(version) - 1].documentID == id) }
            #expect(try await store.currentVersion() == UInt64(2 * perWriter))
            #expect(try #require(try await store.loadSnapshot()).collection.documents.count == 2 * perWriter)
        }
    }
}

import Foundation
import RAGCore
import Testing

/// A way to make a store over a fresh directory, so that every store test runs against each store: SQLite and the
/// in-memory twin now, a database server's store later.
struct StoreFactory: Sendable, CustomTestStringConvertible {
    let name: String
    let make: @Sendable (URL) -> any CollectionStore
    var testDescription: String { name }

    static let all: [StoreFactory] = [
        StoreFactory(name: "sqlite") { SQLiteCollectionStore(directory: $0) },
        StoreFactory(name: "memory") { _ in MemoryCollectionStore() },
    ]
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
            byteCount: 10)
        let chunks = Chunker().chunks(of: document)
        var vectors = VectorIndex(dimension: 4)
        vectors.add(chunks.indices.map { [1, 2, 3, Float($0 + 4)] })
        return StoredDocument(
            record: DocumentRecord(document: document, chunkCount: chunks.count, sourcePath: sourcePath), chunks: chunks,
            vectors: vectors.storage, terms: DocumentTerms(texts: chunks.map(\.text)))
    }

    /// A document's statistics as a table, whatever the order of its terms.
    static func termTable(_ terms: DocumentTerms) -> [String: [DocumentTerms.Posting]] {
        Dictionary(uniqueKeysWithValues: zip(terms.terms, terms.postings))
    }

    func withStore(_ factory: StoreFactory, _ body: (any CollectionStore, URL) async throws -> Void) async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try await body(factory.make(directory), directory)
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
            #expect(snapshot.collection.index.storage == expected.index.storage)
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
            #expect(snapshot.collection.index.count == other.chunks.count)
            #expect(snapshot.collection.search(vector: [1, 2, 3, 4], k: 3).allSatisfy { $0.chunk.fileName == "b.pdf" })
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
            #expect(followed.index.storage == fresh.collection.index.storage)
            #expect(followed.lexicalSearch("bee changed two", k: 5) == fresh.collection.lexicalSearch("bee changed two", k: 5))
        }
    }
}

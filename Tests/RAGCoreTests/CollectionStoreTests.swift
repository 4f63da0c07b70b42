import Foundation
import RAGCore
import Testing

@Suite struct CollectionStoreTests {
    static func sampleCollection() -> DocumentCollection {
        var collection = DocumentCollection(embedderID: "hashing-v1-d4", dimension: 4)
        let document = Document(
            fileName: "a.pdf", kind: .pdf, title: "Title", author: "Ann", pageCount: 2,
            pages: [Page(number: 1, text: "one"), Page(number: 2, text: "two")],
            warnings: [DocumentWarning(kind: .pageFailed, page: 3, message: "broken")], contentHash: SHA256.hex("a"),
            byteCount: 10)
        let chunks = Chunker().chunks(of: document)
        collection.add(DocumentRecord(document: document, chunkCount: chunks.count, sourcePath: "/x/a.pdf"), chunks: chunks, vectors: chunks.map { _ in [1, 2, 3, 4] })
        return collection
    }

    @Test func roundTripKeepsEverything() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = CollectionStore(directory: directory)
        #expect(try store.load() == nil)
        var collection = Self.sampleCollection()
        try store.save(&collection)
        #expect(collection.generation == 1)
        #expect(store.generationOnDisk() == 1)
        let loaded = try #require(try store.load())
        #expect(loaded.embedderID == "hashing-v1-d4")
        #expect(loaded.documents == collection.documents)
        #expect(loaded.chunks == collection.chunks)
        #expect(loaded.index.storage == collection.index.storage)
        #expect(loaded.generation == 1)
        #expect(loaded.documents[0].warnings.first?.page == 3)
    }

    @Test func refusesAFlippedByte() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = CollectionStore(directory: directory)
        var collection = Self.sampleCollection()
        try store.save(&collection)
        var bytes = try Data(contentsOf: store.fileURL)
        bytes[bytes.count / 2] ^= 0x40
        try bytes.write(to: store.fileURL)
        let error = #expect(throws: CollectionError.self) { try store.load() }
        #expect(error?.code == .corrupt)
        #expect(error?.description.contains("damaged") == true)
    }

    @Test func refusesATruncatedFileAndAnotherFormat() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = CollectionStore(directory: directory)
        var collection = Self.sampleCollection()
        try store.save(&collection)
        let bytes = try Data(contentsOf: store.fileURL)
        try bytes.prefix(bytes.count - 9).write(to: store.fileURL)
        #expect(throws: CollectionError.self) { try store.load() }
        try Data("not a collection".utf8).write(to: store.fileURL)
        #expect((#expect(throws: CollectionError.self) { try store.load() })?.code == .corrupt)
        var newer = bytes
        newer[8] = 99  // format version
        try newer.write(to: store.fileURL)
        #expect((#expect(throws: CollectionError.self) { try store.load() })?.code == .unsupportedVersion)
    }

    @Test func aCrashedWriteLeavesThePreviousStateReadable() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = CollectionStore(directory: directory)
        var collection = Self.sampleCollection()
        try store.save(&collection)
        // A writer that died after writing half a temporary file: the collection file is untouched.
        try Data(repeating: 0xAB, count: 1000).write(to: directory.appendingPathComponent(".collection.rag.999.tmp"))
        let loaded = try #require(try store.load())
        #expect(loaded.chunks == collection.chunks)
        // The next save replaces the file whole.
        collection.remove(collection.documents[0].id)
        try store.save(&collection)
        #expect(try store.load()?.documents.isEmpty == true)
    }

    @Test func removeDeletesChunksAndVectors() {
        var collection = Self.sampleCollection()
        let other = Document(fileName: "b.txt", kind: .text, pageCount: 1, pages: [Page(number: 1, text: "bee")], contentHash: SHA256.hex("b"), byteCount: 3)
        let chunks = Chunker().chunks(of: other)
        collection.add(DocumentRecord(document: other, chunkCount: 1, sourcePath: nil), chunks: chunks, vectors: [[0, 0, 0, 1]])
        #expect(collection.index.count == 3)
        let removed = collection.remove(collection.documents[0].id)
        #expect(removed)
        #expect(collection.documents.map(\.fileName) == ["b.txt"])
        #expect(collection.chunks.count == 1 && collection.index.count == 1)
        #expect(Array(collection.index.vector(at: 0)) == [0, 0, 0, 1])
        #expect(collection.search(vector: [0, 0, 0, 1], k: 3).map(\.chunk.fileName) == ["b.txt"])
    }
}

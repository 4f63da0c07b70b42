import Foundation
import RAGCore
import RAGTesting
import Testing

/// A collection file of an earlier release written field by field, as `LegacyCollectionFile` describes the format, so
/// that any field can be given a value no writer would produce; the CRC-32 at the end is always valid.
struct CraftedCollection {
    var embedderID = Array("hashing-v1-d4".utf8)
    var embedderIDLength: UInt32?
    var dimension: UInt32 = 4
    var documentCount: UInt32 = 1
    var chunkCount: UInt64?
    /// The document position of each chunk, in row order.
    var chunkDocuments: [UInt32] = [0]
    var documentTable: [UInt8] = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try! encoder.encode(CollectionStoreTests.sampleCollection().documents))
    }()
    var documentTableLength: UInt64?
    var chunkIDLength: UInt32?
    var chunkTextLength: UInt32?
    var lexicalRows: UInt64?
    var termCount: UInt32 = 2
    var postingCount: UInt32 = 1
    var postingRow: UInt32 = 0

    var bytes: Data {
        var out: [UInt8] = Array("RAGCOLL\0".utf8)
        func u32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { out += $0 } }
        func u64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { out += $0 } }
        func string(_ bytes: [UInt8], length: UInt32? = nil) {
            u32(length ?? UInt32(bytes.count))
            out += bytes
        }
        u32(2)  // format version
        u64(7)  // generation
        string(embedderID, length: embedderIDLength)
        u32(dimension)
        u32(documentCount)
        u64(chunkCount ?? UInt64(chunkDocuments.count))
        u64(documentTableLength ?? UInt64(documentTable.count))
        out += documentTable
        // Each chunk: document, pages 1–1, ordinal, id, text; then the vectors.
        for (row, document) in chunkDocuments.enumerated() {
            for value: UInt32 in [document, 1, 1, UInt32(row)] { u32(value) }
            string(Array("c\(row)".utf8), length: chunkIDLength)
            string(Array("hello world".utf8), length: chunkTextLength)
        }
        for _ in chunkDocuments {
            for value: Float in [1, 0, 0, 0] { u32(value.bitPattern) }
        }
        // The lexical index: analyzer version, k1, b, rows, row lengths, terms with their postings.
        u32(TextAnalyzer.version)
        u32(Float(1.2).bitPattern)
        u32(Float(0.75).bitPattern)
        u64(lexicalRows ?? UInt64(chunkDocuments.count))
        for _ in chunkDocuments { u32(2) }
        u32(termCount)
        for term in ["hello", "world"] {
            string(Array(term.utf8))
            u32(postingCount)
            u32(postingRow)
            u32(1)
        }
        u32(Self.crc32(out))
        return Data(out)
    }

    /// CRC-32 (IEEE, as zlib's `crc32`), bit by bit.
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
}

@Suite struct CollectionHardeningTests {
    func load(_ crafted: CraftedCollection) throws -> DocumentCollection? {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = LegacyCollectionFile(directory: directory)
        try crafted.bytes.write(to: file.fileURL)
        return try file.load()
    }

    @Test func theCraftedFileIsValidAsItIs() throws {
        let collection = try #require(try load(CraftedCollection()))
        #expect(collection.chunks.map(\.text) == ["hello world"])
        #expect(collection.generation == 7)
        #expect(collection.lexicalIndex.count == 1)
        var two = CraftedCollection()
        two.chunkDocuments = [0, 0, 0]
        #expect(try load(two)?.chunks.count == 3)
    }

    /// One field of ``CraftedCollection`` set to a value no writer produces.
    struct Edit: Sendable, CustomTestStringConvertible {
        let name: String
        let apply: @Sendable (inout CraftedCollection) -> Void
        init(_ name: String, _ apply: @escaping @Sendable (inout CraftedCollection) -> Void) {
            self.name = name
            self.apply = apply
        }
        var testDescription: String { name }
    }

    static let edits: [Edit] = [
        Edit("chunk count past Int.max") { $0.chunkCount = .max },
        Edit("chunk count of 2^40 (a 96 TB vector index)") { $0.chunkCount = 1 << 40 },
        Edit("chunk count times dimension overflows") { $0.chunkCount = 1 << 40; $0.dimension = .max },
        Edit("huge dimension") { $0.dimension = .max },
        Edit("document table length past Int.max") { $0.documentTableLength = .max },
        Edit("document table length of Int.max") { $0.documentTableLength = UInt64(Int.max) },
        Edit("document table length one too many") { $0.documentTableLength = UInt64($0.documentTable.count + 1) },
        Edit("document count that the table does not hold") { $0.documentCount = .max },
        Edit("embedder id length") { $0.embedderIDLength = .max },
        Edit("chunk id length") { $0.chunkIDLength = .max },
        Edit("chunk text length") { $0.chunkTextLength = .max },
        Edit("lexical row count past Int.max") { $0.lexicalRows = .max },
        Edit("lexical row count differing from the chunks") { $0.lexicalRows = 2 },
        Edit("term count") { $0.termCount = .max },
        Edit("term count one too many") { $0.termCount = 3 },
        Edit("posting count") { $0.postingCount = .max },
        Edit("posting count over the rows") { $0.postingCount = 2 },
        Edit("posting to a missing row") { $0.postingRow = 5 },
        // Found by scripts/fuzz.sh: two documents with one id read, but saved back as something else.
        Edit("two documents with one id") { file in
            let documents = CollectionStoreTests.sampleCollection().documents
            file.documentTable = Array(try! JSONEncoder().encode(documents + documents))
            file.documentCount = 2
        },
        Edit("a document's chunks not consecutive") { file in
            var second = CollectionStoreTests.sampleCollection().documents[0]
            second.id = DocumentID(rawValue: "another")
            file.documentTable = Array(try! JSONEncoder().encode(CollectionStoreTests.sampleCollection().documents + [second]))
            file.documentCount = 2
            file.chunkDocuments = [0, 1, 0]
        },
    ]

    /// Issue #12 item 12: a count or length read from disk is never trusted. Each of these has a valid checksum;
    /// before the fix some trapped on an integer conversion or an overflow, or asked for terabytes.
    @Test(arguments: edits)
    func oversizedCountsAreDamageNotCrashes(edit: Edit) throws {
        var file = CraftedCollection()
        edit.apply(&file)
        let error = #expect(throws: CollectionError.self) { try load(file) }
        #expect(error?.code == .corrupt)
        #expect(error?.message.contains("damaged") == true)
    }

    @Test func messagesSayWhatIsDamaged() throws {
        var file = CraftedCollection()
        file.chunkCount = 1 << 40
        let error = #expect(throws: CollectionError.self) { try load(file) }
        #expect(error?.message.contains("chunk count too large") == true)
        file = CraftedCollection()
        file.termCount = .max
        #expect((#expect(throws: CollectionError.self) { try load(file) })?.message.contains("term count too large") == true)
    }

    /// Issue #12 item 13: the collection holds every document's text, so its files (the database and SQLite's WAL
    /// and shared-memory files) are 0600 and the directories the store creates 0700, whatever the umask.
    @Test func collectionFilesAndDirectoriesAreOwnerOnly() async throws {
        let root = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let directory = root.appendingPathComponent("parent/collection")
        let previous = umask(0)  // the most permissive umask: only explicit modes give 0600/0700
        defer { umask(previous) }
        let engine = try await Engine(configuration: EngineConfiguration(collectionDirectory: directory), embedder: MockEmbedder(dimension: 8))
        _ = try await engine.ingest(data: Data("Employees get 25 vacation days.".utf8), fileName: "hr.txt")
        await engine.flush()
        func mode(_ url: URL) throws -> Int {
            try #require(try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int)
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(names.contains("collection.db"))
        for name in names { #expect(try mode(directory.appendingPathComponent(name)) == 0o600, "\(name)") }
        #expect(try mode(directory) == 0o700)
        #expect(try mode(root.appendingPathComponent("parent")) == 0o700)
    }

    /// A directory that exists keeps its mode: the store narrows only what it creates.
    @Test func anExistingDirectoryKeepsItsMode() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.setAttributes([.posixPermissions: 0o750], ofItemAtPath: directory.path)
        let store = SQLiteCollectionStore(directory: directory)
        _ = try await store.add(CollectionStoreTests.sampleDocument(), header: CollectionStoreTests.header, maxChunks: 0)
        let attributes = try FileManager.default.attributesOfItem(atPath: directory.path)
        #expect(attributes[.posixPermissions] as? Int == 0o750)
        let file = try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent("collection.db").path)
        #expect(file[.posixPermissions] as? Int == 0o600)
    }
}

/// The reader of the collection files of earlier releases (what a migration reads) refuses damage.
@Suite struct LegacyCollectionFileTests {
    func write(_ bytes: Data) throws -> (LegacyCollectionFile, URL) {
        let directory = temporaryDirectory()
        let file = LegacyCollectionFile(directory: directory)
        try bytes.write(to: file.fileURL)
        return (file, directory)
    }

    @Test func refusesAFlippedByte() throws {
        var bytes = Data(LegacyCollectionFile.encode(CollectionStoreTests.sampleCollection()))
        bytes[bytes.count / 2] ^= 0x40
        let (file, directory) = try write(bytes)
        defer { try? FileManager.default.removeItem(at: directory) }
        let error = #expect(throws: CollectionError.self) { try file.load() }
        #expect(error?.code == .corrupt)
        #expect(error?.description.contains("damaged") == true)
    }

    @Test func refusesATruncatedFileAndAnotherFormat() throws {
        let bytes = Data(LegacyCollectionFile.encode(CollectionStoreTests.sampleCollection()))
        let (file, directory) = try write(bytes.prefix(bytes.count - 9))
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(throws: CollectionError.self) { try file.load() }
        try Data("not a collection".utf8).write(to: file.fileURL)
        #expect((#expect(throws: CollectionError.self) { try file.load() })?.code == .corrupt)
        var newer = bytes
        newer[8] = 99  // format version
        try newer.write(to: file.fileURL)
        #expect((#expect(throws: CollectionError.self) { try file.load() })?.code == .unsupportedVersion)
    }

    @Test func readsWhatItWasGiven() throws {
        let collection = CollectionStoreTests.sampleCollection()
        let (file, directory) = try write(Data(LegacyCollectionFile.encode(collection)))
        defer { try? FileManager.default.removeItem(at: directory) }
        let loaded = try #require(try file.load())
        // The old format has no chunk contexts: they come back empty.
        let withoutContext = collection.chunks.map { chunk in
            var chunk = chunk
            chunk.context = ""
            return chunk
        }
        #expect(loaded.documents == collection.documents && loaded.chunks == withoutContext)
        #expect(loaded.vectors.f32.storage == collection.vectors.f32.storage)
        #expect(file.header() == CollectionHeader(embedderID: "hashing-v1-d4", dimension: 4))
    }
}

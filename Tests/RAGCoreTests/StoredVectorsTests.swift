import Foundation
import RAGCore
import RAGTesting
import Testing
import TestSupport

/// Collections that store their vectors as fp16 or int8 (`--vector-storage`): the stored form round-trips, rows no
/// writer makes are refused, fp16 finds what fp32 finds and int8 nearly so, in a quarter or half the memory.
@Suite struct StoredVectorsTests {
    static let dimension = 48

    /// The collection of `CompactCollectionTests.collection`, its vectors stored as `storage`.
    static func collection(storage: VectorFormat, documents: Int = 12, chunks: Int = 150, seed: UInt64 = 11) -> DocumentCollection {
        var collection = DocumentCollection(embedderID: "mock", dimension: dimension, storage: storage)
        let words = ["alpha", "beta", "gamma", "delta", "printer", "queue", "vacation", "receipt", "policy", "travel"]
        var generator = SplitMix(seed: seed)
        for number in 0..<documents {
            CompactCollectionTests.add(number, chunks: chunks, to: &collection, words: words, generator: &generator)
        }
        return collection
    }

    static func ids(_ hits: [SearchHit]) -> [String] { hits.map(\.chunk.id.rawValue) }

    @Test func theStoredFormsRoundTrip() {
        let rows = CompactVectorIndexTests.randomRows(50, dimension: 37, seed: 5)
        for format in VectorFormat.allCases {
            let stored = rows.withUnsafeBufferPointer { format.encode(normalizedRows: $0, dimension: 37) }
            #expect(stored.count == 50 * format.storedBytesPerVector(dimension: 37), "\(format)")
            let decoded = stored.withUnsafeBytes { format.decodeChecked(stored: $0, rows: 50, dimension: 37) }
            #expect(decoded == format.roundTrip(normalizedRows: rows, dimension: 37), "\(format)")
            let values = try! #require(decoded)
            switch format {
            case .f32:
                #expect(values == rows)
            case .f16:
                #expect(values == rows.map { Float(Float16($0)) })
            case .i8:
                for row in 0..<50 {
                    let slice = rows[row * 37..<(row + 1) * 37]
                    let step = slice.map(abs).max()! / 127
                    for column in 0..<37 {
                        #expect(abs(values[row * 37 + column] - rows[row * 37 + column]) <= step / 2 * 1.0001)
                    }
                }
            }
            // Stored again, the decoded rows give the same bytes: converting back and forth changes nothing more.
            #expect(values.withUnsafeBufferPointer { format.encode(normalizedRows: $0, dimension: 37) } == stored, "\(format)")
            // Into an index as stored, the rows read back as decoded.
            if format != .f32 {
                var index = CompactVectorIndex(format: format, dimension: 37)
                #expect(stored.withUnsafeBytes { index.add(stored: $0) })
                #expect(index.count == 50 && index.rows(0..<50) == values)
                #expect(index.rows(13..<14) == Array(values[13 * 37..<14 * 37]))
            }
        }
    }

    /// Bytes no writer makes are refused whole, and leave the index as it was (its padding rows zero, since a block's
    /// padding rows are scored).
    enum Damage: String, CaseIterable, Sendable {
        case nanScale, negativeScale, infiniteScale, code128, cutShort

        /// The second stored row of `bytes` (rows of 16 values) damaged so.
        func apply(to bytes: inout [UInt8]) {
            func scale(_ value: Float) { withUnsafeBytes(of: value) { bytes.replaceSubrange(0..<4, with: $0) } }
            switch self {
            case .nanScale: scale(.nan)
            case .negativeScale: scale(-0.01)
            case .infiniteScale: scale(.infinity)
            case .code128: bytes[9] = 0x80
            case .cutShort: bytes.removeLast()
            }
        }
    }

    @Test(arguments: Damage.allCases)
    func int8RowsNoWriterMakesAreRefused(damage: Damage) {
        let what = damage.rawValue
        let rows = CompactVectorIndexTests.randomRows(3, dimension: 16, seed: 8)
        let good = rows.withUnsafeBufferPointer { VectorFormat.i8.encode(normalizedRows: $0, dimension: 16) }
        var bad = Array(good[20...])  // the second and third rows, the second damaged
        damage.apply(to: &bad)
        #expect(bad.withUnsafeBytes { VectorFormat.i8.decodeChecked(stored: $0, rows: 2, dimension: 16) } == nil, "\(what)")
        var index = CompactVectorIndex(format: .i8, dimension: 16)
        #expect(good[0..<20].withUnsafeBytes { index.add(stored: $0) })
        #expect(!bad.withUnsafeBytes { index.add(stored: $0) }, "\(what)")
        #expect(index.count == 1)
        // The index searches as one that never saw the bad rows.
        var clean = CompactVectorIndex(format: .i8, dimension: 16)
        _ = good[0..<20].withUnsafeBytes { clean.add(stored: $0) }
        let query = Array(rows[16..<32])
        #expect(index.approximateSearch(query, k: 5) == clean.approximateSearch(query, k: 5))
        #expect(good[20...].withUnsafeBytes { index.add(stored: $0) } && index.rows(0..<3) == VectorFormat.i8.roundTrip(normalizedRows: rows, dimension: 16))
    }

    @Test(arguments: [VectorFormat.f16, .i8])
    func aCollectionStoredCompactFindsWhatFp32Finds(storage: VectorFormat) {
        let exact = Self.collection(storage: .f32)
        var stored = Self.collection(storage: storage)
        #expect(stored.storageFormat == storage && stored.vectorFormat == storage && stored.compactIndex == nil)
        #expect(stored.vectors.count == exact.vectors.count)
        #expect(stored.vectors.memoryBytes * (storage == .f16 ? 2 : 3) <= exact.vectors.memoryBytes)
        let queries = CompactVectorIndexTests.queries(24, dimension: Self.dimension)
        var found = 0
        for query in queries {
            let exactHits = exact.search(vector: query, k: 10)
            let expected = Self.ids(exactHits)
            let got = Self.ids(stored.search(vector: query, k: 10))
            found += Set(got).intersection(expected).count
            if storage == .f16 {
                // fp16 moves a unit vector's score by at most 2⁻¹¹ (each value by at most that share of itself): a row
                // fp32 ranks below the 10th can only take its place from within twice that of the 10th's score.
                let unit = VectorIndex.normalized(query)
                let tenth = exactHits.last!.score
                for id in got where !expected.contains(id) {
                    let row = exact.chunks.firstIndex { $0.id.rawValue == id }!
                    #expect(exact.vectors.similarity(unit, row: row) >= tenth - 2 * 0x1p-11, "\(id) is no near tie")
                }
            }
            // Scores are the stored vectors' cosine: within fp16's or int8's error of fp32's.
            let tolerance: Float = storage == .f16 ? 1e-3 : 0.05
            for hit in stored.search(vector: query, k: 3) {
                let row = exact.chunks.firstIndex { $0.id == hit.chunk.id }!
                #expect(abs(hit.score - exact.vectors.similarity(VectorIndex.normalized(query), row: row)) < tolerance)
            }
        }
        let recall = Double(found) / Double(queries.count * 10)
        #expect(recall >= (storage == .f16 ? 0.99 : 0.9), "recall@10 \(recall)")
        // Batches find what single searches find.
        #expect(stored.search(vectors: queries, k: 10).map(Self.ids) == queries.map { Self.ids(stored.search(vector: $0, k: 10)) })
        // An int8 scan copy beside fp16 vectors finds what the fp16 vectors find (it rescores from them); beside int8
        // there is no copy to make.
        let alone = queries.map { stored.search(vector: $0, k: 10) }
        stored.setVectorFormat(.i8)
        #expect(stored.vectorFormat == .i8 && (stored.compactIndex != nil) == (storage == .f16))
        #expect(queries.map { stored.search(vector: $0, k: 10) } == alone)
        stored.setVectorFormat(.f32)  // nothing wider than what is stored is scanned
        #expect(stored.vectorFormat == storage && stored.compactIndex == nil)
    }

    @Test(arguments: [VectorFormat.f16, .i8])
    func additionsAndRemovalsKeepAStoredCollectionInStep(storage: VectorFormat) {
        var stored = Self.collection(storage: storage, documents: 6, chunks: 40)
        stored.setVectorFormat(.i8)
        var generator = SplitMix(seed: 3)
        CompactCollectionTests.add(6, chunks: 17, to: &stored, words: ["printer"], generator: &generator)
        stored.remove(stored.documents[2].id)
        #expect(stored.vectors.count == stored.chunks.count && (stored.compactIndex?.count ?? stored.chunks.count) == stored.chunks.count)
        // The same documents added in the final order from scratch search alike.
        var fresh = DocumentCollection(embedderID: "mock", dimension: Self.dimension, storage: storage)
        for document in stored.documents {
            let rows = stored.chunks.indices.filter { stored.chunks[$0].documentID == document.id }
            let vectors = stored.vectors.rows(rows.first!..<rows.last! + 1)
            fresh.add(document, chunks: rows.map { stored.chunks[$0] }, normalizedVectors: vectors,
                      terms: DocumentTerms(texts: Chunk.lexicalTexts(rows.map { stored.chunks[$0] })))
        }
        fresh.setVectorFormat(.i8)
        let freshRows = fresh.vectors.rows(0..<fresh.vectors.count)
        let storedRows = stored.vectors.rows(0..<stored.vectors.count)
        #expect(freshRows.count == storedRows.count && zip(freshRows, storedRows).allSatisfy { abs($0 - $1) <= 1e-6 })
        for query in CompactVectorIndexTests.queries(6, dimension: Self.dimension) {
            #expect(Self.ids(fresh.search(vector: query, k: 10)) == Self.ids(stored.search(vector: query, k: 10)))
        }
    }
}

/// Every store keeps a collection's vectors in its storage format, chosen when the collection is created, and
/// converts them in one change that followers apply by loading the collection whole.
@Suite struct VectorStorageStoreTests {
    static func header(_ storage: VectorFormat) -> CollectionHeader {
        CollectionHeader(embedderID: "hashing-v1-d4", dimension: 4, vectorStorage: storage)
    }

    @Test(arguments: StoreFactory.all)
    func aCollectionKeepsTheFormatItWasCreatedWithAndConvertsInOneChange(factory: StoreFactory) async throws {
        try await CollectionStoreTests().withStore(factory) { store, _ in
            #expect(try await store.convertVectors(to: .f16) == nil, "no collection yet")
            let first = CollectionStoreTests.sampleDocument()
            _ = try await store.add(first, header: Self.header(.f16), maxChunks: 0)
            #expect(try await store.header() == Self.header(.f16))
            // A writer that would have made another format adds to the collection's own.
            let second = CollectionStoreTests.sampleDocument(content: "b", fileName: "b.pdf", sourcePath: nil)
            _ = try await store.add(second, header: Self.header(.f32), maxChunks: 0)
            #expect(try await store.header()?.vectorStorage == .f16)
            let half = VectorFormat.f16.roundTrip(normalizedRows: first.vectors, dimension: 4)
            #expect(half != first.vectors, "the sample's vectors are not all fp16 values")
            let snapshot = try #require(try await store.loadSnapshot())
            #expect(snapshot.collection.storageFormat == .f16)
            #expect(snapshot.collection.vectors.rows(0..<2) == half)
            let changes = try await store.changes(after: 0, limit: 10)
            guard case .added(let added?) = changes.first?.kind else {
                Issue.record("no addition")
                return
            }
            #expect(added.vectors == half)

            let version = try #require(try await store.convertVectors(to: .i8))
            #expect(version == 3)
            #expect(try await store.currentVersion() == 3)
            #expect(try await store.convertVectors(to: .i8) == nil, "already i8")
            #expect(try await store.header()?.vectorStorage == .i8)
            let converted = try #require(try await store.loadSnapshot())
            #expect(converted.collection.storageFormat == .i8 && converted.version == 3)
            let quarter = VectorFormat.i8.roundTrip(normalizedRows: half, dimension: 4)
            #expect(converted.collection.vectors.rows(0..<2) == quarter)
            #expect(converted.collection.documents == snapshot.collection.documents)
            #expect(converted.collection.chunks == snapshot.collection.chunks)
            let log = try await store.changes(after: 2, limit: 10)
            guard log.count == 1, case .storage(let format) = log[0].kind else {
                Issue.record("the conversion is not one storage change: \(log)")
                return
            }
            #expect(format == .i8 && log[0].version == 3)
            // Back to fp32: the rounded values, stored exactly.
            _ = try await store.convertVectors(to: .f32)
            #expect(try await store.loadSnapshot()?.collection.vectors.f32.storage == Array(quarter + converted.collection.vectors.rows(2..<4)))
        }
    }
}

/// The engine creates a collection in its `vectorStorage`, keeps it in memory and on disk in that format, and
/// converts it in one change that another engine on the same collection follows.
@Suite struct VectorStorageEngineTests {
    static let pages = (1...30).map { "Page \($0) is about topic \($0): receipts, printers, vacation days and travel." }

    @Test func aCollectionIsStoredHalfSizeAndItsConversionIsFollowed() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let embedder = HashingEmbedder(dimension: 64)
        let metrics = RAGMetrics()
        let writer = try await Engine(
            configuration: EngineConfiguration(collectionDirectory: directory, vectorFormat: .f32, vectorStorage: .f16),
            embedder: embedder, metrics: metrics)
        _ = try await writer.ingest(data: Data(Self.pages.joined(separator: "\u{0C}").utf8), fileName: "topics.txt")
        let chunks = writer.collection.chunks.count
        #expect(chunks >= 3 && writer.collection.storageFormat == .f16)
        #expect(try StorageFaults.integer("SELECT sum(length(data)) FROM vectors", in: directory) == Int64(chunks * 64 * 2))
        #expect(metrics.render().contains("rag_vector_index_bytes{format=\"f16\"} \(Double(chunks * 64 * 2))"))
        #expect(metrics.render().contains("rag_vector_index_bytes{format=\"f32\"} 0.0"))

        // Another engine, made to create fp32 collections, opens this one as it is.
        let reader = try await Engine(
            configuration: EngineConfiguration(collectionDirectory: directory, readOnly: true, vectorStorage: .f32), embedder: embedder,
            metrics: RAGMetrics())
        #expect(reader.collection.storageFormat == .f16)
        let question = "vacation days on page 17"
        let before = try await writer.search(question, k: 5, retrieval: RetrievalOptions(mode: .vector))
        #expect(try await reader.search(question, k: 5, retrieval: RetrievalOptions(mode: .vector)) == before)
        await #expect(throws: EngineError.self) { try await reader.convertVectors(to: .i8) }

        #expect(try await writer.convertVectors(to: .i8))
        #expect(try await !writer.convertVectors(to: .i8))
        #expect(writer.collection.storageFormat == .i8)
        #expect(try StorageFaults.integer("SELECT sum(length(data)) FROM vectors", in: directory) == Int64(chunks * (64 + 4)))
        #expect(try await reader.follow() > 0)
        #expect(reader.collection.storageFormat == .i8 && reader.collection.generation == writer.collection.generation)
        let after = try await writer.search(question, k: 5, retrieval: RetrievalOptions(mode: .vector))
        #expect(try await reader.search(question, k: 5, retrieval: RetrievalOptions(mode: .vector)) == after)
        #expect(after.first?.chunk.id == before.first?.chunk.id)
        // Writes after the conversion are stored in the new format, and followed as usual.
        _ = try await writer.ingest(data: Data("Printers are on the second floor.".utf8), fileName: "printers.txt")
        #expect(try StorageFaults.integer("SELECT sum(length(data)) FROM vectors", in: directory) == Int64((chunks + 1) * (64 + 4)))
        #expect(try await reader.follow() == 1 && reader.collection.chunks.count == chunks + 1)
        // Reopened, the collection is what was written.
        await writer.close()
        let reopened = try await Engine(
            configuration: EngineConfiguration(collectionDirectory: directory), embedder: embedder, metrics: RAGMetrics())
        #expect(reopened.collection.storageFormat == .i8 && reopened.collection.chunks.count == chunks + 1)
        #expect(try await reopened.search(question, k: 5, retrieval: RetrievalOptions(mode: .vector)) == after)
    }

    /// On every store, a process that follows the collection sees another's conversion: it loads the collection
    /// whole, in the new format, and searches as the converting process does; additions after it are followed as usual.
    @Test(arguments: StoreFactory.all)
    func anotherProcessFollowsAConversionOnEveryStore(factory: StoreFactory) async throws {
        guard factory.isAvailable else { return }
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let embedder = HashingEmbedder(dimension: 64)
        let writer = try await Engine(
            configuration: EngineConfiguration(vectorStorage: .f16), store: try await factory.make(directory), embedder: embedder)
        _ = try await writer.ingest(data: Data(Self.pages.joined(separator: "\u{0C}").utf8), fileName: "topics.txt")
        let reader = try await Engine(
            configuration: EngineConfiguration(readOnly: true), store: try await factory.make(directory), embedder: embedder)
        #expect(reader.collection.storageFormat == .f16, "\(factory)")
        #expect(try await writer.convertVectors(to: .i8))
        #expect(try await reader.follow() > 0)
        #expect(reader.collection.storageFormat == .i8 && reader.collection.generation == writer.collection.generation, "\(factory)")
        let question = "vacation days on page 17"
        let options = RetrievalOptions(mode: .vector)
        #expect(try await reader.search(question, k: 5, retrieval: options) == (try await writer.search(question, k: 5, retrieval: options)))
        _ = try await writer.ingest(data: Data("Printers are on the second floor.".utf8), fileName: "printers.txt")
        #expect(try await reader.follow() == 1)
        #expect(reader.collection.vectors.rows(0..<reader.collection.vectors.count) == writer.collection.vectors.rows(0..<writer.collection.vectors.count))
        await writer.close()
        await reader.close()
    }

    /// An engine whose collection another process created in another format takes that format before its first
    /// addition, so that memory and disk agree.
    @Test func anEmptyEngineTakesTheFormatAnotherProcessCreated() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let embedder = HashingEmbedder(dimension: 64)
        let late = try await Engine(
            configuration: EngineConfiguration(collectionDirectory: directory, vectorStorage: .i8), embedder: embedder, metrics: RAGMetrics())
        let early = try await Engine(
            configuration: EngineConfiguration(collectionDirectory: directory, vectorStorage: .f16), embedder: embedder, metrics: RAGMetrics())
        _ = try await early.ingest(data: Data("Receipts are kept for seven years.".utf8), fileName: "receipts.txt")
        _ = try await late.ingest(data: Data("Printers are on the second floor.".utf8), fileName: "printers.txt")
        #expect(late.collection.storageFormat == .f16 && late.collection.chunks.count == 2)
        let stored = try #require(try await SQLiteCollectionStore(directory: directory).loadSnapshot())
        #expect(late.collection.vectors.rows(0..<2) == stored.collection.vectors.rows(0..<2))
    }

    /// A database of schema 4 (before the storage format) becomes schema 5 when a writer opens it: fp32, its change
    /// numbers kept, the next change numbered after them, and conversions logged.
    @Test func aDatabaseOfSchema4IsMigratedAndKeepsItsChangeNumbers() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            let store = SQLiteCollectionStore(directory: directory)
            _ = try await store.add(CollectionStoreTests.sampleDocument(), header: CollectionStoreTests.header, maxChunks: 0)
            _ = try await store.remove(CollectionStoreTests.sampleDocument().record.id)
            _ = try await store.add(CollectionStoreTests.sampleDocument(content: "b"), header: CollectionStoreTests.header, maxChunks: 0)
        }
        // Back to schema 4, as the previous release left it (and as its AUTOINCREMENT numbering had reached 7).
        try StorageFaults.execute(
            """
            CREATE TABLE changes_old (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL CHECK (kind IN ('add', 'remove')), document_id TEXT NOT NULL);
            INSERT INTO changes_old SELECT * FROM changes;
            DROP TABLE changes;
            ALTER TABLE changes_old RENAME TO changes;
            UPDATE sqlite_sequence SET seq = 7 WHERE name = 'changes';
            DELETE FROM collection WHERE key = 'vector_storage';
            DELETE FROM schema_migrations WHERE version = 5;
            """, in: directory)
        #expect(throws: (any Error).self) {
            try StorageFaults.execute("INSERT INTO changes (kind, document_id) VALUES ('storage', 'f16')", in: directory)
        }
        let store = SQLiteCollectionStore(directory: directory)
        #expect(try await store.header()?.vectorStorage == .f32)
        let snapshot = try #require(try await store.loadSnapshot())
        #expect(snapshot.version == 3 && snapshot.collection.documents.count == 1)
        #expect(try StorageFaults.integer("SELECT max(version) FROM schema_migrations", in: directory) == 5)
        #expect(try await store.convertVectors(to: .f16) == 8, "numbered after the last number the old table handed out")
        #expect(try await store.changes(after: 0, limit: 10).map(\.version) == [1, 2, 3, 8])
    }
}

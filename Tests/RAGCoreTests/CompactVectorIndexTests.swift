import CVectorKernels
import Foundation
import RAGCore
import Testing
import TestSupport

/// Compact vectors (fp16 and int8): every kernel this CPU runs agrees with the portable one, approximate scores stay
/// within their error, and rescoring returns exactly the fp32 top k, single and batched, filtered, from memory or a
/// mapped file. Serialized: the kernel choice it forces is process-wide.
@Suite(.serialized) struct CompactVectorIndexTests {
    /// Unit rows of Gaussian values from a fixed seed: the hardest case for quantization, every score crowded near 0.
    static func randomRows(_ count: Int, dimension: Int, seed: UInt64) -> [Float] {
        var generator = SplitMix(seed: seed)
        var rows = [Float](repeating: 0, count: count * dimension)
        for row in 0..<count {
            var norm: Float = 0
            for column in 0..<dimension {
                // Box–Muller: two uniform values to one normal one.
                let u = max(Float(generator.next() >> 40) / Float(1 << 24), 1e-7)
                let v = Float(generator.next() >> 40) / Float(1 << 24)
                let value = (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
                rows[row * dimension + column] = value
                norm += value * value
            }
            let scale = 1 / norm.squareRoot()
            for column in 0..<dimension { rows[row * dimension + column] *= scale }
        }
        return rows
    }

    static func queries(_ count: Int, dimension: Int) -> [[Float]] {
        let flat = randomRows(count, dimension: dimension, seed: 99)
        return (0..<count).map { Array(flat[$0 * dimension..<($0 + 1) * dimension]) }
    }

    @Test func halfPrecisionConversionMatchesSwiftsFloat16() {
        var values: [Float] = [0, -0, 1, -1, 65504, 65520, 1e-8, 5.96e-8, 6.1e-5, 6.09e-5, .infinity, -.infinity, 1e10, 0.1, 1.0 / 3]
        var generator = SplitMix(seed: 7)
        for _ in 0..<20_000 { values.append(Float(bitPattern: UInt32(truncatingIfNeeded: generator.next()))) }
        var halves = [UInt16](repeating: 0, count: values.count)
        ragvec_f16_from_f32(values, values.count, &halves)
        var back = [Float](repeating: 0, count: values.count)
        ragvec_f16_to_f32(halves, halves.count, &back)
        var mismatches = 0
        for (index, value) in values.enumerated() {
            let expected = Float16(value)
            if value.isNaN {
                if !Float16(bitPattern: halves[index]).isNaN || !back[index].isNaN { mismatches += 1 }
            } else if halves[index] != expected.bitPattern || back[index].bitPattern != Float(expected).bitPattern {
                mismatches += 1
            }
        }
        #expect(mismatches == 0)
    }

    @Test(arguments: [VectorFormat.i8, .f16])
    func everyKernelGivesThePortableScores(format: VectorFormat) {
        let dimension = 390  // not a multiple of 4 or 16: padding and tails
        let rows = Self.randomRows(1_001, dimension: dimension, seed: 1)
        let compact = rows.withUnsafeBufferPointer { buffer -> CompactVectorIndex in
            var index = CompactVectorIndex(format: format, dimension: dimension)
            index.add(normalizedRows: buffer)
            return index
        }
        let query = Self.queries(1, dimension: dimension)[0]
        func scores(_ level: Int32) -> (name: String, hits: [VectorIndex.Hit]) {
            ragvec_compact_force(level)
            defer { ragvec_compact_force(0) }
            return (compact.kernelName, compact.approximateSearch(query, k: 1_001))
        }
        let portable = scores(1)
        #expect(portable.name == "portable")
        let exact = VectorIndex(dimension: dimension, storage: rows, normalized: true)
        let unit = VectorIndex.normalized(query)
        for level: Int32 in [0, 2] {
            let kernel = scores(level)
            #expect(kernel.hits.count == 1_001)
            let byRow = Dictionary(uniqueKeysWithValues: kernel.hits.map { ($0.row, $0.score) })
            for hit in portable.hits {
                #expect(abs((byRow[hit.row] ?? .nan) - hit.score) <= 1e-6, "\(kernel.name) row \(hit.row)")
                // Within the format's error of the exact score.
                let error = abs(hit.score - exact.similarity(unit, row: hit.row))
                #expect(error <= (format == .i8 ? 0.01 : 0.001), "\(format) row \(hit.row): error \(error)")
            }
        }
    }

    @Test(arguments: [VectorFormat.i8, .f16])
    func rescoringReturnsTheExactTopK(format: VectorFormat) {
        let dimension = 384
        let rows = Self.randomRows(5_003, dimension: dimension, seed: 2)
        let exact = VectorIndex(dimension: dimension, storage: rows, normalized: true)
        let compact = CompactVectorIndex(exact, format: format)
        #expect(compact.count == 5_003)
        let queries = Self.queries(16, dimension: dimension)
        let batch = compact.search(batch: queries, k: 10, exact: exact)
        let even: (Int) -> Bool = { $0 % 2 == 0 }
        let filteredBatch = compact.search(batch: queries, k: 10, exact: exact, allowed: even)
        for (index, query) in queries.enumerated() {
            let expected = exact.search(query, k: 10)
            #expect(compact.search(query, k: 10, exact: exact) == expected)
            #expect(batch[index].map(\.row) == expected.map(\.row))
            let expectedEven = exact.search(query, k: 10, allowed: even)
            #expect(compact.search(query, k: 10, exact: exact, allowed: even) == expectedEven)
            #expect(filteredBatch[index].map(\.row) == expectedEven.map(\.row))
        }
        // Without rescoring the order is approximate, but the true best row is among the approximate best 10.
        for query in queries {
            #expect(compact.approximateSearch(query, k: 10).map(\.row).contains(exact.search(query, k: 1)[0].row))
        }
    }

    @Test(arguments: [VectorFormat.i8, .f16])
    func rowsAddedFewAtATimeSearchLikeRowsAddedAtOnce(format: VectorFormat) {
        let dimension = 20
        let rows = Self.randomRows(1_000, dimension: dimension, seed: 6)
        let exact = VectorIndex(dimension: dimension, storage: rows, normalized: true)
        let whole = CompactVectorIndex(exact, format: format)
        var pieces = CompactVectorIndex(format: format, dimension: dimension)
        var next = 0
        for size in [1, 7, 13, 3, 100, 500, 376] {  // partial blocks of 16 filled later
            rows[next * dimension..<(next + size) * dimension].withUnsafeBufferPointer { pieces.add(normalizedRows: $0) }
            next += size
        }
        #expect(pieces.count == 1_000 && pieces.memoryBytes == whole.memoryBytes)
        for query in Self.queries(8, dimension: dimension) {
            #expect(pieces.approximateSearch(query, k: 1_000) == whole.approximateSearch(query, k: 1_000))
            #expect(pieces.search(query, k: 10, exact: exact) == exact.search(query, k: 10))
        }
    }

    @Test func aLargeIndexIsScoredOnEveryCoreWithTheSameResults() {
        let dimension = 32
        let rows = Self.randomRows(70_001, dimension: dimension, seed: 3)  // above VectorIndex's parallel threshold
        let exact = VectorIndex(dimension: dimension, storage: rows, normalized: true)
        for format in [VectorFormat.i8, .f16] {
            let compact = CompactVectorIndex(exact, format: format)
            for query in Self.queries(4, dimension: dimension) {
                #expect(compact.search(query, k: 5, candidates: 400, exact: exact) == exact.search(query, k: 5))
            }
        }
    }

    @Test func candidatesAreRescoredFromAMappedFile() throws {
        let dimension = 64
        let rows = Self.randomRows(2_000, dimension: dimension, seed: 4)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vectors-\(UUID().uuidString).f32").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try rows.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: path)) }
        let file = try MappedVectorFile(path: path, dimension: dimension)
        #expect(file.count == 2_000)
        let exact = VectorIndex(dimension: dimension, storage: rows, normalized: true)
        var compact = CompactVectorIndex(format: .i8, dimension: dimension)
        compact.add(normalizedRows: file.rows(0..<2_000))
        for query in Self.queries(8, dimension: dimension) {
            #expect(compact.search(query, k: 10, exact: file) == exact.search(query, k: 10))
            #expect(file.search(query, k: 10) == exact.search(query, k: 10))
        }
        // A file that is not whole rows is refused, not read past its end.
        #expect(throws: (any Error).self) { try MappedVectorFile(path: path, dimension: 3 * 7 * 11) }
    }

    @Test func int8TakesAQuarterOfFp32AndHalfPrecisionAHalf() {
        let exact = VectorIndex(dimension: 384, storage: Self.randomRows(1_600, dimension: 384, seed: 5), normalized: true)
        let fp32 = 1_600 * 384 * 4
        #expect(CompactVectorIndex(exact, format: .i8).memoryBytes == 1_600 * (384 + 8))
        #expect(Double(CompactVectorIndex(exact, format: .i8).memoryBytes) / Double(fp32) < 0.26)
        #expect(CompactVectorIndex(exact, format: .f16).memoryBytes == fp32 / 2)
        #expect(VectorFormat.i8.bytesPerVector(dimension: 384) == 392)
    }

    @Test func zeroAndHugeRowsDoNotBreakTheIndex() {
        var rows = [Float](repeating: 0, count: 3 * 8)
        rows[8] = 1  // row 1 is a unit vector; rows 0 and 2 are zero
        let exact = VectorIndex(dimension: 8, storage: rows, normalized: true)
        for format in [VectorFormat.i8, .f16] {
            let compact = CompactVectorIndex(exact, format: format)
            let hits = compact.search([1, 0, 0, 0, 0, 0, 0, 0], k: 3, exact: exact)
            #expect(hits.first?.row == 1 && hits.first?.score == 1, "\(format)")
            #expect(hits.count == 3 && hits.dropFirst().allSatisfy { $0.score == 0 })
            #expect(compact.search([0, 0, 0, 0, 0, 0, 0, 0], k: 1, exact: exact).first?.score == 0)
        }
    }
}


/// A collection and an engine that scan a compact format find what fp32 finds: every search path, after additions
/// and removals, and `auto` switches at its threshold.
@Suite struct CompactCollectionTests {
    /// `documents` documents of `chunks` chunks, random 48-dimension vectors, texts of a few random words.
    static func collection(documents: Int, chunks: Int, seed: UInt64) -> DocumentCollection {
        var collection = DocumentCollection(embedderID: "mock", dimension: 48)
        let words = ["alpha", "beta", "gamma", "delta", "printer", "queue", "vacation", "receipt", "policy", "travel"]
        var generator = SplitMix(seed: seed)
        for number in 0..<documents { add(number, chunks: chunks, to: &collection, words: words, generator: &generator) }
        return collection
    }

    static func add(_ number: Int, chunks: Int, to collection: inout DocumentCollection, words: [String], generator: inout SplitMix) {
        let name = "d\(number).txt"
        let document = Document(fileName: name, kind: .text, pageCount: chunks, pages: [], contentHash: SHA256.hex(name), byteCount: 1)
        let texts = (0..<chunks).map { _ in (0..<6).map { _ in words[Int(generator.next() % UInt64(words.count))] }.joined(separator: " ") }
        let newChunks = texts.enumerated().map { ordinal, text in
            Chunk(id: ChunkID(rawValue: "\(name)-\(ordinal)"), documentID: document.id, fileName: name, pageStart: ordinal + 1,
                  pageEnd: ordinal + 1, ordinal: ordinal, text: text)
        }
        let vectors = CompactVectorIndexTests.randomRows(chunks, dimension: 48, seed: generator.next())
        collection.add(
            DocumentRecord(document: document, chunkCount: chunks, sourcePath: nil), chunks: newChunks,
            vectors: (0..<chunks).map { Array(vectors[$0 * 48..<($0 + 1) * 48]) })
    }

    /// Every search path of `compact` gives what the same path of `exact` gives.
    static func expectSameResults(_ compact: DocumentCollection, _ exact: DocumentCollection, _ label: String) {
        let queries = CompactVectorIndexTests.queries(6, dimension: 48)
        func ids(_ hits: [SearchHit]) -> [String] { hits.map(\.chunk.id.rawValue) }
        for query in queries {
            #expect(compact.search(vector: query, k: 10) == exact.search(vector: query, k: 10), "\(label)")
            for options in [RetrievalOptions(mode: .vector), RetrievalOptions(mode: .hybrid)] {
                #expect(
                    compact.search(query: "printer queue policy", vector: query, k: 8, options: options)
                        == exact.search(query: "printer queue policy", vector: query, k: 8, options: options), "\(label)")
            }
            let filter: Set<DocumentID> = [exact.documents[1].id, exact.documents[3].id]
            #expect(compact.search(vector: query, k: 5, documentIDs: filter) == exact.search(vector: query, k: 5, documentIDs: filter))
        }
        // Batches: the same rows (fp32's batch is a BLAS product, whose last bits may differ from the single kernel's).
        #expect(compact.search(vectors: queries, k: 10).map(ids) == exact.search(vectors: queries, k: 10).map(ids), "\(label)")
        let fused = compact.search(queries: ["printer", "queue", "policy"], vectors: Array(queries.prefix(3)), k: 6, options: RetrievalOptions())
        #expect(ids(fused) == ids(exact.search(queries: ["printer", "queue", "policy"], vectors: Array(queries.prefix(3)), k: 6, options: RetrievalOptions())))
    }

    @Test(arguments: [VectorFormat.i8, .f16])
    func aCompactCollectionFindsWhatFp32Finds(format: VectorFormat) {
        var exact = Self.collection(documents: 12, chunks: 150, seed: 11)
        var compact = exact
        compact.setVectorFormat(format)
        #expect(compact.vectorFormat == format && exact.vectorFormat == .f32)
        #expect(compact.compactIndex?.count == exact.chunks.count)
        Self.expectSameResults(compact, exact, "\(format) as built")
        // Additions and removals keep the compact copy in step with the exact vectors.
        var generator = SplitMix(seed: 12)
        let words = ["printer", "queue", "policy"]
        for number in 12..<15 {
            Self.add(number, chunks: 37, to: &exact, words: words, generator: &generator)
        }
        generator = SplitMix(seed: 12)
        for number in 12..<15 {
            Self.add(number, chunks: 37, to: &compact, words: words, generator: &generator)
        }
        for id in [exact.documents[0].id, exact.documents[7].id, exact.documents[13].id] {
            exact.remove(id)
            compact.remove(id)
        }
        #expect(compact.compactIndex?.count == compact.chunks.count)
        Self.expectSameResults(compact, exact, "\(format) after changes")
        compact.setVectorFormat(.f32)
        #expect(compact.compactIndex == nil)
    }

    @Test func theEngineScansTheFormatItIsToldAndAutoSwitchesAtItsThreshold() async throws {
        #expect(VectorFormatChoice.auto.format(rows: VectorFormatChoice.autoThreshold - 1) == .f32)
        #expect(VectorFormatChoice.auto.format(rows: VectorFormatChoice.autoThreshold) == .i8)
        #expect(VectorFormatChoice.f16.format(rows: 1) == .f16)
        let pages = (1...40).map { "Page \($0) is about topic \($0): receipts, printers and vacation days." }
        let text = Data(pages.joined(separator: "\u{0C}").utf8)
        var results: [VectorFormatChoice: [SearchHit]] = [:]
        for choice in [VectorFormatChoice.f32, .i8, .auto] {
            let metrics = RAGMetrics()
            let engine = try await Engine(
                configuration: EngineConfiguration(vectorFormat: choice), embedder: HashingEmbedder(dimension: 64), metrics: metrics)
            _ = try await engine.ingest(data: text, fileName: "topics.txt")
            #expect(engine.collection.vectorFormat == (choice == .i8 ? .i8 : .f32), "\(choice)")
            // The memory of each format is published: f32 always, the compact copy when there is one.
            let chunks = engine.collection.chunks.count
            let rendered = metrics.render()
            #expect(rendered.contains("rag_vector_index_bytes{format=\"f32\"} \(Double(chunks * 64 * 4))"), "\(rendered)")
            let i8Bytes = choice == .i8 ? (chunks + 15) / 16 * 16 * (64 + 8) : 0
            #expect(rendered.contains("rag_vector_index_bytes{format=\"i8\"} \(Double(i8Bytes))"), "\(choice)")
            results[choice] = try await engine.search("vacation days on page 17", k: 5, retrieval: RetrievalOptions(mode: .vector))
            // Removing the document empties both indexes.
            _ = try await engine.remove(engine.collection.documents[0].id.rawValue)
            // An i8 collection keeps its (empty) compact index; f32 and auto (now below its threshold) have none.
            #expect(engine.collection.compactIndex?.count == (choice == .i8 ? 0 : nil), "\(choice)")
        }
        #expect(results[.i8] == results[.f32] && results[.auto] == results[.f32] && results[.f32]?.isEmpty == false)
    }
}

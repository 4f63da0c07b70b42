import Foundation
import RAGCore
import Testing

@Suite struct VectorIndexTests {
    /// Deterministic pseudo-random vectors.
    static func vectors(_ count: Int, dimension: Int, seed: UInt64) -> [[Float]] {
        var state = seed
        return (0..<count).map { _ in
            (0..<dimension).map { _ in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Float(Int64(bitPattern: state >> 11) % 10_000) / 10_000
            }
        }
    }

    static func bruteForce(_ index: VectorIndex, _ query: [Float], k: Int) -> [Int] {
        let unit = VectorIndex.normalized(query)
        let scores = (0..<index.count).map { row in zip(index.vector(at: row), unit).reduce(Float(0)) { $0 + $1.0 * $1.1 } }
        return scores.indices.sorted { scores[$0] > scores[$1] }.prefix(k).map { $0 }
    }

    @Test func singleQueryMatchesBruteForce() {
        var index = VectorIndex(dimension: 16)
        index.add(Self.vectors(500, dimension: 16, seed: 1))
        for query in Self.vectors(10, dimension: 16, seed: 2) {
            let hits = index.search(query, k: 7)
            #expect(hits.map(\.row) == Self.bruteForce(index, query, k: 7))
            #expect(zip(hits, hits.dropFirst()).allSatisfy { $0.score >= $1.score })
        }
    }

    @Test func batchEqualsSingleQueries() {
        var index = VectorIndex(dimension: 24)
        index.add(Self.vectors(300, dimension: 24, seed: 3))
        let queries = Self.vectors(9, dimension: 24, seed: 4)
        let batch = index.search(batch: queries, k: 5)
        for (query, hits) in zip(queries, batch) {
            let single = index.search(query, k: 5)
            #expect(hits.map(\.row) == single.map(\.row))
            for (a, b) in zip(hits, single) { #expect(abs(a.score - b.score) < 1e-5) }
        }
    }

    @Test func rowsAreNormalisedAndScoresAreCosines() {
        var index = VectorIndex(dimension: 2)
        index.add([[3, 4], [0, 10], [-1, 0]])
        #expect(Array(index.vector(at: 0)) == [0.6, 0.8])
        let hits = index.search([0, 2], k: 3)
        #expect(hits.map(\.row) == [1, 0, 2])
        #expect(abs(hits[0].score - 1) < 1e-6 && abs(hits[1].score - 0.8) < 1e-6 && abs(hits[2].score) < 1e-6)
    }

    @Test func filterAndRemoveRows() {
        var index = VectorIndex(dimension: 2)
        index.add([[1, 0], [0.9, 0.1], [0, 1]])
        #expect(index.search([1, 0], k: 1, allowed: { $0 != 0 }).map(\.row) == [1])
        index.removeRows { $0 == 0 }
        #expect(index.count == 2)
        #expect(index.search([1, 0], k: 5).map(\.row) == [0, 1])
    }

    @Test func kLargerThanCountAndEmptyIndex() {
        #expect(VectorIndex(dimension: 3).search([1, 2, 3], k: 4).isEmpty)
        var index = VectorIndex(dimension: 3)
        index.add([[1, 0, 0]])
        #expect(index.search([1, 0, 0], k: 10).count == 1)
        #expect(index.search(batch: [], k: 3).isEmpty)
    }

    /// Large indexes are scored on all cores; odd dimensions exercise the kernel's tail loops.
    @Test(arguments: [(70_000, 37), (1_000, 3), (66_000, 64)])
    func largeAndOddShapedIndexesMatchBruteForce(rows: Int, dimension: Int) {
        var index = VectorIndex(dimension: dimension)
        index.add(Self.vectors(rows, dimension: dimension, seed: UInt64(rows + dimension)))
        let query = Self.vectors(1, dimension: dimension, seed: 99)[0]
        let hits = index.search(query, k: 5)
        #expect(hits.map(\.row) == Self.bruteForce(index, query, k: 5))
        let unit = VectorIndex.normalized(query)
        let expected = zip(index.vector(at: hits[0].row), unit).reduce(Float(0)) { $0 + $1.0 * $1.1 }
        #expect(abs(hits[0].score - expected) < 1e-4)
        #expect(["avx512f", "avx2", "portable"].contains(VectorIndex.kernelName))
    }
}

/// OpenBLAS's kernels: a CPU the library does not recognise is moved to the newest set its features allow, and a
/// recognised one is left alone.
@Suite struct OpenBLASCoreTests {
    @Test func anUnrecognisedCPUGetsTheNewestSetItsFeaturesAllow() {
        #expect(OpenBLASCore.recommendation(current: "Prescott", cpuLevel: 3) == "Cooperlake")
        #expect(OpenBLASCore.recommendation(current: "Prescott", cpuLevel: 2) == "SkylakeX")
        #expect(OpenBLASCore.recommendation(current: "Nehalem", cpuLevel: 1) == "Haswell")
        #expect(OpenBLASCore.recommendation(current: "Prescott", cpuLevel: 0) == nil)
        for recognised in ["Haswell", "Zen", "SkylakeX", "Cooperlake"] {
            #expect(OpenBLASCore.recommendation(current: recognised, cpuLevel: 3) == nil, "\(recognised)")
        }
        // This process: either OpenBLAS recognised the CPU, or the summary says what it could run.
        let summary = OpenBLASCore.summary
        #expect(summary.hasPrefix(OpenBLASCore.name))
        if OpenBLASCore.recommendedCoreType != nil, ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil {
            #expect(summary.contains("set OPENBLAS_CORETYPE="))
        }
    }
}

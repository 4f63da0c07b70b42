import Foundation
import RAGCore

/// `RAGBench vector-storage --vectors FILE --queries FILE [--chunks N] [--repeat R]`: a SQLite collection of N chunks
/// (the file's vectors, in documents of 30 chunks) stored as f32, then converted to f16 and to i8 (copies of it);
/// for each, the vectors' bytes on disk and in memory, the database file, the time to open it, recall@10 against
/// the exact fp32 top 10 for the queries, and the median single-query search.
enum VectorStorageBench {
    static func run(_ arguments: Arguments, repeats: Int) async throws -> [String: Any] {
        guard let vectorsPath = arguments.options["vectors"], let queriesPath = arguments.options["queries"] else {
            fail("vector-storage needs --vectors FILE --queries FILE")
        }
        let dimension = arguments.int("dimension", 384)
        let root = URL(fileURLWithPath: arguments.options["dir"] ?? NSTemporaryDirectory()).appendingPathComponent("rag-vector-storage-\(getpid())")
        defer { try? FileManager.default.removeItem(at: root) }
        func directory(_ format: VectorFormat) -> URL { root.appendingPathComponent(format.rawValue) }
        for format in VectorFormat.allCases { try FileManager.default.createDirectory(at: directory(format), withIntermediateDirectories: true) }

        // The fp32 database, made as StorageBench makes it (a collection file of an earlier release, migrated).
        do {
            let raw = readFloats(vectorsPath)
            let rows = min(arguments.int("chunks", 1_000_000), raw.count / dimension)
            let vectors = VectorIndex(dimension: dimension, storage: Array(raw[0..<rows * dimension])).storage
            var prose = StorageBench.Prose(seed: 7)
            var collection = DocumentCollection(embedderID: "bench-d\(dimension)", dimension: dimension)
            var start = 0
            var number = 0
            while start < rows {
                let count = min(StorageBench.chunksPerDocument, rows - start)
                let document = StorageBench.document(
                    number: number, chunks: count, vectors: vectors[start * dimension..<(start + count) * dimension], prose: &prose)
                collection.add(document.record, chunks: document.chunks, normalizedVectors: document.vectors, terms: document.terms)
                start += count
                number += 1
            }
            StorageBench.legacySave(collection, in: directory(.f32))
            let migrating = SQLiteCollectionStore(directory: directory(.f32))
            try migrating.createIfMissing()
            migrating.closeConnection()
            // The migrated file, kept beside the database by the migration: not part of what is measured.
            for name in try FileManager.default.contentsOfDirectory(atPath: directory(.f32).path) where name.hasPrefix("collection.rag") {
                try FileManager.default.removeItem(at: directory(.f32).appendingPathComponent(name))
            }
        }
        let database = SQLiteCollectionStore.fileName
        var convertSeconds: [String: Double] = [:]
        for format in [VectorFormat.f16, .i8] {
            try FileManager.default.removeItem(at: directory(format))
            try FileManager.default.copyItem(at: directory(.f32), to: directory(format))
            let store = SQLiteCollectionStore(directory: directory(format))
            let started = ContinuousClock.now
            _ = try await store.convertVectors(to: format)
            convertSeconds[format.rawValue] = StorageBench.seconds(since: started)
            store.closeConnection()
        }
        let flat = readFloats(queriesPath)
        let queries = stride(from: 0, to: flat.count, by: dimension).map { Array(flat[$0..<$0 + dimension]) }
        var exact: [[Int]] = []
        var results: [[String: Any]] = []
        for format in VectorFormat.allCases {
            var opens: [Double] = []
            var snapshot: CollectionSnapshot? = nil
            for _ in 0..<repeats {
                snapshot = nil
                let reader = SQLiteCollectionStore(directory: directory(format), readOnly: true)
                let started = ContinuousClock.now
                snapshot = try await reader.loadSnapshot()
                opens.append(StorageBench.seconds(since: started))
                reader.closeConnection()
            }
            var collection = snapshot!.collection
            snapshot = nil
            func rows(_ hits: [VectorIndex.Hit]) -> [Int] { hits.map(\.row) }
            func measure() -> (recall: Double, identical: Int, median: Double) {
                var found = 0
                var identical = 0
                var times: [Double] = []
                _ = collection.search(vector: queries[0], k: 10)
                for (position, query) in queries.enumerated() {
                    var hits: [SearchHit] = []
                    times.append(RAGBench.seconds { hits = collection.search(vector: query, k: 10) })
                    let got = hits.map { hit in collection.chunks.firstIndex { $0.id == hit.chunk.id }! }
                    if format == .f32 && exact.count < queries.count { exact.append(got) }
                    found += Set(got).intersection(exact[position]).count
                    if got == exact[position] { identical += 1 }
                }
                return (Double(found) / Double(queries.count * 10), identical, median(times))
            }
            let alone = measure()
            func size(_ name: String) -> Int {
                (try? FileManager.default.attributesOfItem(atPath: directory(format).appendingPathComponent(name).path)[.size] as? Int) ?? 0
            }
            var figures: [String: Any] = [
                "format": format.rawValue, "rows": collection.vectors.count,
                "vector_bytes_stored": collection.vectors.count * format.storedBytesPerVector(dimension: dimension),
                "vector_bytes_memory": collection.vectors.memoryBytes, "database_bytes": size(database),
                "open_median_s": median(opens), "open_s": opens, "recall_at_10": alone.recall,
                "identical_top10": alone.identical, "queries": queries.count, "search_median_s": alone.median,
            ]
            if let seconds = convertSeconds[format.rawValue] { figures["convert_s"] = seconds }
            if format != .i8 {
                collection.setVectorFormat(.i8)
                let scanned = measure()
                figures["with_i8_scan"] = [
                    "recall_at_10": scanned.recall, "identical_top10": scanned.identical, "search_median_s": scanned.median,
                    "memory_bytes": collection.vectors.memoryBytes + (collection.compactIndex?.memoryBytes ?? 0),
                ]
            }
            results.append(figures)
        }
        return ["bench": "vector-storage", "dimension": dimension, "formats": results]
    }
}

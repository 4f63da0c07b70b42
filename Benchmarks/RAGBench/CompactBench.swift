import Foundation
import RAGCore

/// `RAGBench compact`: fp32 search (today's path: the single-query kernel and the sgemm batch) against the compact
/// formats (fp16, int8) with exact rescoring from the mapped fp32 file, side by side in one process: single-query
/// and 64-query-batch medians, recall@10 against the exact fp32 top 10 with and without rescoring, and bytes per
/// vector. The variants are interleaved query by query, so drift on a shared machine hits all of them.
///
///   RAGBench compact --vectors FILE --queries FILE [--dimension 384] [--k 10] [--repeat R] [--candidates C]
///                    [--only f16|i8]   (only that format, no fp32 copy in memory: its process memory, for scale runs)
enum CompactBench {
    static func run(_ arguments: Arguments, repeats: Int) throws -> [String: Any] {
        guard let vectorsPath = arguments.options["vectors"], let queriesPath = arguments.options["queries"] else {
            fail("compact needs --vectors FILE --queries FILE")
        }
        let dimension = arguments.int("dimension", 384)
        let k = arguments.int("k", 10)
        let candidates = arguments.options["candidates"].flatMap(Int.init)
        let only = arguments.options["only"].flatMap(VectorFormat.init(rawValue:))
        let file = try MappedVectorFile(path: vectorsPath, dimension: dimension)
        let flat = readFloats(queriesPath)
        let queries = stride(from: 0, to: flat.count, by: dimension).map { Array(flat[$0..<$0 + dimension]) }
        let singleRuns = max(repeats, queries.count)

        // fp32, as `RAGBench search` holds it (skipped with --only).
        var fp32: VectorIndex? = nil
        if only == nil {
            fp32 = VectorIndex(dimension: dimension, rows: file.count) { out in
                let rows = file.rows(0..<file.count)
                out.baseAddress!.update(from: rows.baseAddress!, count: rows.count)
            }
        }
        let formats = only.map { [$0] } ?? [VectorFormat.f16, .i8]
        var compact: [VectorFormat: CompactVectorIndex] = [:]
        var buildSeconds: [String: Double] = [:]
        for format in formats {
            buildSeconds[format.rawValue] = seconds {
                var index = CompactVectorIndex(format: format, dimension: dimension)
                index.add(normalizedRows: file.rows(0..<file.count))
                compact[format] = index
            }
        }
        file.dropResidentPages()

        // The exact top k of every query: from fp32 in memory, else by scanning the mapped file once per query.
        let truth: [[VectorIndex.Hit]] = queries.map { query in fp32?.search(query, k: k) ?? file.search(query, k: k) }
        file.dropResidentPages()

        // Warm up every variant, then time single queries interleaved.
        if let fp32 { _ = fp32.search(queries[0], k: k) }
        for index in compact.values { _ = index.search(queries[0], k: k, candidates: candidates, exact: file) }
        var single: [String: [Double]] = [:]
        for run in 0..<singleRuns {
            let query = queries[run % queries.count]
            if let fp32 { single["f32", default: []].append(seconds { _ = fp32.search(query, k: k) }) }
            for format in formats {
                let index = compact[format]!
                single["\(format.rawValue)", default: []].append(seconds { _ = index.search(query, k: k, candidates: candidates, exact: file) })
                single["\(format.rawValue)-approximate", default: []].append(seconds { _ = index.approximateSearch(query, k: k) })
            }
        }
        var batch: [String: [Double]] = [:]
        for _ in 0..<repeats {
            if let fp32 { batch["f32", default: []].append(seconds { _ = fp32.search(batch: queries, k: k) }) }
            if let index = compact[.i8] {
                batch["i8", default: []].append(seconds { _ = index.search(batch: queries, k: k, candidates: candidates, exact: file) })
            }
        }

        // Recall@k against the exact top k.
        func recall(_ found: [[VectorIndex.Hit]]) -> Double {
            let matched = zip(found, truth).map { Set($0.map(\.row)).intersection($1.map(\.row)).count }.reduce(0, +)
            return Double(matched) / Double(truth.count * k)
        }
        var recalls: [String: Double] = [:]
        var identical: [String: Bool] = [:]
        for (format, index) in compact {
            let rescored = queries.map { index.search($0, k: k, candidates: candidates, exact: file) }
            recalls[format.rawValue] = recall(rescored)
            identical[format.rawValue] = zip(rescored, truth).allSatisfy { $0.map(\.row) == $1.map(\.row) }
            recalls["\(format.rawValue)-approximate"] = recall(queries.map { index.approximateSearch($0, k: k) })
            if format == .i8 { recalls["i8-batch"] = recall(index.search(batch: queries, k: k, candidates: candidates, exact: file)) }
        }

        let memory = Self.processMemory()
        var result: [String: Any] = [
            "bench": "compact", "rows": file.count, "dimension": dimension, "k": k, "queries": queries.count,
            "candidates": candidates ?? CompactVectorIndex.defaultCandidates(k: k),
            "single_median_s": single.mapValues(median), "batch_median_s": batch.mapValues(median),
            "recall_at_k": recalls, "rescored_equals_exact": identical, "build_s": buildSeconds,
            "index_bytes": compact.reduce(into: [String: Int]()) { $0[$1.key.rawValue] = $1.value.memoryBytes }
                .merging(fp32.map { ["f32": $0.storage.count * 4] } ?? [:]) { a, _ in a },
            "kernels": compact.reduce(into: [String: String]()) { $0[$1.key.rawValue] = $1.value.kernelName }
                .merging(["f32": VectorIndex.kernelName]) { a, _ in a },
            "process_memory_bytes": memory,
            "bytes_scanned_f32": file.count * dimension * 4,
        ]
        result["median_s"] = median(single[(only ?? .i8).rawValue] ?? [0])
        return result
    }

    /// VmRSS, VmHWM and RssAnon from /proc/self/status, in bytes.
    static func processMemory() -> [String: Int] {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return [:] }
        var memory: [String: Int] = [:]
        for line in status.split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == ":" || $0 == " " || $0 == "\t" })
            guard parts.count >= 2, ["VmRSS", "VmHWM", "RssAnon", "RssFile"].contains(String(parts[0])), let kb = Int(parts[1]) else { continue }
            memory[String(parts[0])] = kb * 1024
        }
        return memory
    }
}

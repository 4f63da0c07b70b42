// rag-bench minilm: MiniLM embedding throughput on 256-token chunks, against the machine's sgemm ceiling.
//
//   RAGBench minilm [--models DIR] [--chunks 64] [--repeat 5] [--modes 1x1,2x1,1x2,2x2] [--pass-tokens 2048]
//                   [--precisions f32,i8]      (modes: workers x BLAS threads)
//
// Prints one JSON object: chunks/s for each threading mode (embedder worker threads × OpenBLAS threads) and each
// precision of the dense layers (timed alternately within each repeat), the model's FLOPs per chunk, the sgemm
// ceiling (GFLOP/s of plain cblas_sgemm on the encoder's dense shapes, with one and two threads), the achieved
// fraction of it, how close each precision's embeddings are to fp32's (cosine, min and median over the chunks),
// and the peak resident memory.
import CBLAS
import CEncoderKernels
import Foundation
import RAGCore

#if canImport(Glibc)
import Glibc
#endif

enum MiniLMBench {
    /// The benchmark texts: deterministic word salad long enough to fill 256 tokens (Benchmarks/scripts/minilm_baseline.py
    /// builds the same strings).
    static func texts(count: Int) -> [String] {
        let words = """
            matrix vector eigenvalue solve linear system function plot figure axis label legend string cell array \
            structure field index loop condition error warning file read write format number integer double \
            precision complex root polynomial derivative integral equation optimisation gradient signal filter \
            frequency transform image colour pixel package install document chapter section table reference \
            example output input variable value default option
            """.split(separator: " ").map(String.init)
        return (0..<count).map { i in (0..<400).map { j in words[(i * 7 + j * 13) % words.count] }.joined(separator: " ") }
    }

    static func peakResidentBytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Int(usage.ru_maxrss) * 1024
    }

    /// GFLOP/s of `cblas_sgemm` for C (m × n) = A (m × k) · Bᵀ, the encoder's dense-layer form: `concurrent`
    /// threads each run `calls` products on their own matrices at the same time, as the embedder's workers do;
    /// the best of `repeats` such rounds.
    static func sgemmGFLOPS(m: Int, n: Int, k: Int, concurrent: Int, repeats: Int, calls: Int = 8) -> Double {
        let a = (0..<concurrent).map { _ in [Float](repeating: 0.01, count: m * k) }
        let b = [Float](repeating: 0.02, count: n * k)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: concurrent * m * n)
        defer { c.deallocate() }
        let out = SendablePointer(pointer: c)
        var best = Double.infinity
        for _ in 0..<repeats {
            let time = seconds {
                DispatchQueue.concurrentPerform(iterations: concurrent) { index in
                    a[index].withUnsafeBufferPointer { a in
                        b.withUnsafeBufferPointer { b in
                            for _ in 0..<calls {
                                cblas_sgemm(
                                    CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k), 1, a.baseAddress,
                                    Int32(k), b.baseAddress, Int32(k), 0, out.pointer + index * m * n, Int32(n))
                            }
                        }
                    }
                }
            }
            best = min(best, time)
        }
        return Double(concurrent * calls) * 2 * Double(m * n * k) / best / 1e9
    }

    struct SendablePointer: @unchecked Sendable {
        // @unchecked Sendable: each concurrent call writes its own block.
        let pointer: UnsafeMutablePointer<Float>
    }

    /// The ceiling: the encoder's dense shapes (QKV/output 384×384, FFN 384×1536 and 1536×384) weighted by their
    /// FLOPs, on `tokens` rows.
    static func ceilingGFLOPS(tokens: Int, threads: Int, repeats: Int) -> [String: Double] {
        var results: [String: Double] = [:]
        // One call with `threads` OpenBLAS threads, or `threads` single-threaded calls at once: the better counts.
        for (mode, blasThreads, concurrent) in [("blas", threads, 1), ("workers", 1, threads)] {
            openblas_set_num_threads(Int32(blasThreads))
            let shapes: [(n: Int, k: Int, weight: Double)] = [(384, 384, 4 * 384 * 384), (1536, 384, 384 * 1536), (384, 1536, 384 * 1536)]
            var time = 0.0, flops = 0.0
            for shape in shapes {
                let gflops = sgemmGFLOPS(m: tokens, n: shape.n, k: shape.k, concurrent: concurrent, repeats: repeats)
                time += shape.weight / gflops
                flops += shape.weight
            }
            results[mode] = flops / time
        }
        return results
    }

    /// `modes` lists `workers x blasThreads` pairs, e.g. `1x1,2x1`.
    static func run(
        modelsDirectory: URL, chunks: Int, repeats: Int, modes modeList: String = "1x1,2x1,1x2,2x2", passTokens: Int = 2048,
        precisions precisionList: String = "f32,i8"
    ) throws -> [String: Any] {
        let precisions = try precisionList.split(separator: ",").map { name in
            guard let precision = MiniLMEmbedder.Precision(rawValue: String(name)), precision != .auto else {
                fail("--precisions takes f32 and i8, comma-separated (got \(name))")
            }
            return precision
        }
        let folder = modelsDirectory.appendingPathComponent(MiniLMEmbedder.directoryName)
        let texts = texts(count: chunks)
        let loadStart = ContinuousClock.now
        let probe = try MiniLMEmbedder(modelDirectory: folder, configuration: .init(threads: 1, singleThreadedBLAS: false))
        let loadTime = ContinuousClock.now - loadStart
        let lengths = texts.map { probe.tokenizer.encode($0, maxTokens: 256).ids.count }
        guard lengths.allSatisfy({ $0 == 256 }) else { fail("benchmark texts must fill 256 tokens") }
        // The model's work per 256-token chunk: 6 layers of dense layers (4·h² + 2·h·f per token) and attention.
        let n = 256.0, h = 384.0, f = 1536.0
        let flopsPerChunk = 6 * (2 * n * h * (4 * h + 2 * f) + 4 * n * n * h)

        let pairs = modeList.split(separator: ",").compactMap { pair -> (Int, Int)? in
            let parts = pair.split(separator: "x").compactMap { Int($0) }
            return parts.count == 2 && parts.allSatisfy { $0 >= 1 } ? (parts[0], parts[1]) : nil
        }
        // Each repeat times the embedder, then the sgemm ceiling for the same number of cores right after it, so
        // that load from other processes on this shared machine hits both alike; medians of both are reported.
        var modes: [[String: Any]] = []
        for (workers, blasThreads) in pairs {
            let cores = max(workers, blasThreads)
            let embedders = try precisions.map { precision in
                try MiniLMEmbedder(
                    modelDirectory: folder,
                    configuration: .init(threads: workers, maxTokensPerPass: passTokens, singleThreadedBLAS: false, precision: precision))
            }
            openblas_set_num_threads(Int32(blasThreads))
            for embedder in embedders { _ = embedder.embedBlocking(Array(texts.prefix(4))) }  // warm up: fault the weights in
            var times = precisions.map { _ in [Double]() }
            var ceilings: [Double] = []
            for _ in 0..<repeats {
                openblas_set_num_threads(Int32(blasThreads))
                for (index, embedder) in embedders.enumerated() { times[index].append(seconds { _ = embedder.embedBlocking(texts) }) }
                ceilings.append(ceilingGFLOPS(tokens: 2048, threads: cores, repeats: 2).values.max()!)
            }
            let ceiling = median(ceilings)
            for (index, precision) in precisions.enumerated() {
                let m = median(times[index])
                let rate = Double(chunks) / m
                modes.append([
                    "workers": workers, "blas_threads": blasThreads, "cores": cores, "precision": precision.rawValue,
                    "median_s": m, "chunks_per_s": rate, "gflops": rate * flopsPerChunk / 1e9, "times_s": times[index],
                    "ceiling_gflops": ceiling, "ceiling_gflops_runs": ceilings, "fraction_of_ceiling": rate * flopsPerChunk / 1e9 / ceiling,
                    "ceiling_chunks_per_s": ceiling * 1e9 / flopsPerChunk,
                ])
            }
        }
        // How far each precision's embeddings are from fp32's, on the benchmark chunks.
        var agreement: [String: Any] = [:]
        let reference = try MiniLMEmbedder(modelDirectory: folder, configuration: .init(precision: .f32)).embedBlocking(texts)
        for precision in precisions where precision != .f32 {
            let vectors = try MiniLMEmbedder(modelDirectory: folder, configuration: .init(precision: precision)).embedBlocking(texts)
            let cosines = zip(vectors, reference).map { pair in zip(pair.0, pair.1).reduce(Float(0)) { $0 + $1.0 * $1.1 } }
            agreement[precision.rawValue] = ["min_cosine": Double(cosines.min()!), "median_cosine": median(cosines.map(Double.init))]
        }
        openblas_set_num_threads(Int32(ProcessInfo.processInfo.activeProcessorCount))
        // The best mode for each number of cores.
        var summary: [String: Any] = [:]
        for cores in [1, 2] {
            guard let best = modes.filter({ $0["cores"] as! Int == cores && $0["precision"] as! String == "f32" }).max(by: { ($0["chunks_per_s"] as! Double) < ($1["chunks_per_s"] as! Double) }) else { continue }
            summary["\(cores)"] = best.filter { $0.key != "times_s" && $0.key != "ceiling_gflops_runs" }
        }
        return [
            "bench": "minilm", "chunks": chunks, "tokens_per_chunk": 256, "flops_per_chunk": flopsPerChunk,
            "load_s": Double(loadTime.components.seconds) + Double(loadTime.components.attoseconds) * 1e-18,
            "modes": modes, "best": summary, "pass_tokens": passTokens, "cosine_to_f32": agreement,
            "i8_kernel": String(cString: ragenc_i8_kernel_name()),
            "median_s": modes.map { $0["median_s"] as! Double }.min() ?? 0,
            "peak_rss_bytes": peakResidentBytes(),
        ]
    }
}

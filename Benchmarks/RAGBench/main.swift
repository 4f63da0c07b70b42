// rag-bench: the Swift side of the benchmarks in docs/performance.md. Each subcommand prints one JSON object
// with a "median_s" field (the median over --repeat runs) and its own figures. Benchmarks/scripts/run.sh runs these
// side by side with the Python baselines.
//
//   RAGBench extract PDF [--threads N] [--repeat R]
//   RAGBench search --vectors FILE --queries FILE [--dimension 384] [--k 10] [--repeat R]
//   RAGBench storage --vectors FILE [--queries FILE] [--chunks 1000000] [--repeat R] [--dir D] [--database-url URL]   (SQLite store vs the old file, and PostgreSQL: add, open, search)
//   RAGBench compact --vectors FILE --queries FILE [--k 10] [--repeat R] [--candidates C] [--only f16|i8]   (fp32 vs fp16 and int8 with rescoring: speed, recall, bytes)
//   RAGBench chunk TEXTFILE [--size 1000] [--overlap 200] [--repeat R]
//   RAGBench cache --redis-url URL [--requests N]   (where a response-cache hit's time goes, Benchmarks/scripts/cache.sh)
//   RAGBench serve [--port P] [--delay-ms D] [--tokens N] [--log-level L] [--redis-url URL] [--rate-limit N]   (rag-server with a mock LLM, for Benchmarks/scripts/server.sh)
//   RAGBench sleep [--tasks 100] [--delay-ms 50] [--seconds 10]   (how late Task.sleep wakes, nothing else running)
//   RAGBench llm [--requests N]   (OpenAIClient vs the curl command, both against FakeOpenAIServer on 127.0.0.1)
//   RAGBench multipart [--repeat R] [--legacy-cap-s S]   (Multipart.parse on 2k/20k/200k tiny fields, and the old parser as the baseline)
import Foundation
import RAGCore
import RAGTesting

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("RAGBench: \(message)\n".utf8))
    exit(2)
}

struct Arguments: Sendable {
    var positional: [String] = []
    var options: [String: String] = [:]

    init(_ arguments: ArraySlice<String>) {
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            if argument.hasPrefix("--") {
                options[String(argument.dropFirst(2))] = iterator.next() ?? ""
            } else {
                positional.append(argument)
            }
        }
    }

    func int(_ name: String, _ fallback: Int) -> Int { options[name].flatMap(Int.init) ?? fallback }
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = ContinuousClock.now
    try body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func printJSON(_ object: [String: Any]) {
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

func readFloats(_ path: String) -> [Float] {
    guard let data = FileManager.default.contents(atPath: path) else { fail("cannot read \(path)") }
    var floats = [Float](repeating: 0, count: data.count / 4)
    floats.withUnsafeMutableBytes { out in data.withUnsafeBytes { out.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<out.count])) } }
    return floats
}

OpenBLASCore.reexecIfUnrecognized()  // as rag and rag-server do: OpenBLAS's kernels for this CPU
let arguments = Arguments(CommandLine.arguments.dropFirst(2))
let repeats = max(1, arguments.int("repeat", 5))

switch CommandLine.arguments.dropFirst().first {
case "extract":
    guard let path = arguments.positional.first else { fail("extract needs a PDF path") }
    var limits = ExtractionLimits()
    limits.threads = arguments.int("threads", 1)
    let loader = DocumentLoader(limits: limits)
    let url = URL(fileURLWithPath: path)
    var pages = 0
    var characters = 0
    let times = (0..<repeats).map { _ in
        seconds {
            do {
                let document = try loader.load(contentsOf: url)
                pages = document.pageCount
                characters = document.pages.reduce(0) { $0 + $1.text.count }
            } catch { fail("\(error)") }
        }
    }
    let m = median(times)
    printJSON(["bench": "extract", "threads": limits.threads, "pages": pages, "characters": characters, "median_s": m, "pages_per_s": Double(pages) / m, "times_s": times])

case "search":
    guard let vectorsPath = arguments.options["vectors"], let queriesPath = arguments.options["queries"] else {
        fail("search needs --vectors FILE --queries FILE")
    }
    let dimension = arguments.int("dimension", 384)
    let k = arguments.int("k", 10)
    guard let matrix = FileManager.default.contents(atPath: vectorsPath) else { fail("cannot read \(vectorsPath)") }
    let index = VectorIndex(dimension: dimension, rows: matrix.count / 4 / dimension) { out in
        matrix.withUnsafeBytes { UnsafeMutableRawBufferPointer(out).copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<out.count * 4])) }
    }
    let flat = readFloats(queriesPath)
    let queries = stride(from: 0, to: flat.count, by: dimension).map { Array(flat[$0..<$0 + dimension]) }
    _ = index.search(queries[0], k: k)  // warm up: page the matrix in
    var single: [Double] = []
    for run in 0..<max(repeats, 20) {
        let query = queries[run % queries.count]
        single.append(seconds { _ = index.search(query, k: k) })
    }
    var batch: [Double] = []
    for _ in 0..<repeats { batch.append(seconds { _ = index.search(batch: queries, k: k) }) }
    printJSON([
        "bench": "search", "rows": index.count, "dimension": dimension, "k": k, "batch_size": queries.count,
        "median_s": median(single), "single_median_s": median(single), "batch_median_s": median(batch),
        "bytes_scanned": index.count * dimension * 4, "single_times_s": single, "batch_times_s": batch,
    ])

case "chunk":
    guard let path = arguments.positional.first, let text = try? String(contentsOfFile: path, encoding: .utf8) else {
        fail("chunk needs a UTF-8 text file")
    }
    let chunker = Chunker(options: ChunkingOptions(maxCharacters: arguments.int("size", 1000), overlapCharacters: arguments.int("overlap", 200)))
    let pages = [Page(number: 1, text: text)]
    var count = 0
    let times = (0..<repeats).map { _ in
        seconds { count = chunker.chunks(pages: pages, documentID: DocumentID(rawValue: "bench"), fileName: "bench.txt").count }
    }
    let m = median(times)
    printJSON(["bench": "chunk", "characters": text.count, "bytes": text.utf8.count, "chunks": count, "median_s": m, "chars_per_s": Double(text.count) / m, "times_s": times])

case "storage":
    printJSON(try await StorageBench.run(arguments, repeats: repeats))

case "vector-storage":
    printJSON(try await VectorStorageBench.run(arguments, repeats: repeats))

case "compact":
    printJSON(try CompactBench.run(arguments, repeats: repeats))

case "serve":
    try await ServeBench.run(arguments)

case "sleep":
    printJSON(await ServeBench.sleep(arguments))

case "cache":
    printJSON(try await CacheBench.run(arguments))

case "llm":
    let requests = max(5, arguments.int("requests", 200))
    let result = try await LLMBench.run(requests: requests)
    printJSON(result)

case "multipart":
    printJSON(MultipartBench.run(repeats: repeats, legacyCap: Double(arguments.options["legacy-cap-s"] ?? "") ?? 30))

case "minilm": printJSON(try MiniLMBench.run(modelsDirectory: URL(fileURLWithPath: arguments.options["models"] ?? "models"), chunks: arguments.int("chunks", 64), repeats: repeats, modes: arguments.options["modes"] ?? "1x1,2x1,1x2,2x2", passTokens: arguments.int("pass-tokens", 2048), precisions: arguments.options["precisions"] ?? "f32,i8"))

default:
    fail("usage: RAGBench extract PDF [--threads N] | search --vectors F --queries F | chunk TEXT  [--repeat R]")
}

import Foundation
import RAGCore
import RAGTesting

/// `RAGBench cache --redis-url URL [--requests N]`: where the time of a response-cache hit goes, one request at a
/// time and 100 at once: the whole lookup (`Engine.lookUpAnswer`: key, GET, decode), a bare `GET` of the same
/// value, and decoding it alone.
enum CacheBench {
    static func run(_ arguments: Arguments) async throws -> [String: Any] {
        guard let url = arguments.options["redis-url"] else { fail("usage: RAGBench cache --redis-url URL [--requests N]") }
        let requests = max(100, arguments.int("requests", 20_000))
        let client = RedisClient(configuration: try RedisConfiguration(url: url))
        await client.start()
        defer { Task { await client.shutdown() } }
        let cache = RedisResponseCache(client: client)
        let engine = try await Engine(llm: MockLLMClient(defaultReply: "Employees receive 25 days [1]."), cache: cache)
        _ = try await engine.ingest(
            data: TestPDF.make(pages: ["Employees receive 25 days of paid vacation per year.", "Receipts are due within 30 days."]),
            fileName: "handbook.pdf")
        let question = "How many vacation days do employees receive?"
        _ = try await engine.ask(question)
        guard case (let answer?, .hit) = await engine.lookUpAnswer(question) else { fail("cache: the answer was not stored") }
        let bytes = CacheCodec.encode(answer)
        try await client.set("bench:value", bytes, ttl: .seconds(600))

        func microseconds(_ count: Int, _ body: () async throws -> Void) async rethrows -> Double {
            let start = ContinuousClock.now
            for _ in 0..<count { try await body() }
            let elapsed = ContinuousClock.now - start
            return (Double(elapsed.components.seconds) * 1e6 + Double(elapsed.components.attoseconds) * 1e-12) / Double(count)
        }
        func concurrent(_ body: @escaping @Sendable () async throws -> Void) async throws -> Double {
            let start = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<100 {
                    group.addTask { for _ in stride(from: worker, to: requests, by: 100) { try await body() } }
                }
                try await group.waitForAll()
            }
            let elapsed = ContinuousClock.now - start
            return Double(requests) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
        }
        let lookup = await microseconds(requests) { _ = await engine.lookUpAnswer(question) }
        let get = try await microseconds(requests) { _ = try await client.get("bench:value") }
        let decode = try await microseconds(requests) { _ = try CacheCodec.decodeAnswer(bytes) }
        let lookupRate = try await concurrent { _ = await engine.lookUpAnswer(question) }
        let getRate = try await concurrent { _ = try await client.get("bench:value") }
        return [
            "bench": "cache", "requests": requests, "value_bytes": bytes.count,
            "sequential_us": ["lookup": lookup, "get": get, "decode": decode],
            "concurrent_100_per_s": ["lookup": lookupRate, "get": getRate],
        ]
    }
}

import Foundation
import Hummingbird
import Logging
import NIOCore
import RAGCore
import RAGServer
import RAGTesting
import ServiceLifecycle
import Synchronization
import UnixSignals

/// `RAGBench serve`: the real server application (`buildApplication`) over an in-memory collection, answering with
/// `MockLLMClient`, so that load tests measure the server and not a model. `--delay-ms` is the pause before each
/// streamed piece, `--tokens` the number of pieces; no rate limit, and enough answer slots for every client.
/// `--redis-url URL` puts the response cache in that Redis (and the rate limit, with `--rate-limit N`: per minute and
/// burst, for a limit that costs its Redis round trip without refusing anything), the rate limit in Redis too with
/// `--shared-rate-limit yes`.
/// `--log-level info` logs as `rag-server` does by default (`JSONLogHandler` on stderr: one access line per
/// request); the default, `warning`, leaves the access log out.
///
/// The same application also serves the floor that `/v1/ask` is compared with: `POST /floor` sleeps `--delay-ms`
/// with the mock's mechanism (`Task.sleep(for:)`) and answers `{"ok":true}`, outside the server's middleware, so
/// that its latency is the framework, the timer and the load generator on these cores and nothing of ours.
/// `GET /floor/overshoot` returns (and resets) how late those sleeps woke: the timer's share of the floor.
/// `POST /floor/engine` is the whole answer without the server: `Engine.ask` on the same question (retrieval, prompt, the mock's stream), so `/v1/ask` minus it is what
/// the server adds (HTTP decoding, middleware, metrics, the access log, the timer, the answer's JSON).
enum ServeBench {
    static func run(_ arguments: Arguments) async throws {
        let tokens = max(1, arguments.int("tokens", 1))
        let delay = Duration.milliseconds(arguments.int("delay-ms", 0))
        let reply = (1...tokens).map { "word\($0)" }.joined(separator: " ") + " [1]."
        let llm = MockLLMClient(defaultReply: .text(reply), chunkSize: max(1, reply.count / tokens), delay: delay, recordsRequests: false)
        let level = Logger.Level(rawValue: arguments.options["log-level"] ?? "warning") ?? .warning
        var logger = level < .warning ? Logger(label: "rag.server", factory: { JSONLogHandler(label: $0) }) : Logger(label: "rag.bench")
        logger.logLevel = level
        // `--redis-url URL`: the response cache (and, with `--rate-limit`, the rate limit) in that Redis, as
        // rag-server with RAG_REDIS_URL; `--redis-connections N` connections.
        let metrics = RAGMetrics()
        var redis: RedisClient? = nil
        if let url = arguments.options["redis-url"] {
            var redisConfiguration = try RedisConfiguration(url: url)
            redisConfiguration.connections = arguments.int("redis-connections", redisConfiguration.connections)
            redis = RedisClient(configuration: redisConfiguration, metrics: metrics)
            await redis?.start()
            guard redis?.isUp == true else { throw RedisError(.unavailable, "cannot reach \(redisConfiguration.redactedURL)") }
        }
        let engine = try await Engine(llm: llm, metrics: metrics, logger: logger, cache: redis.map { RedisResponseCache(client: $0) })
        _ = try await engine.ingest(
            data: TestPDF.make(pages: ["Employees receive 25 days of paid vacation per year.", "Receipts are due within 30 days."]),
            fileName: "handbook.pdf")
        let configuration = ServerConfiguration(
            collectionDirectory: URL(fileURLWithPath: "/nonexistent"), host: "127.0.0.1", port: arguments.int("port", 18501),
            metricsPort: 0, rateLimitPerMinute: arguments.int("rate-limit", 0), rateLimitBurst: max(1, arguments.int("rate-limit", 0)),
            maxConcurrentAnswers: 5000, answerQueueLength: 0,
            requestTimeout: .seconds(600))
        // `--shared-rate-limit yes`: the rate limit in Redis too (else local, with the cache still in Redis).
        let sharedLimit = arguments.options["shared-rate-limit"] == "yes"
        let state = ServerState(configuration: configuration, engine: engine, redis: sharedLimit ? redis : nil, logger: logger)

        let router = Router(context: ServerContext.self)
        @Sendable func ok() -> Response {
            Response(
                status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: #"{"ok":true}"#)))
        }
        let overshoot = OvershootHistogram()
        router.post("/floor") { _, _ -> Response in
            let start = ContinuousClock.now
            if delay > .zero { try await Task.sleep(for: delay) }
            overshoot.record(ContinuousClock.now - start - delay)
            return ok()
        }
        let question = "How many vacation days do employees receive?"  // Benchmarks/scripts/ask.lua's
        router.post("/floor/engine") { _, _ -> Response in
            _ = try await engine.ask(question)
            return ok()
        }
        // The Redis commands this server sent (round trips), for Benchmarks/scripts/cache.sh.
        router.get("/floor/redis-commands") { _, _ -> Response in
            let sent = metrics.render().split(separator: "\n").filter { $0.hasPrefix("rag_redis_command_duration_seconds_count") }
                .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
            return Response(
                status: .ok, headers: [.contentType: "text/plain"], body: ResponseBody(byteBuffer: ByteBuffer(string: "\(Int(sent))")))
        }
        router.get("/floor/overshoot") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: overshoot.summaryJSON(reset: true))))
        }
        let app = buildApplication(state: state, router: buildRouter(state, into: router)) { port in
            print("serving on 127.0.0.1:\(port) pid \(getpid())")
            fflush(nil)
        }
        try await ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)).run()
    }

    /// `RAGBench sleep`: `--tasks` tasks each sleeping `--delay-ms` in a loop for `--seconds`, with nothing else
    /// running: how late `Task.sleep(for:)` wakes on its own (the mock model's timer, without a server or a client).
    /// `--tolerance-us N` passes that tolerance to `Task.sleep` (the mock passes none).
    static func sleep(_ arguments: Arguments) async -> [String: Any] {
        let tasks = max(1, arguments.int("tasks", 100))
        let milliseconds = max(1, arguments.int("delay-ms", 50))
        let delay = Duration.milliseconds(milliseconds)
        let tolerance = arguments.options["tolerance-us"].flatMap(Int.init).map { Duration.microseconds($0) }
        let end = ContinuousClock.now + .seconds(max(1, arguments.int("seconds", 10)))
        let overshoot = OvershootHistogram()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<tasks {
                group.addTask {
                    while ContinuousClock.now < end {
                        let start = ContinuousClock.now
                        try? await Task.sleep(for: delay, tolerance: tolerance)
                        overshoot.record(ContinuousClock.now - start - delay)
                    }
                }
            }
        }
        var result = overshoot.summary(reset: false)
        result["bench"] = "sleep"
        result["tasks"] = tasks
        result["delay_ms"] = milliseconds
        result["tolerance_us"] = arguments.options["tolerance-us"].flatMap(Int.init) ?? NSNull()
        return result
    }
}

/// How late sleeps woke, in 10 µs buckets up to 100 ms (later ones count in the last bucket).
final class OvershootHistogram: Sendable {
    private static let bucketMicroseconds = 10
    private let counts = Mutex([Int](repeating: 0, count: 10_001))

    func record(_ late: Duration) {
        let microseconds = Double(late.components.seconds) * 1e6 + Double(late.components.attoseconds) * 1e-12
        let bucket = min(10_000, max(0, Int(microseconds) / Self.bucketMicroseconds))
        counts.withLock { $0[bucket] += 1 }
    }

    /// Sample count and the p50, p90, p99 and largest overshoot in milliseconds (each the bucket's upper edge).
    func summary(reset: Bool) -> [String: Any] {
        let counts = self.counts.withLock { counts in
            defer { if reset { counts = [Int](repeating: 0, count: counts.count) } }
            return counts
        }
        let total = counts.reduce(0, +)
        func percentile(_ p: Double) -> Double {
            guard total > 0 else { return 0 }
            let rank = max(1, Int((p * Double(total)).rounded(.up)))
            var seen = 0
            for (bucket, count) in counts.enumerated() {
                seen += count
                if seen >= rank { return Double((bucket + 1) * Self.bucketMicroseconds) / 1000 }
            }
            return Double(counts.count * Self.bucketMicroseconds) / 1000
        }
        let largest = counts.lastIndex(where: { $0 > 0 }).map { Double(($0 + 1) * Self.bucketMicroseconds) / 1000 } ?? 0
        return ["samples": total, "p50_ms": percentile(0.5), "p90_ms": percentile(0.9), "p99_ms": percentile(0.99), "max_ms": largest]
    }

    func summaryJSON(reset: Bool) -> String {
        let data = try! JSONSerialization.data(withJSONObject: summary(reset: reset), options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}

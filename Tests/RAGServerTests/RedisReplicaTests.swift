import Foundation
import RAGTesting
import Testing
import TestSupport

/// Two `rag-server` replicas on one store, one Redis and one fake OpenAI server that counts its calls: a question
/// answered on one replica costs no model call on the other; a changed collection is answered afresh; a rate limit
/// holds across the replicas; and Redis going away mid-traffic fails no answer, leaves each replica its own limits,
/// and is used again when it returns.
///
/// Nested in ``ReplicaTests`` so that they run one at a time with its tests (`.serialized` covers nested suites):
/// each starts two or three `rag-server` processes, and more at once starve the timing-sensitive tests that run
/// beside them on a two-core machine.
extension ReplicaTests {
@Suite(.enabled(if: RedisTestServer.isAvailable, "redis-server is not installed (scripts/setup.sh)"))
struct RedisReplicaTests {

    /// A replica with the fake model, Redis, a metrics port, and `extra` arguments last (a later flag wins).
    static func replica(_ store: [String], redis: RedisTestServer, llm: FakeOpenAIServer, extra: [String] = [], keys: String? = nil) throws
        -> (server: ServerProcess, metricsPort: Int)
    {
        let metricsPort = try RedisTestServer.freePort()
        var environment = ["OPENAI_BASE_URL": llm.baseURL, "OPENAI_API_KEY": "sk-test-redis", "RAG_LLM_MAX_ATTEMPTS": "1", "RAG_REDIS_URL": redis.url]
        if let keys { environment["RAG_API_KEYS"] = keys }
        let server = try ServerProcess(
            arguments: [
                "--upload-mode", "inline", "--reload-interval", "0.2", "--llm", "openai", "--rate-limit", "0", "--metrics-port",
                String(metricsPort), "--metrics-cache", "0", "--redis-timeout", "0.5",
            ] + extra,
            store: store, environment: environment)
        return (server, metricsPort)
    }

    struct Reply {
        var status: Int
        var cache: String
        var json: [String: Any]
    }

    /// One request through curl: the status, the `X-Cache` header and the JSON body.
    static func call(_ server: ServerProcess, _ method: String, _ path: String, json: [String: Any]? = nil, file: URL? = nil, key: String? = nil)
        async throws -> Reply
    {
        var arguments = ["-X", method, "-w", "\n%{http_code} %header{x-cache}"]
        if let key { arguments += ["-H", "Authorization: Bearer \(key)"] }
        if let json {
            arguments += ["-H", "Content-Type: application/json", "--data-binary", String(decoding: try JSONSerialization.data(withJSONObject: json), as: UTF8.self)]
        }
        if let file { arguments += ["-F", "file=@\(file.path);type=application/pdf"] }
        let result = try await Curl.start(arguments + [server.baseURL + path]).finished(timeout: .seconds(90))
        let lines = result.text.split(separator: "\n", omittingEmptySubsequences: false)
        let trailer = (lines.last ?? "").split(separator: " ", omittingEmptySubsequences: false)
        let body = lines.dropLast().joined(separator: "\n")
        return Reply(
            status: Int(trailer.first ?? "") ?? 0, cache: trailer.count > 1 ? String(trailer[1]) : "",
            json: (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:])
    }

    static func metrics(_ port: Int) async throws -> String {
        try await Curl.start(["http://127.0.0.1:\(port)/metrics"]).finished(timeout: .seconds(30)).text
    }

    static func modelCalls(_ llm: FakeOpenAIServer) -> Int { llm.requests.filter { $0.path.hasSuffix("/chat/completions") }.count }

    static func upload(_ server: ServerProcess, _ name: String, _ text: String) async throws -> Int {
        let reply = try await call(server, "POST", "/v1/documents", file: try ReplicaTests.pdf(name, [text]))
        #expect(reply.status == 201, "\(reply.json)")
        return reply.json["index_version"] as? Int ?? 0
    }

    @Test(.timeLimit(.minutes(3)), arguments: ReplicaTests.stores)
    func aQuestionAnsweredOnOneReplicaCostsNoModelCallOnTheOther(store: SharedStore) async throws {
        guard store.isAvailable else { return print(PostgresTestServer.unavailableReason ?? "") }
        let redis = try RedisTestServer()
        let llm = try FakeOpenAIServer()
        defer { llm.stop() }
        llm.defaultBehavior = .chatStream(deltas: ["Receipts are due ", "within 30 days [1]."])
        let shared = try store.arguments()
        let (a, _) = try Self.replica(shared, redis: redis, llm: llm)
        let (b, _) = try Self.replica(shared, redis: redis, llm: llm)
        defer {
            a.stop()
            b.stop()
        }
        let version = try await Self.upload(a, "travel.pdf", "Receipts for travel must be submitted within 30 days of the trip.")
        let question: [String: Any] = ["question": "When are travel receipts due?", "min_index_version": version]

        let onA = try await Self.call(a, "POST", "/v1/ask", json: question)
        #expect(onA.status == 200 && onA.cache == "miss", "\(onA.json)")
        #expect(Self.modelCalls(llm) == 1)
        let onB = try await Self.call(b, "POST", "/v1/ask", json: question)
        #expect(onB.status == 200 && onB.cache == "hit", "\(onB.json)")
        #expect(Self.modelCalls(llm) == 1, "the same question on B must not call the model again")
        #expect(onB.json["answer"] as? String == "Receipts are due within 30 days [1].")
        #expect(((onB.json["citations"] as? [[String: Any]])?.first?["file"] as? String)?.hasSuffix("travel.pdf") == true)
        let streamed = try await Curl.start([
            "-H", "Content-Type: application/json", "-d", #"{"question":"When are travel receipts due?","stream":true}"#, b.baseURL + "/v1/ask",
        ]).finished(timeout: .seconds(60)).text
        #expect(streamed.contains("event: passages") && streamed.contains("within 30 days [1].") && streamed.contains("event: done"))
        #expect(Self.modelCalls(llm) == 1)

        // An upload on B changes the collection: the same question, on A at that version, is answered afresh.
        let newer = try await Self.upload(b, "hotel.pdf", "Hotel rooms are booked through the travel desk.")
        let again = try await Self.call(a, "POST", "/v1/ask", json: ["question": "When are travel receipts due?", "min_index_version": newer])
        #expect(again.status == 200 && again.cache == "miss", "\(again.json)")
        #expect(Self.modelCalls(llm) == 2)
        let bypass = try await Self.call(b, "POST", "/v1/ask", json: ["question": "When are travel receipts due?", "cache": false])
        #expect(bypass.cache == "skipped" && Self.modelCalls(llm) == 3)
    }

    /// 2N requests spread over both replicas against a burst of N (refilled at one a minute, so that a slow machine
    /// refills nothing during the test): N get through, not 2N.
    /// Then Redis stops: each replica decides alone (about N each); and when Redis returns, the limit is shared again.
    @Test(.timeLimit(.minutes(3)))
    func aRateLimitHoldsAcrossReplicasAndFallsBackToEachReplicaWhileRedisIsDown() async throws {
        let redis = try RedisTestServer()
        let llm = try FakeOpenAIServer()
        defer { llm.stop() }
        let keys = "first:key-first-aaaa,second:key-second-aaaa,third:key-third-aaaa"
        let limit = ["--rate-limit", "1", "--rate-burst", "6"]
        let shared = try SharedStore.sqlite.arguments()
        let (a, metricsA) = try Self.replica(shared, redis: redis, llm: llm, extra: limit, keys: keys)
        let (b, metricsB) = try Self.replica(shared, redis: redis, llm: llm, extra: limit, keys: keys)
        defer {
            a.stop()
            b.stop()
        }
        func through(_ key: String, _ count: Int) async throws -> Int {
            var ok = 0
            for index in 0..<count {
                let reply = try await Self.call(index.isMultiple(of: 2) ? a : b, "GET", "/v1/documents", key: key)
                #expect(reply.status == 200 || reply.status == 429, "\(reply.status) \(reply.json)")
                if reply.status == 200 { ok += 1 }
            }
            return ok
        }
        let sharedRun = try await through("key-first-aaaa", 12)
        #expect(sharedRun == 6, "with Redis, the replicas share one bucket: \(sharedRun) of 12 got through")

        redis.kill()
        let localRun = try await through("key-second-aaaa", 12)
        #expect(localRun == 12, "without Redis, each replica's own bucket of 6: \(localRun) of 12 got through")
        let text = try await Self.metrics(metricsA)
        #expect(text.contains("\nrag_redis_up 0"))
        #expect(text.contains(#"rag_rate_limit_decisions_total{store="local"}"#) && !text.contains(#"rag_rate_limit_decisions_total{store="local"} 0"#))

        try redis.start()
        let deadline = ContinuousClock.now + .seconds(20)
        for port in [metricsA, metricsB] {
            while ContinuousClock.now < deadline, !(try await Self.metrics(port)).contains("\nrag_redis_up 1") {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        let back = try await through("key-third-aaaa", 12)
        #expect(back == 6, "Redis again: one bucket for both: \(back) of 12 got through")
    }

    /// Redis stops in the middle of a stream of questions on both replicas: every answer still comes (without the
    /// cache); when Redis returns, answers are cached again.
    @Test(.timeLimit(.minutes(3)))
    func redisStoppingMidTrafficFailsNoAnswerAndIsUsedAgainWhenItReturns() async throws {
        let redis = try RedisTestServer()
        let llm = try FakeOpenAIServer()
        defer { llm.stop() }
        llm.defaultBehavior = .chatStream(deltas: ["Receipts are due within 30 days [1]."])
        let shared = try SharedStore.sqlite.arguments()
        let (a, metricsA) = try Self.replica(shared, redis: redis, llm: llm)
        let (b, _) = try Self.replica(shared, redis: redis, llm: llm)
        defer {
            a.stop()
            b.stop()
        }
        let version = try await Self.upload(a, "travel.pdf", "Receipts for travel must be submitted within 30 days of the trip.")
        var outcomes: [String] = []
        for index in 0..<40 {
            if index == 15 { redis.kill() }
            let question = ["question": "Question \(index % 5): when are travel receipts due?", "min_index_version": version] as [String: Any]
            let reply = try await Self.call(index.isMultiple(of: 2) ? a : b, "POST", "/v1/ask", json: question)
            #expect(reply.status == 200, "answer \(index) failed: \(reply.status) \(reply.json)")
            #expect(reply.json["answer"] as? String == "Receipts are due within 30 days [1].")
            outcomes.append(reply.cache)
        }
        #expect(outcomes.prefix(15).contains("hit") && outcomes.prefix(15).allSatisfy { $0 == "hit" || $0 == "miss" }, "\(outcomes)")
        #expect(outcomes.suffix(20).allSatisfy { $0 == "error" }, "\(outcomes)")
        #expect(try await Self.metrics(metricsA).contains("\nrag_redis_up 0"))
        // Still ready (answers go on), saying why the cache is off; and one warning in the log.
        let readiness = try await Self.call(a, "GET", "/readyz")
        #expect(readiness.status == 200 && readiness.json["status"] as? String == "ready")
        #expect((readiness.json["redis"] as? [String: Any])?["status"] as? String == "unavailable", "\(readiness.json)")
        #expect(a.log.components(separatedBy: "redis is unavailable").count - 1 == 1, "one warning when Redis goes away")

        try redis.start()
        let deadline = ContinuousClock.now + .seconds(20)
        var cache = ""
        while ContinuousClock.now < deadline, cache != "hit" {
            cache = try await Self.call(a, "POST", "/v1/ask", json: ["question": "When are travel receipts due?"]).cache
            if cache != "hit" { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(cache == "hit", "the cache works again once Redis is back")
        #expect(try await Self.metrics(metricsA).contains("\nrag_redis_up 1"))
    }
}
}

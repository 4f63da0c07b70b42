import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import RAGCore
import RAGServer
import RAGTesting
import Synchronization
import Testing

/// Issue #12 ("Hostile input and overload"), through the router: history bounds on the answer routes, and the
/// `/metrics` render cache.
@Suite struct HostileInputRouterTests {
    static func history(count: Int, bytes: Int) -> [[String: String]] {
        (0..<count).map { ["role": $0 % 2 == 0 ? "user" : "assistant", "content": String(repeating: "x", count: bytes)] }
    }

    static func errorCode(_ response: TestResponse) -> String? {
        (response.json["error"] as? [String: Any])?["code"] as? String
    }

    /// More messages than `maxRequestHistoryMessages`, or more bytes than `maxRequestHistoryBytes`, is 413 with a
    /// code that says which, on `/v1/ask` (plain and streamed) and `/v1/chat/completions`, before any model call.
    @Test(arguments: [
        (count: 1000, bytes: 10, code: "too_many_history_messages"),
        (count: 4, bytes: 1 << 20, code: "history_too_large"),  // 4 MiB in four messages
    ])
    func oversizedHistoriesAreRefused(shape: (count: Int, bytes: Int, code: String)) async throws {
        var server = TestServer()
        server.llm = MockLLMClient(defaultReply: "Employees get 25 days [1].")
        let (app, _) = try await server.app()
        let llm = server.llm
        let history = Self.history(count: shape.count, bytes: shape.bytes)
        try await app.test(.router) { client in
            try await client.uploadHandbook()
            for stream in [false, true] {
                let ask = try await client.execute(
                    uri: "/v1/ask", method: .post,
                    body: Fixtures.jsonBody(["question": "How many vacation days?", "history": history, "stream": stream]))
                #expect(ask.status == .contentTooLarge)
                #expect(Self.errorCode(ask) == shape.code)
            }
            let messages = history + [["role": "user", "content": "How many vacation days?"]]
            let chat = try await client.execute(
                uri: "/v1/chat/completions", method: .post, body: Fixtures.jsonBody(["model": "x", "messages": messages]))
            #expect(chat.status == .contentTooLarge)
            #expect(Self.errorCode(chat) == shape.code)
        }
        #expect(llm.requests.isEmpty)
    }

    /// The bounds are fields of `ServerConfiguration`; a history within them is answered, and what reaches the model
    /// is bounded by the engine's `PromptOptions`.
    @Test func historyBoundsAreConfigurableAndAHistoryWithinThemIsAnswered() async throws {
        var server = TestServer()
        server.configuration.maxRequestHistoryMessages = 10
        server.configuration.maxRequestHistoryBytes = 100_000
        server.llm = MockLLMClient(replies: ["vacation days", "Employees get 25 days [1]."])
        let (app, _) = try await server.app()
        let llm = server.llm
        try await app.test(.router) { client in
            try await client.uploadHandbook()
            let over = try await client.execute(
                uri: "/v1/ask", method: .post,
                body: Fixtures.jsonBody(["question": "And per year?", "history": Self.history(count: 11, bytes: 1)]))
            #expect(Self.errorCode(over) == "too_many_history_messages")
            let within = try await client.execute(
                uri: "/v1/ask", method: .post,
                body: Fixtures.jsonBody(["question": "And per year?", "history": Self.history(count: 10, bytes: 9_000)]))
            #expect(within.status == .ok)
        }
        let options = PromptOptions()
        #expect(llm.requests.count == 2)  // the rewrite and the answer
        for request in llm.requests {
            #expect(TokenEstimator.estimate(request.messages) <= options.maxPromptTokens)
        }
        let answerHistory = llm.requests.last.map { Array($0.messages.dropFirst().dropLast()) } ?? []
        #expect(answerHistory.reduce(0) { $0 + 4 + TokenEstimator.estimate($1.content) } <= options.maxHistoryTokens)
    }

    /// Concurrent scrapes of `/metrics` share one rendering, and a rendering is served again within the interval.
    @Test func concurrentScrapesRenderTheMetricsOnce() async throws {
        var server = TestServer()
        server.configuration.metricsCacheInterval = .seconds(3600)  // no expiry within the test, however slow
        let state = try await server.state()
        let app = Application(router: buildMetricsRouter(state))
        try await app.test(.router) { client in
            let bodies = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<16 {
                    group.addTask { try await client.execute(uri: "/metrics", method: .get) { $0.text } }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(bodies.count == 16)
            #expect(Set(bodies).count == 1)
            #expect(bodies.first?.contains("# TYPE rag_requests_total counter") == true)
        }
        #expect(state.metricsText.renders == 1)
    }
}

@Suite struct MetricsRenderCacheTests {
    /// A gate the test opens: the rendering waits on it, so every scrape is known to arrive while it runs.
    final class Gate: Sendable {
        let stream: AsyncStream<Void>
        let continuation: AsyncStream<Void>.Continuation
        init() { (stream, continuation) = AsyncStream.makeStream() }
        func wait() async { for await _ in stream { return } }
        func open() { continuation.yield() }
    }

    @Test func scrapesDuringARenderingShareItEvenWithoutCaching() async throws {
        let gate = Gate()
        let cache = MetricsRenderCache(interval: .zero) {
            await gate.wait()
            return "text"
        }
        let scrapes = (0..<8).map { _ in Task { await cache.text() } }
        while cache.joined < 7 { await Task.yield() }  // seven scrapes wait for the one rendering
        gate.open()
        for scrape in scrapes { #expect(await scrape.value == "text") }
        #expect(cache.renders == 1)

        // With no caching interval, the next scrape renders anew.
        let next = Task { await cache.text() }
        while cache.renders < 2 { await Task.yield() }
        gate.open()
        #expect(await next.value == "text")
    }

    @Test func aRenderingIsServedAgainWithinTheInterval() async {
        let counter = Counter()
        let cache = MetricsRenderCache(interval: .seconds(3600)) { "rendering \(counter.next())" }
        #expect(await cache.text() == "rendering 1")
        #expect(await cache.text() == "rendering 1")
        #expect(cache.renders == 1)
    }

    final class Counter: Sendable {
        private let value = Mutex(0)
        func next() -> Int { value.withLock { $0 += 1; return $0 } }
    }
}

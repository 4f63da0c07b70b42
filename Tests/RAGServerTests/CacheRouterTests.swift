import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import RAGCore
import RAGServer
import RAGTesting
import Testing

/// The response cache through the API: `X-Cache`, answers and streams from the cache, `"cache": false`, and a cache
/// that fails.
@Suite struct CacheRouterTests {
    static let xCache = HTTPField.Name("X-Cache")!

    static func ask(_ client: any TestClientProtocol, _ body: [String: Any]) async throws -> TestResponse {
        try await client.execute(
            uri: "/v1/ask", method: .post, headers: [.contentType: "application/json"], body: Fixtures.jsonBody(body))
    }

    /// Runs `body` against a server whose engine has `cache`, with the handbook uploaded; returns the server's state.
    @discardableResult
    static func withCachedServer(
        _ cache: MemoryResponseCache = MemoryResponseCache(),
        _ body: @escaping @Sendable (any TestClientProtocol, MockLLMClient) async throws -> Void
    ) async throws -> ServerState {
        var server = TestServer()
        server.cache = cache
        let llm = server.llm
        let (app, state) = try await server.app()
        try await app.test(.router) { client in
            try await client.uploadHandbook()
            try await body(client, llm)
        }
        return state
    }

    @Test func withoutACacheThereIsNoHeader() async throws {
        let (app, _) = try await TestServer().app()
        try await app.test(.router) { client in
            try await client.uploadHandbook()
            let response = try await Self.ask(client, ["question": "How many vacation days?"])
            #expect(response.status == .ok && response.headers[Self.xCache] == nil)
        }
    }

    @Test func theSecondAskIsAHitAndCallsNoModel() async throws {
        try await Self.withCachedServer { client, llm in
            let first = try await Self.ask(client, ["question": "How many vacation days?"])
            let second = try await Self.ask(client, ["question": "How many vacation days?"])
            #expect(first.headers[Self.xCache] == "miss" && second.headers[Self.xCache] == "hit")
            #expect(llm.requests.count == 1)
            #expect(second.json["answer"] as? String == first.json["answer"] as? String)
            #expect((second.json["citations"] as? [[String: Any]])?.first?["file"] as? String == "handbook.pdf")
            #expect((second.json["usage"] as? [String: Any])?["total_tokens"] as? Int == 0)
            // Streamed from the cache: passages, the text, then done with the citations.
            let stream = try await Self.ask(client, ["question": "How many vacation days?", "stream": true])
            #expect(stream.headers[Self.xCache] == "hit")
            let events = Fixtures.events(stream.text)
            #expect(events.map(\.event) == ["passages", "delta", "done"])
            #expect(events.last?.data.contains("handbook.pdf") == true && llm.requests.count == 1)
            // A new document is a new collection version: answered afresh.
            let upload = try await client.execute(
                uri: "/v1/documents?filename=more.pdf", method: .post, headers: [.contentType: "application/pdf"],
                body: ByteBuffer(bytes: TestPDF.make(pages: ["Parking is free for staff."], title: "More")))
            #expect(upload.status == .created)
            let after = try await Self.ask(client, ["question": "How many vacation days?"])
            #expect(after.headers[Self.xCache] == "miss" && llm.requests.count == 2)
        }
    }

    @Test func cacheFalseAndHistoryAreSkipped() async throws {
        let cache = MemoryResponseCache()
        let state = try await Self.withCachedServer(cache) { client, llm in
            _ = try await Self.ask(client, ["question": "How many vacation days?"])
            let calls = cache.calls
            let bypass = try await Self.ask(client, ["question": "How many vacation days?", "cache": false])
            #expect(bypass.headers[Self.xCache] == "skipped" && llm.requests.count == 2)
            #expect(cache.calls == calls, "\"cache\": false touches nothing")
            let withHistory = try await Self.ask(client, [
                "question": "How many vacation days?", "history": [["role": "user", "content": "Hello"], ["role": "assistant", "content": "Hi"]],
            ])
            #expect(withHistory.headers[Self.xCache] == "skipped")
            let beforeSearch = cache.calls
            let search = try await client.execute(
                uri: "/v1/search", method: .post, headers: [.contentType: "application/json"],
                body: Fixtures.jsonBody(["query": "vacation", "cache": false]))
            #expect(search.status == .ok && (search.json["hits"] as? [Any])?.isEmpty == false)
            #expect(cache.calls == beforeSearch, "a search with \"cache\": false touches nothing")
        }
        // Skipped lookups are counted: the answer layer for the bypassing ask and the one with history, the
        // retrieval and embedding layers for the bypassing ask and search.
        let metrics = state.engine.metrics.render()
        for (layer, count) in [("answer", 2), ("retrieval", 2), ("embedding", 2)] {
            #expect(metrics.contains(#"rag_cache_requests_total{layer="\#(layer)",outcome="skipped"} \#(count)"#), "\(layer)")
        }
    }

    @Test func chatCompletionsAreCachedToo() async throws {
        try await Self.withCachedServer { client, llm in
            func complete(stream: Bool) async throws -> TestResponse {
                try await client.execute(
                    uri: "/v1/chat/completions", method: .post, headers: [.contentType: "application/json"],
                    body: Fixtures.jsonBody(["model": "x", "stream": stream, "messages": [["role": "user", "content": "How many vacation days?"]]]))
            }
            let first = try await complete(stream: false)
            let second = try await complete(stream: false)
            #expect(first.headers[Self.xCache] == "miss" && second.headers[Self.xCache] == "hit" && llm.requests.count == 1)
            let content = ((second.json["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String
            #expect(content?.contains("Sources: [1] handbook.pdf p. 1") == true, "\(content ?? "")")
            let stream = try await complete(stream: true)
            #expect(stream.headers[Self.xCache] == "hit" && stream.text.contains("data: [DONE]") && stream.text.contains("handbook.pdf"))
            #expect(llm.requests.count == 1)
        }
    }

    @Test func aFailingCacheAnswersAndSaysSo() async throws {
        let cache = MemoryResponseCache()
        cache.failing = true
        let state = try await Self.withCachedServer(cache) { client, _ in
            for _ in 0..<2 {
                let response = try await Self.ask(client, ["question": "How many vacation days?"])
                #expect(response.status == .ok && response.headers[Self.xCache] == "error")
            }
        }
        #expect(state.engine.metrics.render().contains(#"rag_cache_requests_total{layer="answer",outcome="error"} 2"#))
    }
}

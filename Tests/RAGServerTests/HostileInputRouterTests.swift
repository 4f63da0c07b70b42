import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import RAGCore
import RAGServer
import RAGTesting
import Testing

/// Issue #12 ("Hostile input and overload"), through the router: history bounds on the answer routes.
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
        let (app, _) = try server.app()
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
        let (app, _) = try server.app()
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
}

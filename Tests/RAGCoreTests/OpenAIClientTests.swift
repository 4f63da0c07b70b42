import Foundation
import RAGCore
import RAGTesting
import Testing

/// The OpenAI-compatible client against the in-process fake server on 127.0.0.1.
@Suite struct OpenAIClientTests {
    static let key = "sk-secret-test-key-123"

    static func configuration(_ server: FakeOpenAIServer, retry: RetryPolicy = RetryPolicy(initialBackoff: .milliseconds(10), maxBackoff: .seconds(2)),
                              timeouts: HTTPTimeouts = HTTPTimeouts(connect: .seconds(5), total: .seconds(10), idle: .seconds(5))) -> OpenAIConfiguration {
        OpenAIConfiguration(baseURL: server.baseURL, apiKey: key, chatModel: "gpt-test", embeddingModel: "text-embedding-test",
                            embeddingDimension: 3, timeouts: timeouts, retry: retry, embeddingBatchSize: 2)
    }

    static let question = CompletionRequest(messages: [.system("Be brief."), .user("Capital of France?")])

    /// Collects a stream's text and usage.
    static func collect(_ stream: AsyncThrowingStream<CompletionEvent, any Error>) async throws -> (text: String, deltas: Int, usage: TokenUsage?) {
        var text = ""
        var deltas = 0
        var usage: TokenUsage? = nil
        for try await event in stream {
            switch event {
            case .delta(let delta): text += delta; deltas += 1
            case .usage(let reported): usage = reported
            }
        }
        return (text, deltas, usage)
    }

    @Test func completesAndSendsTheRequestOpenAIExpects() async throws {
        let server = try FakeOpenAIServer()
        server.enqueue(.chatCompletion(content: "Paris [1].", promptTokens: 30, completionTokens: 4))
        let client = try OpenAIClient(configuration: Self.configuration(server))
        let completion = try await client.complete(Self.question)
        #expect(completion.text == "Paris [1].")
        #expect(completion.usage == TokenUsage(promptTokens: 30, completionTokens: 4, isEstimated: false))
        let request = try #require(server.requests.first)
        #expect(request.method == "POST" && request.path == "/v1/chat/completions")
        #expect(request.headers["authorization"] == "Bearer \(Self.key)")
        let json = try #require(request.json)
        #expect(json["model"] as? String == "gpt-test")
        #expect(json["stream"] as? Bool == false)
        #expect((json["messages"] as? [[String: String]])?.last == ["role": "user", "content": "Capital of France?"])
    }

    @Test func streamsTokensWithTheFinalUsage() async throws {
        let server = try FakeOpenAIServer()
        server.enqueue(.chatStream(deltas: ["Pa", "ris", " [1]."], usage: (prompt: 21, completion: 3)))
        let result = try await Self.collect(try OpenAIClient(configuration: Self.configuration(server)).stream(Self.question))
        #expect(result.text == "Paris [1].")
        #expect(result.deltas == 3)
        #expect(result.usage == TokenUsage(promptTokens: 21, completionTokens: 3, isEstimated: false))
        let json = try #require(server.requests.first?.json)
        #expect(json["stream"] as? Bool == true)
        #expect((json["stream_options"] as? [String: Bool])?["include_usage"] == true)
    }

    @Test func reassemblesEventsAndCharactersSplitAtEveryByte() async throws {
        let server = try FakeOpenAIServer()
        let deltas = ["Grüße ", "aus 東京 ", "👋🏽", " — ok"]
        server.enqueue(.chatStream(deltas: deltas, chunking: .everyByte))
        let result = try await Self.collect(try OpenAIClient(configuration: Self.configuration(server)).stream(Self.question))
        #expect(result.text == deltas.joined())
        #expect(result.usage?.isEstimated == false)
    }

    @Test func waitsForRetryAfterOn429ThenSucceeds() async throws {
        let server = try FakeOpenAIServer()
        server.enqueue(
            .error(status: 429, message: "Rate limit reached", type: "requests", headers: [("Retry-After", "1")]),
            .chatCompletion(content: "ok"))
        let clock = ContinuousClock()
        let start = clock.now
        let completion = try await OpenAIClient(configuration: Self.configuration(server)).complete(Self.question)
        #expect(completion.text == "ok")
        #expect(server.requests.count == 2)
        #expect(clock.now - start >= .milliseconds(950), "Retry-After: 1 was honoured")
    }

    @Test func retriesServerErrorsThenSucceeds() async throws {
        let server = try FakeOpenAIServer()
        server.enqueue(
            .error(status: 500, message: "boom", type: "server_error"), .error(status: 502, message: "bad gateway", type: "server_error"),
            .chatStream(deltas: ["fine"]))
        let result = try await Self.collect(try OpenAIClient(configuration: Self.configuration(server)).stream(Self.question))
        #expect(result.text == "fine")
        #expect(server.requests.count == 3)
    }

    @Test func givesUpAfterMaxAttempts() async throws {
        let server = try FakeOpenAIServer()
        server.defaultBehavior = .error(status: 503, message: "overloaded", type: "server_error")
        let client = try OpenAIClient(configuration: Self.configuration(server, retry: RetryPolicy(maxAttempts: 3, initialBackoff: .milliseconds(5))))
        let error = await #expect(throws: LLMError.self) { try await client.complete(Self.question) }
        #expect(error?.code == .server && error?.status == 503)
        #expect(error?.message.contains("overloaded") == true)
        #expect(server.requests.count == 3)
    }

    @Test func refusedKeysAreNotRetriedAndNeverEchoed() async throws {
        let server = try FakeOpenAIServer()
        server.enqueue(.error(status: 401, message: "Incorrect API key provided: \(Self.key).", type: "invalid_request_error", code: "invalid_api_key"))
        let error = await #expect(throws: LLMError.self) {
            try await OpenAIClient(configuration: Self.configuration(server)).complete(Self.question)
        }
        #expect(error?.code == .authentication)
        #expect(error?.message.contains("OPENAI_API_KEY") == true)
        #expect(error?.message.contains(Self.key) == false)
        #expect("\(String(describing: error))".contains(Self.key) == false)
        #expect(server.requests.count == 1)
    }

    @Test func aServerThatNeverAnswersHitsTheTotalTimeout() async throws {
        let server = try FakeOpenAIServer()
        server.enqueue(.hang)
        let client = try OpenAIClient(configuration: Self.configuration(
            server, retry: .none, timeouts: HTTPTimeouts(connect: .seconds(2), total: .milliseconds(400), idle: .seconds(30))))
        let error = await #expect(throws: LLMError.self) { try await client.complete(Self.question) }
        #expect(error?.code == .timeout && error?.timeout == .total)
    }

    @Test func aSilentStreamHitsTheIdleTimeout() async throws {
        let server = try FakeOpenAIServer()
        server.enqueue(.chatStream(deltas: ["one", "two", "three"], delay: .seconds(2)))
        let client = try OpenAIClient(configuration: Self.configuration(
            server, retry: .none, timeouts: HTTPTimeouts(connect: .seconds(2), total: .seconds(30), idle: .milliseconds(300))))
        let error = await #expect(throws: LLMError.self) { _ = try await Self.collect(client.stream(Self.question)) }
        #expect(error?.code == .timeout && error?.timeout == .idle)
    }

    @Test func aStreamThatStopsMidwayFailsAndIsNotRetried() async throws {
        let server = try FakeOpenAIServer()
        var received = ""
        server.enqueue(.sse(events: [
            #"{"choices":[{"index":0,"delta":{"content":"Half"},"finish_reason":null}]}"#,
            #"{"choices":[{"index":0,"delta":{"content":" an"},"finish_reason":null}]}"#,
            #"{"choices":[{"index":0,"delta":{"content":" answer"},"finish_reason":null}]}"#,
        ], abortAfter: 2))
        server.defaultBehavior = .chatStream(deltas: ["should not be asked"])
        let client = try OpenAIClient(configuration: Self.configuration(server))
        await #expect(throws: LLMError.self) {
            for try await event in client.stream(Self.question) {
                if case .delta(let text) = event { received += text }
            }
        }
        #expect(received == "Half an")
        #expect(server.requests.count == 1)
    }

    @Test func invalidJSONIsAMalformedResponse() async throws {
        let server = try FakeOpenAIServer()
        server.enqueue(.json(status: 200, body: "{not json"), .sse(events: ["{not json either"]))
        let client = try OpenAIClient(configuration: Self.configuration(server))
        let whole = await #expect(throws: LLMError.self) { try await client.complete(Self.question) }
        #expect(whole?.code == .malformedResponse)
        let streamed = await #expect(throws: LLMError.self) { _ = try await Self.collect(client.stream(Self.question)) }
        #expect(streamed?.code == .malformedResponse)
    }

    @Test func embedsInBatchesInInputOrder() async throws {
        let server = try FakeOpenAIServer()
        server.enqueue(
            .embeddings([[1, 0, 0], [0, 1, 0]], promptTokens: 4), .embeddings([[0, 0, 1], [1, 1, 0]], promptTokens: 4),
            .embeddings([[0, 1, 1]], promptTokens: 2))
        let metrics = RAGMetrics()
        let embedder = try OpenAIEmbedder(configuration: Self.configuration(server), metrics: metrics)
        #expect(embedder.identifier == "openai:text-embedding-test:d3")
        let vectors = try await embedder.embed(["a", "b", "c", "d", "e"])
        #expect(vectors == [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1]])
        #expect(server.requests.count == 3)
        #expect(server.requests.map(\.path) == Array(repeating: "/v1/embeddings", count: 3))
        #expect((server.requests[2].json?["input"] as? [String]) == ["e"])
        #expect(metrics.render().contains(#"rag_llm_tokens_total{kind="embedding",model="text-embedding-test"} 10"#))
    }

    @Test func reusesTheConnection() async throws {
        let server = try FakeOpenAIServer()
        server.enqueue(.chatCompletion(content: "one"), .chatStream(deltas: ["two"]), .chatCompletion(content: "three"))
        let client = try OpenAIClient(configuration: Self.configuration(server))
        _ = try await client.complete(Self.question)
        _ = try await Self.collect(client.stream(Self.question))
        _ = try await client.complete(Self.question)
        #expect(server.requests.count == 3)
        #expect(server.connectionsAccepted == 1)
    }

    @Test func cancellingTheTaskStopsTheStream() async throws {
        let server = try FakeOpenAIServer()
        server.enqueue(.chatStream(deltas: (1...50).map { "token\($0) " }, delay: .seconds(1)))
        let client = try OpenAIClient(configuration: Self.configuration(server))
        let received = Shared(0)
        let task = Task {
            var count = 0
            for try await event in client.stream(Self.question) {
                if case .delta = event {
                    count += 1
                    received.update { $0 = count }
                }
            }
            return count
        }
        try await waitUntil("the stream has started") { received.current >= 1 }
        task.cancel()
        // Cancelled, the stream ends early (an uncancelled one delivers all 50 tokens) or fails as cancelled.
        switch await task.result {
        case .success(let count): #expect(count < 50, "the stream ran to the end after its task was cancelled")
        case .failure(let error): #expect((error as? LLMError)?.code == .cancelled || error is CancellationError)
        }
    }

    @Test func fallsBackWhenTheServerRejectsStreamOptions() async throws {
        let server = try FakeOpenAIServer()
        server.enqueue(
            .error(status: 400, message: "Unrecognized request argument supplied: stream_options", type: "invalid_request_error"),
            .chatStream(deltas: ["ok"], usage: nil))
        let result = try await Self.collect(try OpenAIClient(configuration: Self.configuration(server)).stream(Self.question))
        #expect(result.text == "ok")
        #expect(result.usage?.isEstimated == true)
        #expect(server.requests.count == 2)
        #expect(server.requests[1].json?["stream_options"] == nil)
    }

    @Test func contextLengthErrorsSayWhatToDo() async throws {
        let server = try FakeOpenAIServer()
        server.enqueue(.error(status: 400, message: "This model's maximum context length is 8192 tokens.", type: "invalid_request_error", code: "context_length_exceeded"))
        let error = await #expect(throws: LLMError.self) {
            try await OpenAIClient(configuration: Self.configuration(server)).complete(Self.question)
        }
        #expect(error?.code == .contextLengthExceeded)
        #expect(error?.message.contains("maxPromptTokens") == true)
    }

    @Test func tokenUsageReachesTheEngineMetrics() async throws {
        let server = try FakeOpenAIServer()
        server.enqueue(.chatStream(deltas: ["Paris", " [1]."], usage: (prompt: 321, completion: 7)))
        let metrics = RAGMetrics()
        let engine = try await Engine(llm: OpenAIClient(configuration: Self.configuration(server)), metrics: metrics)
        _ = try await engine.ingest(data: Data("The capital of France is Paris.".utf8), fileName: "facts.txt")
        let answer = try await engine.ask("What is the capital of France?")
        #expect(answer.text == "Paris [1].")
        #expect(answer.isGenerated)
        #expect(answer.citations.first?.label == "facts.txt p. 1")
        let text = metrics.render()
        #expect(text.contains(#"rag_llm_tokens_total{kind="prompt",model="gpt-test"} 321"#))
        #expect(text.contains(#"rag_llm_tokens_total{kind="completion",model="gpt-test"} 7"#))
        #expect(text.contains(#"rag_llm_time_to_first_token_seconds_count{model="gpt-test"} 1"#))
        let prompt = try #require(server.requests.first?.json?["messages"] as? [[String: String]])
        #expect(prompt.last?["content"]?.contains("[1] facts.txt, p. 1") == true)
    }
    /// Query rewriting through the real client (issue #14): the rewrite request goes out first (temperature 0, a
    /// bounded max_tokens), its reformulations are searched, and its tokens are counted.
    @Test func queryRewritingSendsTheRewriteAndUsesIt() async throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        server.enqueue(
            .chatCompletion(content: "1. paid annual leave days per year\n2. annual leave entitlement", promptTokens: 31, completionTokens: 9),
            .chatStream(deltas: ["Twenty days [1]."], usage: (prompt: 300, completion: 5)))
        let metrics = RAGMetrics()
        let configuration = EngineConfiguration(searchResults: 1, queryRewriting: QueryRewriting(reformulations: 2))
        let engine = try await Engine(
            configuration: configuration, llm: OpenAIClient(configuration: Self.configuration(server)), metrics: metrics)
        _ = try await engine.ingest(data: Data(QueryRewritingTests.party.utf8), fileName: "party.txt")
        _ = try await engine.ingest(data: Data(QueryRewritingTests.leave.utf8), fileName: "leave.txt")
        let answer = try await engine.ask(QueryRewritingTests.question)
        #expect(answer.text == "Twenty days [1].")
        #expect(answer.citations.first?.fileName == "leave.txt")
        #expect(answer.searchQueries == [QueryRewritingTests.question, "paid annual leave days per year", "annual leave entitlement"])

        #expect(server.requests.count == 2)
        let rewrite = try #require(server.requests.first?.json)
        #expect(rewrite["temperature"] as? Double == 0)
        #expect(rewrite["max_tokens"] as? Int == 2 * QueryRewriting.tokensPerReformulation)
        #expect(rewrite["stream"] as? Bool != true)
        let messages = try #require(rewrite["messages"] as? [[String: String]])
        #expect(messages.first?["content"] == QueryRewriting(reformulations: 2).instruction)
        #expect(messages.last?["content"] == "Question: \(QueryRewritingTests.question)")
        let prompt = try #require(server.requests.last?.json?["messages"] as? [[String: String]])
        #expect(prompt.last?["content"]?.contains("[1] leave.txt, p. 1") == true)

        let text = metrics.render()
        #expect(text.contains(#"rag_query_rewrites_total{outcome="success"} 1"#))
        #expect(text.contains(#"rag_query_rewrite_tokens_total{kind="prompt",model="gpt-test"} 31"#))
        #expect(text.contains(#"rag_query_rewrite_tokens_total{kind="completion",model="gpt-test"} 9"#))
        #expect(text.contains(#"rag_llm_tokens_total{kind="prompt",model="gpt-test"} 331"#))
    }

    /// A rewrite request the server refuses (400) is not the answer's failure.
    @Test func aFailedRewriteRequestFallsBackToTheQuestion() async throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        let failure = FakeOpenAIServer.Behavior.error(status: 400, message: "bad request", type: "invalid_request_error")
        server.enqueue(failure, .chatStream(deltas: ["It depends [1]."]))
        let metrics = RAGMetrics()
        let configuration = EngineConfiguration(searchResults: 1, queryRewriting: QueryRewriting(reformulations: 2))
        let engine = try await Engine(
            configuration: configuration, llm: OpenAIClient(configuration: Self.configuration(server)), metrics: metrics)
        _ = try await engine.ingest(data: Data(QueryRewritingTests.party.utf8), fileName: "party.txt")
        let answer = try await engine.ask(QueryRewritingTests.question)
        #expect(answer.text == "It depends [1].")
        #expect(answer.searchQueries == [QueryRewritingTests.question])
        #expect(metrics.render().contains(#"rag_query_rewrites_total{outcome="error"} 1"#))
        #expect(metrics.render().contains(#"rag_llm_errors_total{type="invalid_request",model="gpt-test"} 1"#))
    }
}

import Foundation
import RAGCore
import Testing

@Suite struct SSEParserTests {
    static let stream = Array("""
        : keep-alive comment\r
        data: {"delta":"Grüße 👋 東京"}\r
        \r
        event: update\n\
        id: 7\n\
        data: line one\n\
        data: line two\n\
        \n\
        data:no-space\r\rdata: [DONE]\n\n
        """.utf8)

    static let expected = [
        ServerSentEvent(data: #"{"delta":"Grüße 👋 東京"}"#),
        ServerSentEvent(event: "update", data: "line one\nline two", id: "7"),
        ServerSentEvent(data: "no-space", id: "7"),
        ServerSentEvent(data: "[DONE]", id: "7"),
    ]

    @Test func parsesAWholeStream() throws {
        var parser = SSEParser()
        #expect(try parser.feed(Self.stream) == Self.expected)
    }

    /// Every split of the stream into two reads, including inside multi-byte UTF-8 characters and between a
    /// `\r` and its `\n`, gives the same events.
    @Test func everySplitPointGivesTheSameEvents() throws {
        for split in 0...Self.stream.count {
            var parser = SSEParser()
            let events = try parser.feed(Self.stream[..<split]) + parser.feed(Self.stream[split...])
            #expect(events == Self.expected, "split at byte \(split)")
        }
    }

    @Test func byteAtATimeGivesTheSameEvents() throws {
        var parser = SSEParser()
        var events: [ServerSentEvent] = []
        for byte in Self.stream { events += try parser.feed([byte]) }
        #expect(events == Self.expected)
    }

    @Test func ignoresEventsWithoutDataAndBoundsLines() throws {
        var parser = SSEParser(maxLineBytes: 16)
        #expect(try parser.feed(Array("event: ping\n\nretry: 10\n\n".utf8)).isEmpty)
        #expect(throws: SSEParser.LineTooLong.self) { try parser.feed(Array(repeating: UInt8(ascii: "x"), count: 17)) }
    }

    @Test func anUnfinishedEventIsNotDispatched() throws {
        var parser = SSEParser()
        #expect(try parser.feed(Array("data: partial".utf8)).isEmpty)
        #expect(try parser.feed(Array("\n".utf8)).isEmpty)
        #expect(try parser.feed(Array("\n".utf8)) == [ServerSentEvent(data: "partial")])
    }
}

@Suite struct RetryPolicyTests {
    let policy = RetryPolicy(maxAttempts: 5, initialBackoff: .milliseconds(500), maxBackoff: .seconds(4), multiplier: 2, jitter: 0.5)

    @Test(arguments: [(1, 500), (2, 1000), (3, 2000), (4, 4000), (5, 4000), (9, 4000)])
    func exponentialWithoutJitterAtRandomZero(retry: Int, milliseconds: Int) {
        #expect(policy.delay(beforeRetry: retry, random: 0) == .milliseconds(milliseconds))
    }

    @Test func jitterTakesOffUpToItsFraction() {
        #expect(policy.delay(beforeRetry: 2, random: 0.999_999) > .milliseconds(499))
        #expect(policy.delay(beforeRetry: 2, random: 0.999_999) <= .milliseconds(501))
        #expect(policy.delay(beforeRetry: 2, random: 0.5) == .milliseconds(750))
    }

    @Test func retryAfterWinsButIsCapped() {
        #expect(policy.delay(beforeRetry: 1, retryAfter: .seconds(3), random: 0.7) == .seconds(3))
        #expect(policy.delay(beforeRetry: 1, retryAfter: .seconds(60), random: 0) == .seconds(4))
    }

    @Test func onlyTransientStatusesAreRetried() {
        #expect([408, 429, 500, 502, 503, 504].allSatisfy(RetryPolicy.isRetryable(status:)))
        #expect(![400, 401, 403, 404, 422, 501].contains(where: RetryPolicy.isRetryable(status:)))
        #expect(LLMError(.connection, "x").isRetryable)
        #expect(LLMError(.timeout, "x", timeout: .connect).isRetryable)
        #expect(!LLMError(.timeout, "x", timeout: .total).isRetryable)
        #expect(!LLMError(.authentication, "x", status: 401).isRetryable)
    }
}

@Suite struct OpenAIConfigurationTests {
    @Test func nothingSetMeansNoLanguageModel() throws {
        #expect(try OpenAIConfiguration.fromEnvironment([:]) == nil)
        #expect(try OpenAIConfiguration.fromEnvironment(["OPENAI_API_KEY": "  "]) == nil)
    }

    @Test func readsTheOfficialVariables() throws {
        let configuration = try #require(try OpenAIConfiguration.fromEnvironment([
            "OPENAI_API_KEY": "sk-test", "OPENAI_ORG_ID": "org-1", "OPENAI_PROJECT_ID": "proj-1",
            "RAG_LLM_MODEL": "gpt-x", "RAG_LLM_TIMEOUT": "30", "RAG_LLM_MAX_ATTEMPTS": "2",
        ]))
        #expect(configuration.baseURL == "https://api.openai.com/v1")
        #expect(configuration.apiKey == "sk-test")
        #expect(configuration.chatModel == "gpt-x")
        #expect(configuration.timeouts.total == .seconds(30))
        #expect(configuration.retry.maxAttempts == 2)
        #expect(!configuration.description.contains("sk-test"))
    }

    @Test func aBaseURLAloneIsEnoughForLocalServers() throws {
        let configuration = try #require(try OpenAIConfiguration.fromEnvironment(["OPENAI_BASE_URL": "http://localhost:11434/v1"]))
        #expect(configuration.apiKey == nil)
        #expect(configuration.baseURL == "http://localhost:11434/v1")
    }

    @Test func readsTheKeyFromAMountedFile() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("OPENAI_API_KEY")
        try "sk-from-file\n".write(to: file, atomically: true, encoding: .utf8)
        let configuration = try OpenAIConfiguration.fromEnvironment(["OPENAI_API_KEY_FILE": file.path])
        #expect(configuration?.apiKey == "sk-from-file")
        let missing = #expect(throws: LLMError.self) {
            try OpenAIConfiguration.fromEnvironment(["OPENAI_API_KEY_FILE": directory.appendingPathComponent("nope").path])
        }
        #expect(missing?.code == .configuration)
    }

    @Test func rejectsBadValues() {
        #expect(throws: LLMError.self) { try OpenAIConfiguration.fromEnvironment(["OPENAI_BASE_URL": "ftp://x"]) }
        #expect(throws: LLMError.self) { try OpenAIConfiguration.fromEnvironment(["OPENAI_API_KEY": "k", "RAG_LLM_TIMEOUT": "soon"]) }
    }

    /// Numbers that used to trap when converted (`Int(1e300)`, `.seconds(1e300)`) are refused, naming the variable.
    @Test(arguments: [
        ("RAG_LLM_TIMEOUT", "1e300"), ("RAG_LLM_CONNECT_TIMEOUT", "nan"), ("RAG_LLM_IDLE_TIMEOUT", "inf"),
        ("RAG_LLM_MAX_ATTEMPTS", "1e300"), ("RAG_EMBEDDING_DIMENSION", "1e300"), ("RAG_LLM_MAX_TOKENS", "1e19"),
        ("RAG_LLM_TEMPERATURE", "3"), ("RAG_LLM_TIMEOUT", "86401"), ("RAG_LLM_MAX_ATTEMPTS", "-1"),
    ])
    func rejectsNumbersOutOfRange(_ variable: String, _ value: String) {
        let error = #expect(throws: LLMError.self) { try OpenAIConfiguration.fromEnvironment(["OPENAI_API_KEY": "k", variable: value]) }
        #expect(error?.code == .configuration)
        #expect(error?.message.hasPrefix("\(variable) must be a number from 0 to ") == true, "\(String(describing: error))")
    }
}

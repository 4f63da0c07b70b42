import Foundation
import RAGCore
import RAGTesting
import Testing
import TestSupport

/// The real `rag-server` binary over real sockets.
@Suite(.serialized) struct LiveTests {
    static let handbookPages = [
        "Employees receive 25 days of paid vacation per year.",
        "Receipts must be submitted within 30 days of the expense.",
    ]

    /// Uploads the handbook through the API and returns the curl result.
    static func upload(to server: ServerProcess, headers: [String] = []) throws -> Curl {
        let file = server.directory.appendingPathComponent("handbook.pdf")
        try TestPDF.make(pages: handbookPages, title: "Handbook").write(to: file)
        return try Curl.run(headers + ["-F", "file=@\(file.path);type=application/pdf", "\(server.baseURL)/v1/documents"])
    }

    @Test func streamsAnswersOverARealSocket() throws {
        let server = try ServerProcess(arguments: ["--llm", "extractive"])
        defer { server.stop() }
        let upload = try Self.upload(to: server)
        #expect(upload.body.contains("\"file\":\"handbook.pdf\""), "\(upload.body)")
        let stream = try Curl.run([
            "-H", "Content-Type: application/json", "-d", #"{"question":"How many vacation days per year?","stream":true}"#,
            "\(server.baseURL)/v1/ask",
        ])
        #expect(stream.status == 0)
        let events = stream.body.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        #expect(events.first?.hasPrefix("event: passages") == true)
        #expect(events.filter { $0.hasPrefix("event: delta") }.count > 5)
        #expect(events.last?.hasPrefix("event: done") == true)
        #expect(stream.body.contains("Employees receive 25 days of paid vacation per year."))
    }

    /// One wire format: RAGCore's own `OpenAIClient` reads what `rag-server`'s compatible endpoint writes, whole and
    /// streamed (the same `OpenAIWire` types write one side and read the other).
    @Test func theEnginesOwnOpenAIClientTalksToTheCompatibleEndpoint() async throws {
        let server = try ServerProcess(arguments: ["--llm", "extractive"])
        defer { server.stop() }
        #expect(try Self.upload(to: server).status == 0)
        let client = try OpenAIClient(configuration: OpenAIConfiguration(
            baseURL: "\(server.baseURL)/v1", apiKey: nil, chatModel: "pdf-chatbot", retry: RetryPolicy(maxAttempts: 1)))
        let request = CompletionRequest(messages: [.user("How many vacation days per year?")])

        let whole = try await client.complete(request)
        #expect(whole.text.contains("Employees receive 25 days of paid vacation per year."))
        #expect(whole.text.hasSuffix("Sources: [1] handbook.pdf p. 1"))
        #expect(whole.model == "pdf-chatbot" && !whole.usage.isEstimated && whole.usage.promptTokens > 0)

        var streamed = ""
        var usage: TokenUsage?
        for try await event in client.stream(request) {
            switch event {
            case .delta(let text): streamed += text
            case .usage(let reported): usage = reported
            }
        }
        #expect(streamed == whole.text)
        #expect(usage?.isEstimated == false && usage?.promptTokens == whole.usage.promptTokens)
    }

    /// SIGTERM stops new connections but lets a stream in flight finish, then exits 0.
    @Test func sigtermDrainsStreamsInFlight() async throws {
        let llm = try FakeOpenAIServer()
        defer { llm.stop() }
        let server = try ServerProcess(
            arguments: ["--llm", "openai", "--grace-period", "60"],
            environment: ["OPENAI_BASE_URL": llm.baseURL, "OPENAI_API_KEY": "sk-test-drain", "RAG_LLM_MAX_ATTEMPTS": "1"])
        defer { server.stop() }
        #expect(try Self.upload(to: server).status == 0)
        // The answer's stream stops after its first few words until the test lets it go on, so the listener is seen
        // closed while the answer is certainly still in flight, however slow the machine.
        llm.holdStreams(beforeWrite: 4)
        llm.enqueue(.chatStream(deltas: (1...24).map { "word\($0) " }))
        let curl = try Curl.start([
            "-H", "Content-Type: application/json", "-d", #"{"question":"How many vacation days?","stream":true}"#,
            "\(server.baseURL)/v1/ask",
        ])
        // Wait until the answer has started, then ask the server to stop.
        let started = ContinuousClock.now
        while !curl.stdout.contains("event: delta") {
            try #require(ContinuousClock.now - started < .seconds(20), "the stream did not start")
            try await Task.sleep(for: .milliseconds(20))
        }
        kill(server.process.processIdentifier, SIGTERM)
        // The listener closes soon after the signal (give a loaded machine a while).
        var refused = false
        for _ in 0..<100 where !refused {
            refused = try Curl.run(["--max-time", "2", "\(server.baseURL)/healthz"]).status != 0
            if !refused { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(refused, "new connections were still accepted after SIGTERM")
        #expect(!curl.stdout.contains("event: done"), "the stream ended before the answer was let go on")
        llm.releaseStreams()
        curl.wait()
        let body = curl.stdout
        #expect(body.contains("word24"))
        #expect(body.contains("event: done"))
        #expect(server.stop(timeout: .seconds(60)) == 0)
        #expect(server.log.contains("\"level\":\"info\""))
    }

    @Test func theOfficialOpenAIPythonClientWorks() throws {
        let server = try ServerProcess(
            arguments: ["--llm", "extractive"], environment: ["RAG_API_KEYS": "python-client:sk-python-client-key"])
        defer { server.stop() }
        #expect(try Self.upload(to: server, headers: ["-H", "Authorization: Bearer sk-python-client-key"]).status == 0)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/openai_client_check.py")
        let result = try TestProcess.run(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "python3", script.path, "\(server.baseURL)/v1", "How many vacation days do employees receive?",
                "Employees receive 25 days of paid vacation per year.", "sk-python-client-key",
            ],
            mergeOutput: true)
        let log = result.text
        #expect(result.status == 0, "openai client check failed (pip install openai? scripts/setup.sh installs it): \(log)")
        #expect(log.contains("stream ok"))
        #expect(!server.log.contains("sk-python-client-key"), "the API key reached the logs")
    }
}

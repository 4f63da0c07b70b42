import Foundation
import RAGTesting
import Testing
import TestSupport

/// The result of running `/usr/bin/curl` once.
private struct CurlRun {
    var status: Int32
    var stdout: Data
    var stderr: String
    var elapsed: Duration

    var text: String { String(decoding: stdout, as: UTF8.self) }

    /// Runs curl with `arguments`, ignoring any `.curlrc` and proxy settings.
    static func run(_ arguments: [String]) throws -> CurlRun {
        let result = try TestProcess.run(
            try TestProcess.system("/usr/bin/curl", package: "curl"), ["-q", "--silent", "--show-error", "--noproxy", "*"] + arguments)
        return CurlRun(status: result.status, stdout: result.stdout, stderr: result.stderr, elapsed: result.elapsed)
    }
}

@Suite(.serialized) struct FakeOpenAIServerTests {
    @Test func answersJSONAndRecordsTheRequest() throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        server.enqueue(.chatCompletion(content: "Hello \"world\"", promptTokens: 3, completionTokens: 2))
        let run = try CurlRun.run([
            "-H", "Authorization: Bearer sk-test", "-H", "Content-Type: application/json",
            "--data", #"{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}"#,
            "\(server.baseURL)/chat/completions",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let reply = try #require(try JSONSerialization.jsonObject(with: run.stdout) as? [String: Any])
        let message = (reply["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any]
        #expect(message?["content"] as? String == "Hello \"world\"")
        #expect((reply["usage"] as? [String: Any])?["total_tokens"] as? Int == 5)

        let request = try #require(server.requests.first)
        #expect(request.method == "POST")
        #expect(request.path == "/v1/chat/completions")
        #expect(request.headers["authorization"] == "Bearer sk-test")
        #expect(request.json?["model"] as? String == "gpt-test")

        // With the queue empty, the default behavior answers: a 500 OpenAI error.
        let fallback = try CurlRun.run(["--write-out", "\n%{http_code}", "\(server.baseURL)/models"])
        #expect(fallback.text.hasSuffix("\n500"))
        #expect(fallback.text.contains(#""type":"server_error""#))
    }

    @Test func servesTwoRequestsOnOneConnection() throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        server.enqueue(.json(status: 200, body: "first"), .json(status: 200, body: "second"))
        let run = try CurlRun.run(["\(server.baseURL)/a", "\(server.baseURL)/b"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.text == "firstsecond")
        #expect(server.requests.map(\.path) == ["/v1/a", "/v1/b"])
        #expect(server.connectionsAccepted == 1)
    }

    @Test(arguments: [FakeOpenAIServer.Chunking.whole, .everyByte, .at([1, 7, 100, 5000])])
    func streamsSSEByteForByte(chunking: FakeOpenAIServer.Chunking) throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        let behavior = FakeOpenAIServer.Behavior.chatStream(deltas: ["Hel", "lo"], chunking: chunking)
        guard case .sse(let events, _, _, _, _) = behavior else {
            Issue.record("chatStream is not an SSE behavior")
            return
        }
        let expected = ":keep-alive\n" + events.map { "data: \($0)\n\n" }.joined()
        server.enqueue(
            .sse(events: [":keep-alive"] + events, chunking: chunking), .sse(events: ["ab"], chunking: chunking))

        let run = try CurlRun.run(["--no-buffer", "\(server.baseURL)/chat/completions"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.text == expected)
        // The stream is what OpenAI sends: a role chunk, the deltas, a stop chunk, usage, then [DONE].
        let payloads = run.text.split(separator: "\n").filter { $0.hasPrefix("data: ") }.map { $0.dropFirst(6) }
        #expect(payloads.last == "[DONE]")
        let chunks = payloads.dropLast().compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(chunks.count == 5)
        let deltas = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any] }
        #expect(deltas.first?["role"] as? String == "assistant")
        #expect(deltas.compactMap { $0["content"] as? String }.joined() == "Hello")
        #expect((chunks[3]["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String == "stop")
        #expect((chunks[4]["usage"] as? [String: Any])?["total_tokens"] as? Int == 17)

        // Undecoded, the framing shows one HTTP chunk per write.
        let raw = try CurlRun.run(["--raw", "\(server.baseURL)/chat/completions"])
        let framed =
            switch chunking {
            case .whole: "a\r\ndata: ab\n\n\r\n"
            case .everyByte: "data: ab\n\n".map { "1\r\n\($0)\r\n" }.joined()
            case .at: "1\r\nd\r\n6\r\nata: a\r\n3\r\nb\n\n\r\n"
            }
        #expect(raw.text == framed + "0\r\n\r\n")
    }

    @Test func abortingAStreamIsAPartialTransfer() throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        server.enqueue(.sse(events: ["a", "b", "c"], abortAfter: 2))
        let run = try CurlRun.run(["\(server.baseURL)/chat/completions"])
        #expect(run.status == 18, "\(run.stderr)")  // CURLE_PARTIAL_FILE
        #expect(run.text == "data: a\n\ndata: b\n\n")
    }

    @Test func aHeldStreamWaitsForItsRelease() throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        server.holdStreams(beforeWrite: 2)
        server.enqueue(.sse(events: ["a", "b", "c"], chunking: .everyByte), .sse(events: ["a", "b", "c"]))
        // Held: curl gives up with the first two bytes (`da`) only.
        let held = try CurlRun.run(["--max-time", "1", "\(server.baseURL)/chat/completions"])
        #expect(held.status == 28, "\(held.stderr)")
        #expect(held.text == "da")
        // Released before it is asked: the next stream goes through whole.
        server.releaseStreams()
        let released = try CurlRun.run(["--max-time", "10", "\(server.baseURL)/chat/completions"])
        #expect(released.status == 0, "\(released.stderr)")
        #expect(released.text == "data: a\n\ndata: b\n\ndata: c\n\n")
    }

    @Test func aHangingRequestTimesOutAndStopReturnsPromptly() throws {
        let server = try FakeOpenAIServer()
        server.enqueue(.hang)
        let run = try CurlRun.run(["--max-time", "0.5", "\(server.baseURL)/chat/completions"])
        #expect(run.status == 28, "\(run.stderr)")  // CURLE_OPERATION_TIMEDOUT
        #expect(run.elapsed >= .milliseconds(450), "curl gave up before its --max-time")
        #expect(server.requests.count == 1)
        // stop() ends the hanging connection (the test would hang otherwise) and is idempotent; the port closes.
        server.stop()
        server.stop()
        #expect(try CurlRun.run(["--max-time", "5", "\(server.baseURL)/models"]).status == 7)  // CURLE_COULDNT_CONNECT
    }

    @Test(arguments: [false, true])
    func answers100ContinueBeforeTheBody(chunked: Bool) throws {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        server.enqueue(.embeddings([[0.5, -1], [0.25, 2]], promptTokens: 4))
        let body = String((0..<2048).map { _ in "abcdefghij".randomElement()! })
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("body")
        try body.write(to: file, atomically: true, encoding: .utf8)
        // Without the 100 Continue, curl would wait out the 10 s expect timeout and hit --max-time first.
        var arguments = ["-H", "Expect: 100-continue", "--expect100-timeout", "10", "--max-time", "5"]
        if chunked { arguments += ["-H", "Transfer-Encoding: chunked"] }
        let run = try CurlRun.run(arguments + ["--data-binary", "@\(file.path)", "\(server.baseURL)/embeddings"])
        #expect(run.status == 0, "\(run.stderr)")
        let request = try #require(server.requests.first)
        #expect(request.headers["expect"] == "100-continue")
        #expect(request.headers["transfer-encoding"] == (chunked ? "chunked" : nil))
        #expect(request.body == Data(body.utf8))
        let reply = try #require(try JSONSerialization.jsonObject(with: run.stdout) as? [String: Any])
        let data = try #require(reply["data"] as? [[String: Any]])
        #expect(data.map { $0["index"] as? Int } == [0, 1])
        #expect(data.map { $0["embedding"] as? [Double] } == [[0.5, -1], [0.25, 2]])
    }
}

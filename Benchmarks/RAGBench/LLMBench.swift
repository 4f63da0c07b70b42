import Foundation
import RAGCore
import RAGTesting

/// Client overhead and time to first token: `OpenAIClient` against the in-process fake server, next to the
/// `curl` command making the same requests to the same server over one reused connection.
enum LLMBench {
    static let tokens = (1...20).map { "token\($0) " }

    static func run(requests: Int) async throws -> [String: Any] {
        let server = try FakeOpenAIServer()
        defer { server.stop() }
        let configuration = OpenAIConfiguration(baseURL: server.baseURL, apiKey: "sk-bench", chatModel: "gpt-test", retry: .none)
        let client = try OpenAIClient(configuration: configuration)
        let request = CompletionRequest(messages: [.system("Be brief."), .user("What is the capital of France?")])
        let body = client.requestBody(request, stream: false, includeUsage: false)

        // Whole answers.
        server.defaultBehavior = .chatCompletion(content: "Paris.")
        _ = try await client.complete(request)  // connect once
        var ours: [Double] = []
        for _ in 0..<requests {
            let start = ContinuousClock.now
            _ = try await client.complete(request)
            ours.append(elapsed(since: start))
        }
        let curlWhole = try curl(server: server, body: body, count: requests, field: "%{time_total}")

        // Streamed answers: time to the first token and to the end.
        server.defaultBehavior = .chatStream(deltas: tokens)
        let streamBody = client.requestBody(request, stream: true, includeUsage: true)
        var firstToken: [Double] = []
        var streamTotal: [Double] = []
        for _ in 0..<requests {
            let start = ContinuousClock.now
            var first: Double? = nil
            for try await event in client.stream(request) {
                if case .delta = event, first == nil { first = elapsed(since: start) }
            }
            firstToken.append(first ?? .nan)
            streamTotal.append(elapsed(since: start))
        }
        let curlFirst = try curl(server: server, body: streamBody, count: requests, field: "%{time_starttransfer}")
        let curlStream = try curl(server: server, body: streamBody, count: requests, field: "%{time_total}")
        return [
            "bench": "llm", "requests": requests, "median_s": median(ours),
            "client_request_median_s": median(ours), "curl_request_median_s": median(curlWhole),
            "client_ttft_median_s": median(firstToken), "curl_first_byte_median_s": median(curlFirst),
            "client_stream_median_s": median(streamTotal), "curl_stream_median_s": median(curlStream),
        ]
    }

    static func elapsed(since start: ContinuousClock.Instant) -> Double {
        let duration = ContinuousClock.now - start
        return Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

    /// One `curl` process making `count` POSTs over one reused connection; returns the `-w` field per request.
    static func curl(server: FakeOpenAIServer, body: Data, count: Int, field: String) throws -> [Double] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rag-bench-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let bodyFile = directory.appendingPathComponent("body.json")
        try body.write(to: bodyFile)
        let output = directory.appendingPathComponent("out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let url = server.baseURL + "/chat/completions"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = [
            "-q", "-s", "--noproxy", "*", "-w", field + "\\n", "-H", "Content-Type: application/json",
            "-H", "Authorization: Bearer sk-bench", "--data-binary", "@\(bodyFile.path)",
        ] + Array(repeating: ["-o", "/dev/null", url], count: count + 1).flatMap { $0 }
        process.standardOutput = try FileHandle(forWritingTo: output)
        try process.run()
        process.waitUntilExit()
        let values = try String(contentsOf: output, encoding: .utf8).split(separator: "\n").compactMap { Double($0) }
        guard values.count == count + 1 else { fail("curl reported \(values.count) of \(count + 1) transfers (exit \(process.terminationStatus))") }
        return Array(values.dropFirst())  // the first request pays for the connection
    }
}

import Foundation
import RAGTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The chat page in a real headless Chromium: the real `rag-server` binary (built by `swift build`) on
/// 127.0.0.1 with an empty collection and the extractive answerer, driven by `scripts/browser_test.py`
/// (selenium + Debian `chromium` and `chromium-driver`). Missing browser pieces fail the test: run
/// scripts/setup.sh.
@Suite(.serialized) struct BrowserTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test(.timeLimit(.minutes(3)))
    func chatPageUploadsAsksAndShowsSources() async throws {
        let missing = Self.missingBrowserPieces()
        guard missing.isEmpty else {
            Issue.record("the browser test needs \(missing.joined(separator: ", ")): run scripts/setup.sh")
            return
        }
        let server = try #require(Self.serverBinary(), "no rag-server binary next to the tests or in .build/debug: run `swift build` first")

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rag-browser-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let pdf = directory.appendingPathComponent("travel-policy.pdf")
        try TestPDF.make(pages: [
            "Welcome to the travel policy. It applies to every business trip.",
            "Receipts for travel expenses must be submitted within 30 days of the trip. Late receipts are not refunded.",
            "Hotel rooms are booked through the travel desk, never directly.",
        ], title: "Travel policy").write(to: pdf)
        let broken = directory.appendingPathComponent("broken.pdf")
        try Data("%PDF-1.7\n this is not a PDF body".utf8).write(to: broken)

        let running = try RunningServer(binary: server, collection: directory.appendingPathComponent("collection"), logDirectory: directory)
        defer { running.stop() }
        let port = try await running.port()

        let output = try Self.run(
            URL(fileURLWithPath: "/usr/bin/env"),
            ["python3", Self.packageRoot.appendingPathComponent("scripts/browser_test.py").path,
             "--url", "http://127.0.0.1:\(port)", "--pdf", pdf.path, "--broken-pdf", broken.path,
             "--question", "When must receipts for travel expenses be submitted?",
             "--expect", "Receipts for travel expenses must be submitted within 30 days of the trip.",
             "--expect-page", "2", "--screenshot", "/tmp/pdf-chatbot-browser.png"])
        let context = "browser_test.py said:\n\(output.text)\nserver log:\n\(running.log())"
        #expect(output.status == 0, "\(context)")
        #expect(output.text.contains("browser test passed"), "\(context)")
        #expect(output.text.contains("upload error shown: broken.pdf:"), "\(context)")
        #expect(output.text.contains("ok: a source names travel-policy.pdf p. 2"), "\(context)")
    }

    /// What the browser test needs that this machine lacks.
    static func missingBrowserPieces() -> [String] {
        var missing: [String] = []
        for (path, package) in [("/usr/bin/chromium", "chromium (apt)"), ("/usr/bin/chromedriver", "chromium-driver (apt)")]
        where !FileManager.default.isExecutableFile(atPath: path) {
            missing.append(package)
        }
        if (try? run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", "import selenium"]).status) != 0 {
            missing.append("selenium (pip)")
        }
        return missing
    }

    /// `rag-server` next to the test bundle (where `swift build` puts it), else in `.build/debug`.
    static func serverBinary() -> URL? {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("rag-server"),
            packageRoot.appendingPathComponent(".build/debug/rag-server"),
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// Runs a program to its end; returns its exit status and its standard output and error, interleaved.
    static func run(_ executable: URL, _ arguments: [String]) throws -> (status: Int32, text: String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

/// A `rag-server` process on 127.0.0.1 with a port the system picks, stopped with SIGTERM by `stop()`.
final class RunningServer: Sendable {
    let process: Process
    let logFile: URL

    init(binary: URL, collection: URL, logDirectory: URL) throws {
        logFile = logDirectory.appendingPathComponent("server.log")
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let log = try FileHandle(forWritingTo: logFile)
        process = Process()
        process.executableURL = binary
        process.arguments = [
            "--host", "127.0.0.1", "--port", "0", "--metrics-port", "0", "--collection", collection.path,
            "--llm", "extractive", "--log-format", "json", "--grace-period", "2",
        ]
        // No language model, no API keys, no settings from the developer's shell.
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("OPENAI_") && !$0.key.hasPrefix("RAG_") }
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    /// The port from the server's `serving` log line (`http.port`), waiting up to 20 s for it.
    func port() async throws -> Int {
        for _ in 0..<200 {
            for line in log().split(separator: "\n") {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      object["message"] as? String == "serving", let port = (object["http.port"] as? String).flatMap(Int.init)
                else { continue }
                return port
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ServerDidNotStart(log: log())
    }

    func log() -> String {
        (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
    }

    /// SIGTERM, then waits for the graceful shutdown (SIGKILL after 10 s).
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    struct ServerDidNotStart: Error, CustomStringConvertible {
        var log: String
        var description: String { "rag-server did not report its port; its log:\n\(log)" }
    }
}

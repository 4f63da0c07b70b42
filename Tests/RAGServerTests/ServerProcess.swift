import Foundation
import Testing

/// The real `rag-server` binary (built by `swift build` beside the test bundle), started on 127.0.0.1 with an
/// ephemeral port and a temporary collection, and stopped with SIGTERM.
final class ServerProcess {
    let process = Process()
    let directory: URL
    let logFile: URL
    private(set) var port = 0

    var baseURL: String { "http://127.0.0.1:\(port)" }

    static var executable: URL {
        get throws {
            let candidates = [
                URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("rag-server"),
                URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                    .deletingLastPathComponent().appendingPathComponent(".build/debug/rag-server"),
            ]
            return try #require(
                candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) },
                "the rag-server executable is missing: run `swift build` before `swift test` (scripts/test.sh does)")
        }
    }

    init(arguments: [String] = [], environment extra: [String: String] = [:]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("rag-server-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        logFile = directory.appendingPathComponent("server.log")
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        process.executableURL = try Self.executable
        process.arguments = [
            "--host", "127.0.0.1", "--port", "0", "--metrics-port", "0", "--log-format", "json",
            "--collection", directory.appendingPathComponent("collection").path,
        ] + arguments
        var environment = ProcessInfo.processInfo.environment
        for key in environment.keys where key.hasPrefix("OPENAI_") || key.hasPrefix("RAG_") { environment[key] = nil }
        environment.merge(extra) { $1 }
        process.environment = environment
        process.standardError = try FileHandle(forWritingTo: logFile)
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Wait for the "serving" log line, which names the port.
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            for line in log.split(separator: "\n") where line.contains("\"serving\"") {
                if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                    let port = (object["http.port"] as? String).flatMap(Int.init)
                {
                    self.port = port
                    return
                }
            }
            guard process.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        stop()
        throw ServerProcessError(message: "rag-server did not start: \(log)")
    }

    var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    /// Runs `rag-server` with `arguments` and the environment without any `OPENAI_` or `RAG_` variables but `extra`,
    /// for a command that ends by itself (`--help`, or settings it refuses); kills it after `timeout`.
    static func runToExit(
        _ arguments: [String], environment extra: [String: String] = [:], timeout: Duration = .seconds(60)
    ) throws -> (status: Int32, stdout: String, stderr: String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rag-server-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let stdout = directory.appendingPathComponent("stdout"), stderr = directory.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: stdout.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderr.path, contents: nil)
        let process = Process()
        process.executableURL = try executable
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        for key in environment.keys where key.hasPrefix("OPENAI_") || key.hasPrefix("RAG_") { environment[key] = nil }
        environment["RAG_COLLECTION"] = directory.appendingPathComponent("collection").path
        environment.merge(extra) { $1 }
        process.environment = environment
        process.standardOutput = try FileHandle(forWritingTo: stdout)
        process.standardError = try FileHandle(forWritingTo: stderr)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw ServerProcessError(message: "rag-server \(arguments) did not exit")
        }
        return (
            process.terminationStatus, (try? String(contentsOf: stdout, encoding: .utf8)) ?? "",
            (try? String(contentsOf: stderr, encoding: .utf8)) ?? ""
        )
    }

    /// Sends SIGTERM and waits (at most `timeout`) for the exit; returns the exit status, or nil if it hung
    /// (then it is killed).
    @discardableResult
    func stop(timeout: Duration = .seconds(30)) -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        kill(process.processIdentifier, SIGTERM)
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }

    deinit {
        stop(timeout: .seconds(5))
        try? FileManager.default.removeItem(at: directory)
    }
}

struct ServerProcessError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// `curl` against the test server, output to files (never pipes).
struct Curl {
    var status: Int32
    var body: String

    static func run(_ arguments: [String]) throws -> Curl {
        let (process, output) = try start(arguments)
        process.waitUntilExit()
        return Curl(status: process.terminationStatus, body: (try? String(contentsOf: output, encoding: .utf8)) ?? "")
    }

    /// Starts curl and returns at once; the body grows in the returned file.
    static func start(_ arguments: [String]) throws -> (Process, URL) {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("curl-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-q", "-s", "-N", "--noproxy", "*", "--max-time", "60"] + arguments
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = FileHandle.nullDevice
        try process.run()
        return (process, output)
    }
}

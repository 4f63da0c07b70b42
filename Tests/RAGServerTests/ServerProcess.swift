import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The real `rag-server` binary (which `swift test` builds), started through the tests' one launcher on 127.0.0.1
/// with an ephemeral port and a temporary collection, and stopped with SIGTERM.
final class ServerProcess {
    let running: TestProcess
    let directory: URL
    private(set) var port = 0

    var process: Process { running.process }
    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// - Parameter store: where the collection is: `--collection DIR` or `--database-url URL` (several servers on one
    ///   store are replicas); `nil`, a collection of its own in a temporary directory.
    init(arguments: [String] = [], store: [String]? = nil, environment extra: [String: String] = [:]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("rag-server-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        running = try TestProcess(
            try TestProcess.builtProduct("rag-server"),
            ["--host", "127.0.0.1", "--port", "0", "--metrics-port", "0", "--log-format", "json"]
                + (store ?? ["--collection", directory.appendingPathComponent("collection").path]) + arguments,
            environment: extra, mergeOutput: true)
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
            guard running.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        stop()
        throw ServerProcessError(message: "rag-server did not start: \(log)")
    }

    /// What the server has logged so far.
    var log: String { running.stdout }

    /// Runs `rag-server` with `arguments` and the environment without any `OPENAI_` or `RAG_` variables but `extra`,
    /// for a command that ends by itself (`--help`, or settings it refuses); kills it after `timeout`.
    static func runToExit(
        _ arguments: [String], environment extra: [String: String] = [:], timeout: Duration = .seconds(60)
    ) throws -> (status: Int32, stdout: String, stderr: String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rag-server-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let running = try TestProcess(
            try TestProcess.builtProduct("rag-server"), arguments,
            environment: ["RAG_COLLECTION": directory.appendingPathComponent("collection").path].merging(extra) { $1 })
        let result = running.wait(timeout: timeout)
        guard result.elapsed < timeout else { throw ServerProcessError(message: "rag-server \(arguments) did not exit") }
        return (result.status, result.text, result.stderr)
    }

    /// Sends SIGTERM and waits (at most `timeout`) for the exit; returns the exit status, or nil if it hung
    /// (then it is killed).
    @discardableResult
    func stop(timeout: Duration = .seconds(30)) -> Int32? { running.terminate(grace: timeout) }

    deinit {
        stop(timeout: .seconds(5))
        try? FileManager.default.removeItem(at: directory)
    }
}

struct ServerProcessError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// `curl` against the test server, through the tests' one launcher.
struct Curl {
    var status: Int32
    var body: String

    static let arguments = ["-q", "-s", "-N", "--noproxy", "*", "--max-time", "60"]

    static func run(_ arguments: [String]) throws -> Curl {
        let result = try start(arguments).wait()
        return Curl(status: result.status, body: result.text)
    }

    /// Starts curl and returns at once; the body grows in `stdoutFile`.
    static func start(_ arguments: [String]) throws -> TestProcess {
        try TestProcess(try TestProcess.system("/usr/bin/curl", package: "curl"), Self.arguments + arguments)
    }
}

import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The one way the tests run programs (`rag`, `rag-server`, `curl`, `promtool`, `python3`): standard output and error
/// go to files, never pipes (a full pipe would block the child while the test waits for it); standard input is
/// `/dev/null` or a file; the environment is the test's own without the developer's `OPENAI_*` and `RAG_*` settings,
/// plus what the test gives; and every wait has a time limit, after which the program is killed.
public final class TestProcess: @unchecked Sendable {
    // @unchecked Sendable: `Process` is thread-safe for what is used here (state queries and signals); the files are
    // written by the child and read by the test.

    /// What a finished program did.
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: Data
        public var stderr: String
        public var elapsed: Duration
        /// Standard output as text.
        public var text: String { String(decoding: stdout, as: UTF8.self) }
    }

    public let process = Process()
    /// A temporary folder for the output files, removed when this object goes away.
    public let directory: URL
    public let stdoutFile: URL
    public let stderrFile: URL
    private let started = ContinuousClock.now

    /// Starts `executable`. With `mergeOutput`, standard error goes to the standard output file too.
    public init(
        _ executable: URL, _ arguments: [String], environment extra: [String: String] = [:], stdin: URL? = nil,
        mergeOutput: Bool = false
    ) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("rag-process-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        stdoutFile = directory.appendingPathComponent("stdout")
        stderrFile = mergeOutput ? stdoutFile : directory.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: stdoutFile.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        process.executableURL = executable
        process.arguments = arguments
        process.environment = Self.environment(extra)
        let output = try FileHandle(forWritingTo: stdoutFile)
        process.standardOutput = output
        process.standardError = mergeOutput ? output : try FileHandle(forWritingTo: stderrFile)
        process.standardInput = try stdin.map { try FileHandle(forReadingFrom: $0) } ?? FileHandle.nullDevice
        try process.run()
    }

    deinit {
        if process.isRunning { terminate(grace: .seconds(5)) }
        try? FileManager.default.removeItem(at: directory)
    }

    /// The test's environment without `OPENAI_*` and `RAG_*` settings, with `extra` on top.
    public static func environment(_ extra: [String: String] = [:]) -> [String: String] {
        ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("OPENAI_") && !$0.key.hasPrefix("RAG_") }
            .merging(extra) { $1 }
    }

    /// Standard output so far.
    public var stdout: String { (try? String(contentsOf: stdoutFile, encoding: .utf8)) ?? "" }
    /// Standard error so far.
    public var stderr: String { (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? "" }
    public var isRunning: Bool { process.isRunning }

    /// Waits for the program to end (killing it after `timeout`) and returns what it did.
    @discardableResult
    public func wait(timeout: Duration = .seconds(180)) -> Result {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.005) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: (try? Data(contentsOf: stdoutFile)) ?? Data(), stderr: stderr,
            elapsed: ContinuousClock.now - started)
    }

    /// Waits for the program to end without holding a thread (async tests must not block Swift's few cooperative
    /// threads, or every other test starves), killing it after `timeout`, and returns what it did.
    public func finished(timeout: Duration = .seconds(180)) async -> Result {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(5)) }
        return wait(timeout: .zero)
    }

    /// Sends SIGTERM and waits at most `grace` for the exit; returns the exit status, or `nil` when the program had to
    /// be killed.
    @discardableResult
    public func terminate(grace: Duration = .seconds(30)) -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        kill(process.processIdentifier, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.01) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }

    /// Runs a program to its end.
    public static func run(
        _ executable: URL, _ arguments: [String], environment: [String: String] = [:], stdin: URL? = nil,
        mergeOutput: Bool = false, timeout: Duration = .seconds(180)
    ) throws -> Result {
        try TestProcess(executable, arguments, environment: environment, stdin: stdin, mergeOutput: mergeOutput)
            .wait(timeout: timeout)
    }

    /// Runs a program to its end without holding a thread while it runs (see `finished(timeout:)`).
    public static func run(
        _ executable: URL, _ arguments: [String], environment: [String: String] = [:], stdin: URL? = nil,
        mergeOutput: Bool = false, timeout: Duration = .seconds(180)
    ) async throws -> Result {
        try await TestProcess(executable, arguments, environment: environment, stdin: stdin, mergeOutput: mergeOutput)
            .finished(timeout: timeout)
    }

    /// The package's root folder.
    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// An executable of this package, as `swift test` builds it: beside the test bundle, else in `.build/debug`.
    public static func builtProduct(_ name: String) throws -> URL {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name),
            packageRoot.appendingPathComponent(".build/debug/\(name)"),
        ]
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw Missing(
                description: "the \(name) executable is missing: `swift test` builds it (with --skip-build, run "
                    + "`swift build --build-tests` first)")
        }
        return found
    }

    /// A system program, from the first of `paths` that exists.
    public static func system(_ paths: String..., package: String) throws -> URL {
        guard let path = paths.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw Missing(description: "\(paths[0]) is missing: run scripts/setup.sh (Debian package \(package))")
        }
        return URL(fileURLWithPath: path)
    }

    /// A program the test needs is not there.
    public struct Missing: Error, CustomStringConvertible {
        public var description: String
    }
}

import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A throw-away Redis for one test: Debian's `redis-server` (scripts/setup.sh installs it) on 127.0.0.1, a free port
/// and a random password, no persistence, stopped when this object goes away. Tests can stop it abruptly (an
/// outage), freeze it (a Redis that accepts connections and never answers) and start it again on the same port.
///
/// Without `redis-server` the Redis tests are skipped with a message, except under `CI=true`, where they run and
/// fail: CI must never pass by skipping them.
public final class RedisTestServer: @unchecked Sendable {
    // @unchecked Sendable: `server` changes only in `start()`/`kill()`, which a test calls from one task at a time.

    public static let executable = "/usr/bin/redis-server"

    /// Why the Redis tests cannot run here, or `nil` when they can (or must: under CI).
    public static let unavailableReason: String? = {
        if FileManager.default.isExecutableFile(atPath: executable) || ProcessInfo.processInfo.environment["CI"] == "true" { return nil }
        return "redis-server is not installed (scripts/setup.sh installs Debian's redis-server): skipping the Redis tests"
    }()

    public static var isAvailable: Bool { unavailableReason == nil }

    public let port: Int
    public let password: String
    private var server: TestProcess?

    /// `redis://:PASSWORD@127.0.0.1:PORT/0`.
    public var url: String { "redis://:\(password)@127.0.0.1:\(port)/0" }

    public init() throws {
        port = try Self.freePort()
        password = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try start()
    }

    deinit { server?.terminate(grace: .seconds(5)) }

    /// Starts the server (again), on the same port and password, empty; waits until it answers.
    public func start() throws {
        let executable = try TestProcess.system(Self.executable, package: "redis-server")
        server?.terminate(grace: .seconds(5))
        let process = try TestProcess(
            executable,
            ["--bind", "127.0.0.1", "--port", String(port), "--requirepass", password, "--save", "", "--appendonly", "no",
             "--protected-mode", "yes", "--daemonize", "no", "--loglevel", "warning"],
            mergeOutput: true)
        server = process
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if (try? command(["PING"])) == "+PONG" { return }
            guard process.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw TestProcess.Missing(description: "redis-server did not start on port \(port): \(process.stdout)")
    }

    /// Stops the server abruptly (SIGKILL): connections are reset and new ones refused.
    public func kill() {
        guard let server, server.isRunning else { return }
        Glibc.kill(server.process.processIdentifier, SIGKILL)
        server.process.waitUntilExit()
    }

    /// Freezes the server (SIGSTOP): the kernel still accepts connections, but nothing is answered.
    public func freeze() {
        if let server { Glibc.kill(server.process.processIdentifier, SIGSTOP) }
    }

    /// Lets a frozen server go on (SIGCONT).
    public func thaw() {
        if let server { Glibc.kill(server.process.processIdentifier, SIGCONT) }
    }

    /// Sends one command (inline, as redis-cli would) with the password and returns the first reply line
    /// (`+PONG`, `:3`, `$5`...); throws when the server cannot be reached.
    @discardableResult
    public func command(_ arguments: [String]) throws -> String {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw TestProcess.Missing(description: "socket() failed") }
        defer { close(socket) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw TestProcess.Missing(description: "cannot connect to redis on port \(port)") }
        func encode(_ parts: [String]) -> [UInt8] {
            var bytes = Array("*\(parts.count)\r\n".utf8)
            for part in parts { bytes += Array("$\(part.utf8.count)\r\n".utf8) + Array(part.utf8) + [13, 10] }
            return bytes
        }
        let request = encode(["AUTH", password]) + encode(arguments)
        _ = request.withUnsafeBytes { send(socket, $0.baseAddress, $0.count, 0) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        // Two replies: AUTH's +OK, then the command's first line.
        while received.filter({ $0 == 10 }).count < 2 {
            let count = recv(socket, &buffer, buffer.count, 0)
            guard count > 0 else { throw TestProcess.Missing(description: "redis on port \(port) closed the connection") }
            received += buffer[0..<count]
        }
        let lines = String(decoding: received, as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false)
        return String(lines[1])
    }

    /// A port nothing listens on now (the kernel's choice for an ephemeral bind, released at once).
    public static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(socket, pointer, length) == 0 && getsockname(socket, pointer, &length) == 0
            }
        }
        guard bound else { throw TestProcess.Missing(description: "cannot find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

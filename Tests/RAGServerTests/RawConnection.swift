import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A TCP connection to a test server that sends exactly the bytes it is given: half a request, a body that stops
/// short, or nothing at all, as a slow or hostile client would. Every read waits at most `timeout`.
final class RawConnection: @unchecked Sendable {
    private let fd: Int32

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    init(port: Int, timeout: Duration = .seconds(10)) throws {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo("localhost", String(port), &hints, &list) == 0, let first = list else {
            throw Failure(description: "cannot resolve localhost")
        }
        defer { freeaddrinfo(list) }
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
            if fd >= 0 {
                if connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 {
                    var wait = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
                    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
                    self.fd = fd
                    return
                }
                close(fd)
            }
            entry = info.pointee.ai_next
        }
        throw Failure(description: "cannot connect to localhost:\(port)")
    }

    deinit { close(fd) }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure(description: "send failed: \(String(cString: strerror(errno)))") }
            sent += n
        }
    }

    func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure(description: "send failed: \(String(cString: strerror(errno)))") }
            sent += n
        }
    }

    /// Runs blocking socket calls on a thread of their own, never on the concurrency pool, which the server under
    /// test shares (two blocked pool threads on a two-core machine stop the server).
    private func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
        }
    }

    /// Everything the server sends until it closes the connection; throws when it has not closed it within the
    /// timeout.
    func readUntilClosed() async throws -> String {
        try await offPool { try self.readUntilClosedBlocking() }
    }

    /// Reads until `marker` has arrived (a response's end, say); throws on close or timeout before it.
    func read(until marker: String) async throws -> String {
        try await offPool { try self.readBlocking(until: marker) }
    }

    private func readUntilClosedBlocking() throws -> String {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { return String(decoding: received, as: UTF8.self) }
            if n < 0 {
                if errno == ECONNRESET { return String(decoding: received, as: UTF8.self) }
                throw Failure(description: "the server did not close the connection; received \(String(decoding: received, as: UTF8.self).debugDescription)")
            }
            received += buffer[0..<n]
        }
    }

    private func readBlocking(until marker: String) throws -> String {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !String(decoding: received, as: UTF8.self).contains(marker) {
            let n = recv(fd, &buffer, buffer.count, 0)
            guard n > 0 else {
                throw Failure(description: "closed or timed out before \(marker.debugDescription); received \(String(decoding: received, as: UTF8.self).debugDescription)")
            }
            received += buffer[0..<n]
        }
        return String(decoding: received, as: UTF8.self)
    }

    /// Closes the connection at once, as a client that gives up does.
    func abandon() {
        shutdown(fd, Int32(SHUT_RDWR))
    }
}

import Dispatch
import Foundation
import Glibc
import RAGCore
import Synchronization

/// An in-process HTTP/1.1 server on 127.0.0.1 that answers like the OpenAI API and injects faults on demand.
///
/// Each request consumes one queued ``FakeOpenAIServer.Behavior`` (FIFO); when the queue is empty, ``defaultBehavior`` answers.
/// Every request is recorded. One thread accepts, one thread serves each connection; ``stop()`` (also run by
/// `deinit`) shuts every socket down and joins the threads.
///
/// ```swift
/// let server = try FakeOpenAIServer()
/// defer { server.stop() }
/// server.enqueue(.error(status: 429, message: "slow down", type: "rate_limit_error"), .chatCompletion(content: "Hi"))
/// // point the client at server.baseURL, then:
/// #expect(server.requests.map(\.path) == ["/v1/chat/completions", "/v1/chat/completions"])
/// ```
public final class FakeOpenAIServer: Sendable {
    /// The ephemeral port the server listens on.
    public let port: Int
    private let core: Core

    /// Binds 127.0.0.1 on an ephemeral port and starts accepting connections on a background thread.
    public init() throws {
        let listener = try Self.makeListener()
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        guard named == 0 else {
            let error = FakeOpenAIServerError("getsockname")
            Glibc.close(listener)
            throw error
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        core = Core(listener: listener)
        core.startAccepting()
    }

    deinit {
        core.stop()
    }

    /// `http://127.0.0.1:<port>/v1`, the base URL an OpenAI client expects.
    public var baseURL: String { "http://127.0.0.1:\(port)/v1" }

    /// Queues behaviors; each request takes the oldest one.
    public func enqueue(_ behaviors: FakeOpenAIServer.Behavior...) {
        core.state.withLock { $0.queue.append(contentsOf: behaviors) }
    }

    /// Answers requests when the queue is empty; initially a 500 OpenAI error.
    public var defaultBehavior: FakeOpenAIServer.Behavior {
        get { core.state.withLock { $0.defaultBehavior } }
        set { core.state.withLock { $0.defaultBehavior = newValue } }
    }

    /// Every request received so far, in arrival order.
    public var requests: [FakeOpenAIServer.RecordedRequest] { core.state.withLock { $0.requests } }

    /// How many TCP connections were accepted; one per client connection, so reuse shows as a smaller count.
    public var connectionsAccepted: Int { core.state.withLock { $0.connectionsAccepted } }

    /// Makes every `.sse` response wait before its write number `index` (0 is the first write after the headers) until
    /// ``releaseStreams()`` or ``stop()``, at most 60 s. A test can then act while a stream is certainly in flight, however
    /// slow the machine, instead of racing a fixed delay.
    public func holdStreams(beforeWrite index: Int) {
        core.state.withLock {
            $0.holdBeforeWrite = index
            $0.streamsReleased = false
        }
    }

    /// Lets every held stream go on; streams started later are not held.
    public func releaseStreams() {
        core.state.withLock { $0.streamsReleased = true }
    }

    /// Closes the listener and every open connection, then joins the threads (waiting at most 5 s). Idempotent.
    public func stop() {
        core.stop()
    }

    private static func makeListener() throws -> Int32 {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard listener >= 0 else { throw FakeOpenAIServerError("socket") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)  // 127.0.0.1 only
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(listener, 128) == 0,
            fcntl(listener, F_SETFL, fcntl(listener, F_GETFL) | O_NONBLOCK) == 0
        else {
            let error = FakeOpenAIServerError(bound == 0 ? "listen" : "bind")
            Glibc.close(listener)
            throw error
        }
        return listener
    }
}

/// A socket call that failed while starting the server.
public struct FakeOpenAIServerError: Error, CustomStringConvertible {
    public var operation: String
    public var code: Int32

    init(_ operation: String, code: Int32 = errno) {
        self.operation = operation
        self.code = code
    }

    public var description: String { "FakeOpenAIServer: \(operation) failed: \(String(cString: strerror(code)))" }
}

extension FakeOpenAIServer {
    /// One request as the server parsed it.
    public struct RecordedRequest: Sendable {
        public var method: String
        /// The request target as sent, e.g. `/v1/chat/completions` (with any query string).
        public var path: String
        /// Header names are lower-cased; repeated headers are joined with ", ".
        public var headers: [String: String]
        /// The body, de-chunked when it was sent with `Transfer-Encoding: chunked`.
        public var body: Data

        /// The body parsed as a JSON object, or nil when it is not one.
        public var json: [String: Any]? {
            (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
        }
    }
}

extension FakeOpenAIServer {
    /// How the byte stream of an SSE response is cut into writes (one HTTP chunk each).
    public enum Chunking: Sendable, Equatable {
        /// One write per event.
        case whole
        /// One byte per write.
        case everyByte
        /// Cut the whole stream at these byte offsets (offsets outside the stream are ignored).
        case at([Int])
    }
}

extension FakeOpenAIServer {
    /// What the server does with one request.
    public enum Behavior: Sendable {
        /// A `Content-Length` response, keeping the connection alive. Headers named Content-Type or Connection
        /// replace the server's own; Content-Length is always computed.
        case json(status: Int, body: String, headers: [(String, String)] = [])
        /// A chunked `text/event-stream` response. Each event is written as `data: <event>\n\n` (verbatim, so an event
        /// may contain `\n` to add lines); an event starting with ":" is written as the comment line `<event>\n`.
        /// `chunking` cuts that stream into writes, `delay` passes between writes, and `abortAfter` closes the socket
        /// (FIN) after that many writes (or after the last, if there are fewer), without the terminating zero-length
        /// chunk.
        case sse(
            events: [String], chunking: FakeOpenAIServer.Chunking = .whole, delay: Duration = .zero, abortAfter: Int? = nil,
            status: Int = 200)
        /// Writes these exact bytes (status line, headers, body), `delay` between writes, then closes.
        case raw([Data], delay: Duration = .zero)
        /// Reads the request and never answers, until `stop()` or the client closes (at most 60 s).
        case hang
        /// Reads the request and closes the connection without answering.
        case close
        /// Waits, then behaves.
        indirect case delayed(Duration, FakeOpenAIServer.Behavior)
    }
}

// MARK: - OpenAI response shapes

extension FakeOpenAIServer.Behavior {
    /// A `/v1/chat/completions` response with one assistant choice and usage.
    public static func chatCompletion(
        content: String, promptTokens: Int = 12, completionTokens: Int = 5, model: String = "gpt-test"
    ) -> FakeOpenAIServer.Behavior {
        .json(status: 200, body: jsonText(OpenAIWire.ChatCompletion(
            id: "chatcmpl-test", created: 1_700_000_000, model: model,
            choices: [.init(index: 0, message: .init(role: "assistant", content: content), finish_reason: "stop")],
            usage: usage(promptTokens, completionTokens))))
    }

    /// A streamed chat completion: a role chunk, one chunk per delta, a `finish_reason: "stop"` chunk, a usage chunk
    /// with empty `choices` (when `usage` is given), then `[DONE]`.
    public static func chatStream(
        deltas: [String], usage tokens: (prompt: Int, completion: Int)? = (12, 5), chunking: FakeOpenAIServer.Chunking = .whole,
        delay: Duration = .zero
    ) -> FakeOpenAIServer.Behavior {
        func chunk(_ choices: [OpenAIWire.ChunkChoice], usage: OpenAIWire.Usage? = nil) -> String {
            jsonText(OpenAIWire.ChatCompletionChunk(id: "chatcmpl-test", created: 1_700_000_000, model: "gpt-test", choices: choices, usage: usage))
        }
        func choice(_ delta: OpenAIWire.Delta, finishReason: String?) -> OpenAIWire.ChunkChoice {
            OpenAIWire.ChunkChoice(index: 0, delta: delta, finish_reason: finishReason)
        }
        var events = [chunk([choice(.init(role: "assistant", content: ""), finishReason: nil)])]
        events += deltas.map { chunk([choice(.init(content: $0), finishReason: nil)]) }
        events.append(chunk([choice(.init(), finishReason: "stop")]))
        if let tokens { events.append(chunk([], usage: usage(tokens.prompt, tokens.completion))) }
        events.append("[DONE]")
        return .sse(events: events, chunking: chunking, delay: delay)
    }

    /// A `/v1/embeddings` response, one `data` item per vector, in order.
    public static func embeddings(_ vectors: [[Float]], promptTokens: Int = 8) -> FakeOpenAIServer.Behavior {
        .json(status: 200, body: jsonText(OpenAIWire.EmbeddingsResponse(
            data: vectors.enumerated().map { OpenAIWire.Embedding(index: $0, embedding: $1) }, model: "text-embedding-test",
            usage: OpenAIWire.Usage(prompt_tokens: promptTokens, completion_tokens: nil, total_tokens: promptTokens))))
    }

    /// An OpenAI error: `{"error":{"message":…,"type":…,"param":null,"code":…}}`.
    public static func error(
        status: Int, message: String, type: String, code: String? = nil, headers: [(String, String)] = []
    ) -> FakeOpenAIServer.Behavior {
        .json(status: status, body: jsonText(OpenAIWire.ErrorResponse(error: .init(message: message, type: type, code: code))), headers: headers)
    }

    private static func usage(_ prompt: Int, _ completion: Int) -> OpenAIWire.Usage {
        OpenAIWire.Usage(prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion)
    }

    private static func jsonText(_ value: some Encodable) -> String {
        String(decoding: OpenAIWire.encode(value), as: UTF8.self)
    }
}

// MARK: - Server internals

/// State shared by the server object and its threads. The threads hold this, never the server, so dropping the last
/// reference to the server runs its `deinit`, which stops them.
private final class Core: Sendable {
    struct State {
        var queue: [FakeOpenAIServer.Behavior] = []
        var defaultBehavior = FakeOpenAIServer.Behavior.error(
            status: 500, message: "FakeOpenAIServer: no behavior enqueued", type: "server_error")
        var requests: [FakeOpenAIServer.RecordedRequest] = []
        var connectionsAccepted = 0
        var holdBeforeWrite: Int?
        var streamsReleased = true
        var open: Set<Int32> = []
        var stopped = false
    }

    let listener: Int32
    let state = Mutex(State())
    let threads = DispatchGroup()

    init(listener: Int32) {
        self.listener = listener
    }

    var isStopped: Bool { state.withLock { $0.stopped } }

    func startAccepting() {
        threads.enter()
        let thread = Thread { [self] in
            acceptLoop()
            threads.leave()
        }
        thread.name = "FakeOpenAIServer.accept"
        thread.start()
    }

    func stop() {
        let first = state.withLock { state -> Bool in
            guard !state.stopped else { return false }
            state.stopped = true
            // Under the lock: a connection thread removes its descriptor here before closing it, so none of these
            // can have been closed and reused.
            for fd in state.open { Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
            return true
        }
        if first { Glibc.shutdown(listener, Int32(SHUT_RDWR)) }
        _ = threads.wait(timeout: .now() + 5)
    }

    private func acceptLoop() {
        defer { Glibc.close(listener) }
        while !isStopped {
            var descriptor = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, 50)
            if ready < 0 && errno != EINTR { return }
            guard ready > 0 else { continue }
            let fd = accept(listener, nil, nil)  // Glibc's module map does not export accept4
            guard fd >= 0 else {
                if errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED { continue }
                return  // EINVAL after shutdown, or out of descriptors
            }
            let registered = state.withLock { state -> Bool in
                guard !state.stopped else { return false }
                state.open.insert(fd)
                state.connectionsAccepted += 1
                return true
            }
            guard registered else {
                Glibc.close(fd)
                return
            }
            configure(fd)
            threads.enter()
            let thread = Thread { [self] in
                serve(fd)
                threads.leave()
            }
            thread.name = "FakeOpenAIServer.connection"
            thread.start()
        }
    }

    private func configure(_ fd: Int32) {
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)  // a spawned curl must not inherit the connection
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        // A client that stops reading cannot block a writer forever.
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    private func serve(_ fd: Int32) {
        var connection = Connection(fd: fd, core: self)
        defer {
            state.withLock { _ = $0.open.remove(fd) }
            Glibc.close(fd)
        }
        for _ in 0..<Limits.requestsPerConnection {
            guard let request = connection.readRequest() else { return }
            let behavior = state.withLock { state -> FakeOpenAIServer.Behavior in
                state.requests.append(request.recorded)
                return state.queue.isEmpty ? state.defaultBehavior : state.queue.removeFirst()
            }
            guard connection.perform(behavior, keepAlive: request.keepAlive) else { return }
        }
    }

    /// Waits while streams are held before write `index` (see `holdStreams(beforeWrite:)`), at most `Limits.hang`; false
    /// when the server stopped meanwhile.
    func waitIfHeld(beforeWrite index: Int) -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + Limits.hang
        while state.withLock({ $0.holdBeforeWrite == index && !$0.streamsReleased }) && clock.now < deadline {
            if !pause(.milliseconds(10)) { return false }
        }
        return !isStopped
    }

    /// Sleeps for `duration` in short slices; false when the server stopped meanwhile.
    func pause(_ duration: Duration) -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + duration
        while clock.now < deadline {
            if isStopped { return false }
            let slice = min(deadline - clock.now, .milliseconds(10))
            let (seconds, attoseconds) = slice.components
            usleep(useconds_t(max(0, seconds * 1_000_000 + attoseconds / 1_000_000_000_000)))
        }
        return !isStopped
    }
}

private enum Limits {
    static let requestsPerConnection = 1000
    static let headerBytes = 64 * 1024
    static let headerLines = 200
    static let bodyBytes = 64 * 1024 * 1024
    /// Long enough that a client kept waiting by a busy test machine (two cores, hundreds of tests at once) finds its
    /// kept-alive connection still open.
    static let idle: Duration = .seconds(120)
    static let hang: Duration = .seconds(60)
    static let pollMilliseconds: Int32 = 50
}

/// A parsed request plus what the connection needs to know about it.
private struct ParsedRequest {
    var recorded: FakeOpenAIServer.RecordedRequest
    var keepAlive: Bool
}

/// One accepted socket: a read buffer plus the request parser and the response writers. Used by one thread only.
private struct Connection {
    let fd: Int32
    let core: Core
    var buffer: [UInt8] = []

    // MARK: Reading

    /// Reads more bytes into `buffer`; false on end of stream, error, idle timeout or stop.
    mutating func fill() -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + Limits.idle
        var scratch = [UInt8](repeating: 0, count: 64 * 1024)
        while clock.now < deadline && !core.isStopped {
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, Limits.pollMilliseconds)
            if ready < 0 && errno != EINTR { return false }
            guard ready > 0 else { continue }
            let count = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                buffer.append(contentsOf: scratch[..<count])
                return true
            }
            if count == 0 || (errno != EINTR && errno != EAGAIN) { return false }
        }
        return false
    }

    /// One line without its CRLF (a bare LF is accepted too), or nil when the stream ends or the line is too long.
    mutating func readLine(limit: Int) -> String? {
        var searched = 0
        while true {
            if let newline = buffer[searched...].firstIndex(of: UInt8(ascii: "\n")) {
                var line = buffer[..<newline]
                if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
                let text = String(decoding: line, as: UTF8.self)
                buffer.removeFirst(newline + 1)
                return text
            }
            searched = buffer.count
            guard buffer.count <= limit, fill() else { return nil }
        }
    }

    mutating func readBytes(_ count: Int) -> [UInt8]? {
        while buffer.count < count {
            guard fill() else { return nil }
        }
        let bytes = Array(buffer[..<count])
        buffer.removeFirst(count)
        return bytes
    }

    /// Reads one request; nil when the client closed, the server stopped or the request is malformed (then a 400
    /// has been sent).
    mutating func readRequest() -> ParsedRequest? {
        var requestLine = ""
        for _ in 0..<4 where requestLine.isEmpty {  // tolerate stray CRLFs between requests
            guard let line = readLine(limit: Limits.headerBytes) else { return nil }
            requestLine = line
        }
        let parts = requestLine.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else { return badRequest() }
        var headers: [String: String] = [:]
        var headerBytes = 0
        var complete = false
        for _ in 0..<Limits.headerLines {
            guard let line = readLine(limit: Limits.headerBytes) else { return nil }
            headerBytes += line.utf8.count
            guard headerBytes <= Limits.headerBytes else { return badRequest() }
            if line.isEmpty {
                complete = true
                break
            }
            guard let colon = line.firstIndex(of: ":") else { return badRequest() }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers[name] = headers[name].map { "\($0), \(value)" } ?? value
        }
        guard complete else { return badRequest() }

        let chunked = headers["transfer-encoding"]?.lowercased().contains("chunked") ?? false
        var contentLength = 0
        if !chunked, let value = headers["content-length"] {
            guard let length = Int(value), length >= 0, length <= Limits.bodyBytes else { return badRequest() }
            contentLength = length
        }
        if headers["expect"]?.lowercased() == "100-continue", chunked || contentLength > 0, buffer.isEmpty {
            guard send(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) else { return nil }
        }
        let body: [UInt8]
        if chunked {
            guard let decoded = readChunkedBody() else { return nil }
            body = decoded
        } else {
            guard let bytes = readBytes(contentLength) else { return nil }
            body = bytes
        }

        let version = String(parts[2])
        let connection = headers["connection"]?.lowercased() ?? ""
        let keepAlive = version == "HTTP/1.0" ? connection.contains("keep-alive") : !connection.contains("close")
        let recorded = FakeOpenAIServer.RecordedRequest(
            method: String(parts[0]), path: String(parts[1]), headers: headers, body: Data(body))
        return ParsedRequest(recorded: recorded, keepAlive: keepAlive)
    }

    private mutating func readChunkedBody() -> [UInt8]? {
        var body: [UInt8] = []
        while true {
            guard let line = readLine(limit: 1024) else { return nil }
            let hex = line.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
            guard let size = Int(hex.trimmingCharacters(in: .whitespaces), radix: 16), size >= 0,
                body.count + size <= Limits.bodyBytes
            else {
                _ = badRequest()
                return nil
            }
            if size == 0 {
                for _ in 0..<Limits.headerLines {  // trailers, up to the empty line
                    guard let trailer = readLine(limit: Limits.headerBytes) else { return nil }
                    if trailer.isEmpty { return body }
                }
                return nil
            }
            guard let data = readBytes(size), readLine(limit: 2) == "" else { return nil }
            body += data
        }
    }

    private func badRequest() -> ParsedRequest? {
        _ = send(Array("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8))
        return nil
    }

    // MARK: Writing

    /// Writes all bytes (never raising SIGPIPE); false when the peer is gone or the server stopped.
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            if core.isStopped { return false }
            let sent = bytes.withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent > 0 {
                offset += sent
            } else if sent < 0 && errno == EINTR {
                continue
            } else {
                return false
            }
        }
        return true
    }

    /// Answers one request; true when the connection stays open for the next one.
    mutating func perform(_ behavior: FakeOpenAIServer.Behavior, keepAlive: Bool) -> Bool {
        switch behavior {
        case .json(let status, let body, let headers):
            let bytes = Array(body.utf8)
            var fields = headers
            var keepAlive = keepAlive
            if let connection = headers.first(where: { $0.0.lowercased() == "connection" }) {
                keepAlive = keepAlive && !connection.1.lowercased().contains("close")
            } else {
                fields.append(("Connection", keepAlive ? "keep-alive" : "close"))
            }
            if !headers.contains(where: { $0.0.lowercased() == "content-type" }) {
                fields.append(("Content-Type", "application/json"))
            }
            fields.append(("Content-Length", String(bytes.count)))
            return send(head(status: status, fields: fields) + bytes) && keepAlive

        case .sse(let events, let chunking, let delay, let abortAfter, let status):
            let fields = [
                ("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache"),
                ("Transfer-Encoding", "chunked"), ("Connection", keepAlive ? "keep-alive" : "close"),
            ]
            guard send(head(status: status, fields: fields)) else { return false }
            let writes = Self.segments(of: events, chunking: chunking)
            for (index, write) in writes.enumerated() {
                if let abortAfter, index >= abortAfter { return closeGracefully() }
                if index > 0, delay > .zero, !core.pause(delay) { return false }
                guard core.waitIfHeld(beforeWrite: index) else { return false }
                guard send(Array(String(write.count, radix: 16).utf8) + [13, 10] + write + [13, 10]) else {
                    return false
                }
            }
            if abortAfter != nil { return closeGracefully() }  // more writes asked for than the stream has
            return send(Array("0\r\n\r\n".utf8)) && keepAlive

        case .raw(let writes, let delay):
            for (index, write) in writes.enumerated() {
                if index > 0, delay > .zero, !core.pause(delay) { return false }
                guard send(Array(write)) else { return false }
            }
            return closeGracefully()

        case .hang:
            let clock = ContinuousClock()
            let deadline = clock.now + Limits.hang
            var scratch = [UInt8](repeating: 0, count: 4096)
            while clock.now < deadline && !core.isStopped {
                var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&descriptor, 1, Limits.pollMilliseconds)
                if ready < 0 && errno != EINTR { return false }
                guard ready > 0 else { continue }
                let count = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count == 0 || (count < 0 && errno != EINTR && errno != EAGAIN) { return false }  // client closed
            }
            return false

        case .close:
            return closeGracefully()

        case .delayed(let duration, let next):
            guard core.pause(duration) else { return false }
            return perform(next, keepAlive: keepAlive)
        }
    }

    /// Sends FIN, then reads until the client closes too (at most 500 ms), so unread input cannot turn the close into a
    /// reset that destroys the response in flight. Always false: the connection is over.
    private func closeGracefully() -> Bool {
        Glibc.shutdown(fd, Int32(SHUT_WR))
        var scratch = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<10 where !core.isStopped {
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, Limits.pollMilliseconds) > 0 else { continue }
            let count = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
        }
        return false
    }

    private func head(status: Int, fields: [(String, String)]) -> [UInt8] {
        var text = "HTTP/1.1 \(status) \(Self.reason(status))\r\n"
        for (name, value) in fields { text += "\(name): \(value)\r\n" }
        return Array((text + "\r\n").utf8)
    }

    /// The SSE byte stream for `events`, cut into writes as `chunking` says; no write is empty.
    static func segments(of events: [String], chunking: FakeOpenAIServer.Chunking) -> [[UInt8]] {
        let perEvent = events.map { Array(($0.hasPrefix(":") ? "\($0)\n" : "data: \($0)\n\n").utf8) }
        let stream = perEvent.flatMap { $0 }
        switch chunking {
        case .whole:
            return perEvent
        case .everyByte:
            return stream.map { [$0] }
        case .at(let offsets):
            let cuts = Set(offsets.filter { $0 > 0 && $0 < stream.count }).sorted()
            return zip([0] + cuts, cuts + [stream.count]).compactMap { start, end in
                start < end ? Array(stream[start..<end]) : nil
            }
        }
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 204: "No Content"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 413: "Content Too Large"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: "Status \(status)"
        }
    }
}

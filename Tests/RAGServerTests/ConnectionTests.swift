import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import RAGCore
import RAGServer
import RAGTesting
import Synchronization
import Testing

/// Connections that are idle, half-sent or abandoned: each is closed or stopped, and the work for a client that
/// left is not done.
@Suite struct ConnectionTests {
    static func server(idle: Double = 30, header: Double = 30, body: Double = 30) -> TestServer {
        var server = TestServer()
        server.configuration.connectionTimeouts = ConnectionTimeouts(idle: .seconds(idle), header: .seconds(header), body: .seconds(body))
        return server
    }

    static func metric(_ state: ServerState, _ line: String) -> Bool {
        state.engine.metrics.render().split(separator: "\n").contains { $0 == line }
    }

    @Test func aHeadThatStopsHalfWayGets408AndTheConnectionCloses() async throws {
        let (app, state) = try await Self.server(header: 0.3).app()
        try await app.test(.live) { client in
            let connection = try RawConnection(port: try #require(client.port))
            try connection.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
            let reply = try await connection.readUntilClosed()
            #expect(reply.hasPrefix("HTTP/1.1 408"))
            #expect(Self.metric(state, #"rag_http_connections_timed_out_total{phase="header"} 1"#))
        }
    }

    @Test func anIdleConnectionIsClosed() async throws {
        let (app, _) = try await Self.server(idle: 0.3).app()
        try await app.test(.live) { client in
            // Closed 0.3 s after the last byte; the reads wait up to 30 s, as a loaded CI machine has been seen to
            // run the server's timer more than 10 s late.
            let silent = try RawConnection(port: try #require(client.port), timeout: .seconds(30))
            #expect(try await silent.readUntilClosed() == "")
            // Idle after a response (keep-alive) too.
            let kept = try RawConnection(port: try #require(client.port), timeout: .seconds(30))
            try kept.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(try await kept.readUntilClosed().hasPrefix("HTTP/1.1 200"))
        }
    }

    /// The header timeout runs from a request's first byte: a kept-alive connection that waits longer than it
    /// between two requests is still served.
    @Test func aKeptAliveConnectionOutlivesTheHeaderTimeoutBetweenRequests() async throws {
        let (app, _) = try await Self.server(header: 0.2).app()
        try await app.test(.live) { client in
            let connection = try RawConnection(port: try #require(client.port))
            try connection.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(try await connection.read(until: "\r\n\r\n").hasPrefix("HTTP/1.1 200"))
            try await Task.sleep(for: .milliseconds(600))
            try connection.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            #expect(try await connection.readUntilClosed().contains("HTTP/1.1 200"))
        }
    }

    @Test func aBodyThatStopsShortGets408AndTheConnectionCloses() async throws {
        let (app, state) = try await Self.server(body: 0.3).app()
        try await app.test(.live) { client in
            let connection = try RawConnection(port: try #require(client.port))
            try connection.send(
                "POST /v1/search HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"query\":")
            let reply = try await connection.readUntilClosed()
            #expect(reply.hasPrefix("HTTP/1.1 408"))
            #expect(Self.metric(state, #"rag_http_connections_timed_out_total{phase="body"} 1"#))
        }
    }

    /// With one answer slot and one queue place, two asks whose clients hang up leave both at once: a third ask is
    /// answered instead of refused with 503, and the queued one never reaches the model.
    @Test func asksWhoseClientsLeftGiveUpTheirSlotAndPlace() async throws {
        // The first answer must still hold the slot when the second ask is queued behind it, even on a loaded machine.
        let llm = MockLLMClient(defaultReply: "Employees get 25 days [1].", chunkSize: 1000, delay: .seconds(8))
        var server = TestServer()
        server.llm = llm
        server.configuration.maxConcurrentAnswers = 1
        server.configuration.answerQueueLength = 1
        server.configuration.requestTimeout = .seconds(20)  // checks for clients that left every second
        let (app, state) = try await server.app()
        try await app.test(.live) { client in
            try await client.uploadHandbook()
            let body = #"{"question":"How many vacation days?"}"#
            let request = "POST /v1/ask HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            let first = try RawConnection(port: try #require(client.port))
            try first.send(request)
            while state.answers.running < 1 { try await Task.sleep(for: .milliseconds(10)) }
            let second = try RawConnection(port: try #require(client.port))
            try second.send(request)
            while state.answers.waiting < 1 { try await Task.sleep(for: .milliseconds(10)) }
            first.abandon()
            second.abandon()
            while state.answers.running + state.answers.waiting > 0 { try await Task.sleep(for: .milliseconds(20)) }
            let response = try await client.execute(
                uri: "/v1/ask", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body))
            #expect(response.status == .ok)
            #expect(llm.requests.count == 2)  // the first (stopped) and the third; never the queued one
            #expect(Self.metric(state, "rag_http_requests_abandoned_total 2"))
        }
    }

    /// An upload whose client hangs up while it is being indexed is not added.
    @Test func anUploadWhoseClientLeftIsNotCommitted() async throws {
        let embedder = HeldEmbedder()
        var server = TestServer()
        server.configuration.requestTimeout = .seconds(20)
        let state = ServerState(
            configuration: server.configuration,
            engine: try await Engine(configuration: server.engineConfiguration, embedder: embedder, llm: server.llm, metrics: RAGMetrics()))
        let app = buildApplication(state: state)
        try await app.test(.live) { client in
            let pdf = Fixtures.handbook
            let connection = try RawConnection(port: try #require(client.port))
            try connection.send(
                "POST /v1/documents?filename=handbook.pdf HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/pdf\r\nContent-Length: \(pdf.count)\r\n\r\n")
            try connection.send(Array(pdf))
            await embedder.started.wait()
            connection.abandon()
            while !Self.metric(state, "rag_http_requests_abandoned_total 1") { try await Task.sleep(for: .milliseconds(20)) }
            embedder.release()
            while state.uploads.running > 0 { try await Task.sleep(for: .milliseconds(20)) }
            #expect(state.engine.collection.documents.isEmpty)
        }
    }

    /// Uploads take a slot before their bodies are read: with one slot and no queue, a second upload while the first
    /// is still sending is refused with 503, and once the first client leaves, uploads are taken again.
    @Test func uploadsBeyondTheSlotsAreRefusedBeforeTheirBodiesAreRead() async throws {
        var server = TestServer()
        server.configuration.maxConcurrentUploads = 1
        server.configuration.uploadQueueLength = 0
        let (app, state) = try await server.app()
        try await app.test(.live) { client in
            let slow = try RawConnection(port: try #require(client.port))
            try slow.send(
                "POST /v1/documents?filename=a.pdf HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/pdf\r\nContent-Length: 100000\r\n\r\n%PDF-1.4\n")
            while state.uploads.running < 1 { try await Task.sleep(for: .milliseconds(10)) }
            let refused = try await client.uploadHandbook()
            #expect(refused.status == .serviceUnavailable)
            #expect(refused.json["error"].flatMap { ($0 as? [String: Any])?["code"] as? String } == "uploads_busy")
            slow.abandon()
            while state.uploads.running > 0 { try await Task.sleep(for: .milliseconds(20)) }
            #expect(try await client.uploadHandbook().status == .created)
        }
    }
}

/// An embedder that signals when it is called and returns only once released.
final class HeldEmbedder: Embedder {
    let identifier = "held"
    let dimension = 8
    let started = Signal()
    private let gate = Signal()

    func embed(_ texts: [String]) async throws -> [[Float]] {
        started.fire()
        await gate.wait()
        return texts.map { _ in [1, 0, 0, 0, 0, 0, 0, 0] }
    }

    func release() { gate.fire() }
}

/// A one-shot event that any number of tasks can wait for.
final class Signal: Sendable {
    private let state = Mutex<(fired: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func fire() {
        let waiters = state.withLock { state in
            state.fired = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state in
                if state.fired { return true }
                state.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }
}

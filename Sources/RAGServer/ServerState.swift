import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOFoundationEssentialsCompat
import Prometheus
import RAGCore
import Synchronization

/// What every route needs: the engine, the limits, and the metrics.
public final class ServerState: Sendable {
    public let configuration: ServerConfiguration
    public let engine: Engine
    public let httpMetrics: HTTPMetrics
    /// Requests per client (``ServerConfiguration/rateLimitPerMinute``), in Redis when configured.
    public let limiter: SharedRateLimiter
    public let answers: RequestGate
    /// Bounds uploads in progress (``ServerConfiguration/maxConcurrentUploads``), and so the bodies held in memory.
    public let uploads: RequestGate
    /// Failed API-key attempts per client address (``ServerConfiguration/authFailuresPerMinute``).
    public let authFailures: SharedRateLimiter
    /// The Redis shared by the replicas (``ServerConfiguration/redis``), or `nil`: it holds the rate limits here,
    /// and the engine's response cache (``Engine/cache``).
    public let redis: RedisClient?
    /// Who a request comes from, behind trusted proxies or not.
    public let clientAddresses: ClientAddressResolver
    /// Fires the request timeouts, within a twentieth of the timeout (between 10 ms and 1 s) after it.
    public let timer: RequestTimer
    /// `/metrics`'s text, rendered at most once per ``ServerConfiguration/metricsCacheInterval``.
    public let metricsText: MetricsRenderCache
    /// Wakes this process's ingestion worker when an upload is queued here.
    let wake = WakeSignal()
    public let logger: Logger

    /// - Parameter redis: the client of ``ServerConfiguration/redis``, started (``RedisClient/start()``); the
    ///   engine's response cache, if any, is given to the engine itself.
    public init(configuration: ServerConfiguration, engine: Engine, redis: RedisClient? = nil, logger: Logger = Logger(label: "rag.server")) {
        self.configuration = configuration
        self.engine = engine
        self.redis = redis
        self.httpMetrics = HTTPMetrics(
            metrics: engine.metrics, clients: configuration.apiKeys.isEmpty ? ["anonymous"] : Array(Set(configuration.apiKeys.values)).sorted())
        self.limiter = SharedRateLimiter(
            local: RateLimiter(perMinute: configuration.rateLimitPerMinute, burst: configuration.rateLimitBurst), redis: redis, name: "requests",
            metrics: engine.metrics)
        self.answers = RequestGate(slots: configuration.maxConcurrentAnswers, queue: configuration.answerQueueLength)
        self.uploads = RequestGate(slots: configuration.maxConcurrentUploads, queue: configuration.uploadQueueLength)
        self.authFailures = SharedRateLimiter(
            local: RateLimiter(perMinute: configuration.authFailuresPerMinute, burst: configuration.authFailuresPerMinute), redis: redis,
            name: "auth-failures", metrics: engine.metrics)
        self.clientAddresses = ClientAddressResolver(trustedProxies: configuration.trustedProxies, header: configuration.forwardedHeader)
        self.timer = RequestTimer(tick: min(.seconds(1), max(.milliseconds(10), configuration.requestTimeout / 20)))
        self.metricsText = MetricsRenderCache(interval: configuration.metricsCacheInterval) { [metrics = engine.metrics] in metrics.render() }
        self.logger = logger
    }

    /// Runs an answer in a slot of the answer gate, or refuses it with 503 `overloaded` when every slot and queue
    /// place is taken.
    func withAnswerSlot<T>(connection: ConnectionWatch?, _ body: () async throws -> T) async throws -> T {
        try await withSlot(of: answers, rejected: httpMetrics.queueRejected, connection: connection, body) { gate in
            APIError(
                .serviceUnavailable, code: "overloaded",
                "the server is answering as many questions as it can (\(gate.slots) at once, \(gate.queue) waiting); retry shortly",
                headers: [.retryAfter: "2"])
        }
    }

    /// Runs an upload in a slot of the upload gate (taken before its body is read), or refuses it with 503
    /// `uploads_busy` when every slot and queue place is taken.
    func withUploadSlot<T>(connection: ConnectionWatch?, _ body: () async throws -> T) async throws -> T {
        try await withSlot(of: uploads, rejected: httpMetrics.uploadsRejected, connection: connection, body) { gate in
            APIError(
                .serviceUnavailable, code: "uploads_busy",
                "the server is taking as many uploads as it can (\(gate.slots) at once, \(gate.queue) waiting); retry shortly",
                headers: [.retryAfter: "5"])
        }
    }

    /// Takes a slot of `gate` for `body`. A waiter whose client has left by the time it gets the slot gives it up
    /// at once: the timer notices a client that left only at its next tick, and the slot may come sooner.
    private func withSlot<T>(
        of gate: RequestGate, rejected: Counter, connection: ConnectionWatch?, _ body: () async throws -> T,
        full: (RequestGate) -> APIError
    ) async throws -> T {
        do {
            try await gate.acquire()
        } catch is RequestGate.Full {
            rejected.increment()
            throw full(gate)
        }
        defer { gate.release() }
        if connection?.clientIsGone == true { throw CancellationError() }
        return try await body()
    }

    /// Runs `body`, failing with 504 when it takes longer than the request timeout, and stopping it when the
    /// client of `connection` leaves (then 499, which no client sees: it is for the logs and metrics).
    ///
    /// `body` runs in a task of its own, which `timer` cancels at the deadline or at its first tick after the
    /// client left; the request ends then, without waiting for `body` to notice. (Racing `body` against
    /// `Task.sleep` in a task group costs two more tasks per request, and a cancelled `Task.sleep` keeps its task
    /// and timer until the deadline: memory that grows with the request rate times the timeout.) Cancelled work
    /// stops where it next checks: a wait for an answer slot, the upload gate or the write lock, a model call, an
    /// embedding batch, or the commit of a document; it keeps its slot until then, as it still uses it.
    func withRequestTimeout<T: Sendable>(
        connection: ConnectionWatch? = nil, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let timeout = configuration.requestTimeout
        let outcome = Outcome<T>()
        let metrics = httpMetrics
        @Sendable func abandon() {
            if outcome.resolve(.failure(APIError.clientClosedRequest)) { metrics.abandoned.increment() }
        }
        let work = Task {
            do {
                outcome.resolve(.success(try await body()))
            } catch {
                // A body that failed because its client left (a request body cut off) ended for that reason.
                if connection?.clientIsGone == true { abandon() } else { outcome.resolve(.failure(error)) }
            }
        }
        var abandonedIf: (@Sendable () -> Bool)? = nil
        if let connection { abandonedIf = { connection.clientIsGone } }
        let deadline = timer.schedule(after: timeout, abandonedIf: abandonedIf) { reason in
            work.cancel()
            switch reason {
            case .deadline:
                outcome.resolve(.failure(APIError(.gatewayTimeout, code: "timeout", "the request took longer than \(timeout) (RAG_REQUEST_TIMEOUT)")))
            case .abandoned:
                abandon()
            }
        }
        defer { timer.cancel(deadline) }
        return try await withTaskCancellationHandler { try await outcome.value() } onCancel: { work.cancel() }
    }
}

/// The first result of a request's work or its timer; later ones are dropped.
final class Outcome<T: Sendable>: Sendable {
    private enum State {
        case pending(CheckedContinuation<T, any Error>?)
        case resolved(Result<T, any Error>)
        case delivered
    }

    private let state = Mutex<State>(.pending(nil))

    /// Records `result` unless one was recorded first, and hands it to a waiting ``value()``. Returns whether it
    /// was the first.
    @discardableResult
    func resolve(_ result: Result<T, any Error>) -> Bool {
        let waiter: (Bool, CheckedContinuation<T, any Error>?) = state.withLock { state in
            guard case .pending(let waiter) = state else { return (false, nil) }
            if let waiter {
                state = .delivered
                return (true, waiter)
            }
            state = .resolved(result)
            return (true, nil)
        }
        waiter.1?.resume(with: result)
        return waiter.0
    }

    /// The first result, once there is one.
    func value() async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<T, any Error>? = state.withLock { state in
                switch state {
                case .resolved(let result):
                    state = .delivered
                    return result
                case .pending:
                    state = .pending(continuation)
                    return nil
                case .delivered:
                    return .failure(CancellationError())
                }
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}

/// JSON responses.
enum JSON {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try encoder.encode(value)
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The same bytes as `response(_:status:)`, written by `JSONWriter`.
    static func response(_ value: some JSONWritable, status: HTTPResponse.Status = .ok) throws -> Response {
        var json = JSONWriter()
        do {
            try value.write(to: &json)
        } catch {
            _ = try encoder.encode(value)  // throws JSONEncoder's own error
            throw error
        }
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"], body: ResponseBody(byteBuffer: json.buffer))
    }

    static let decoder = JSONDecoder()

    /// Decodes a JSON request body (bounded by the upload limit), with a 400 that says what is wrong.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, context: ServerContext) async throws -> T {
        let buffer = try await request.body.collect(upTo: context.maxUploadSize)
        do {
            return try decoder.decode(T.self, from: Data(buffer: buffer))
        } catch let DecodingError.keyNotFound(key, _) {
            throw APIError(.badRequest, code: "invalid_request", "the JSON body lacks the field '\(key.stringValue)'")
        } catch let DecodingError.typeMismatch(_, context) {
            throw APIError(.badRequest, code: "invalid_request", "the field '\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type")
        } catch {
            throw APIError(.badRequest, code: "invalid_request", "the body is not valid JSON for this endpoint")
        }
    }
}

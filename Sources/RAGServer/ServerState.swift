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
    public let limiter: RateLimiter
    public let answers: AnswerGate
    /// Fires the request timeouts, within a twentieth of the timeout (between 10 ms and 1 s) after it.
    public let timer: RequestTimer
    /// `/metrics`'s text, rendered at most once per ``ServerConfiguration/metricsCacheInterval``.
    public let metricsText: MetricsRenderCache
    public let logger: Logger

    public init(configuration: ServerConfiguration, engine: Engine, logger: Logger = Logger(label: "rag.server")) {
        self.configuration = configuration
        self.engine = engine
        self.httpMetrics = HTTPMetrics(
            metrics: engine.metrics, clients: configuration.apiKeys.isEmpty ? ["anonymous"] : Array(Set(configuration.apiKeys.values)).sorted())
        self.limiter = RateLimiter(perMinute: configuration.rateLimitPerMinute, burst: configuration.rateLimitBurst)
        self.answers = AnswerGate(slots: configuration.maxConcurrentAnswers, queue: configuration.answerQueueLength)
        self.timer = RequestTimer(tick: min(.seconds(1), max(.milliseconds(10), configuration.requestTimeout / 20)))
        self.metricsText = MetricsRenderCache(interval: configuration.metricsCacheInterval) { [metrics = engine.metrics] in metrics.render() }
        self.logger = logger
    }

    /// Runs an answer in a slot of the answer gate, or refuses it with 503 when every slot and queue place is
    /// taken.
    func withAnswerSlot<T>(_ body: () async throws -> T) async throws -> T {
        do {
            try await answers.acquire()
        } catch is AnswerGate.Full {
            httpMetrics.queueRejected.increment()
            throw APIError(
                .serviceUnavailable, code: "overloaded",
                "the server is answering as many questions as it can (\(answers.slots) at once, \(answers.queue) waiting); retry shortly",
                headers: [.retryAfter: "2"])
        }
        defer { answers.release() }
        return try await body()
    }

    /// Runs `body`, failing with 504 when it takes longer than the request timeout.
    ///
    /// `body` runs in a task of its own, which `timer` cancels at the deadline. (Racing `body` against `Task.sleep`
    /// in a task group costs two more tasks per request, and a cancelled `Task.sleep` keeps its task and timer
    /// until the deadline: memory that grows with the request rate times the timeout.)
    func withRequestTimeout<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let timeout = configuration.requestTimeout
        let work = Task { try await body() }
        let timedOut = TimeoutFlag()
        let deadline = timer.schedule(after: timeout) {
            timedOut.set()
            work.cancel()
        }
        let result = await withTaskCancellationHandler { await work.result } onCancel: { work.cancel() }
        timer.cancel(deadline)
        if timedOut.isSet {
            throw APIError(.gatewayTimeout, code: "timeout", "the request took longer than \(timeout) (RAG_REQUEST_TIMEOUT)")
        }
        return try result.get()
    }
}

/// Set by a request's timer when it fires.
final class TimeoutFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
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

import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOFoundationEssentialsCompat
import Prometheus
import RAGCore

/// What every route needs: the engine, the limits, and the metrics.
public final class ServerState: Sendable {
    public let configuration: ServerConfiguration
    public let engine: Engine
    public let httpMetrics: HTTPMetrics
    public let limiter: RateLimiter
    public let answers: AnswerGate
    public let logger: Logger

    public init(configuration: ServerConfiguration, engine: Engine, logger: Logger = Logger(label: "rag.server")) {
        self.configuration = configuration
        self.engine = engine
        self.httpMetrics = HTTPMetrics(
            metrics: engine.metrics, clients: configuration.apiKeys.isEmpty ? ["anonymous"] : Array(Set(configuration.apiKeys.values)).sorted())
        self.limiter = RateLimiter(perMinute: configuration.rateLimitPerMinute, burst: configuration.rateLimitBurst)
        self.answers = AnswerGate(slots: configuration.maxConcurrentAnswers, queue: configuration.answerQueueLength)
        self.logger = logger
    }

    /// Runs an answer in a slot of the answer gate, or refuses it with 503 when every slot and queue place is
    /// taken.
    func withAnswerSlot<T>(_ body: () async throws -> T) async throws -> T {
        do {
            try await answers.acquire()
        } catch {
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
    func withRequestTimeout<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let timeout = configuration.requestTimeout
        return try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw APIError(.gatewayTimeout, code: "timeout", "the request took longer than \(timeout) (RAG_REQUEST_TIMEOUT)")
            }
            defer { group.cancelAll() }
            return try await group.next()!
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

    /// Decodes a JSON request body (bounded by the upload limit), with a 400 that says what is wrong.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, context: ServerContext) async throws -> T {
        let buffer = try await request.body.collect(upTo: context.maxUploadSize)
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer: buffer))
        } catch let DecodingError.keyNotFound(key, _) {
            throw APIError(.badRequest, code: "invalid_request", "the JSON body lacks the field '\(key.stringValue)'")
        } catch let DecodingError.typeMismatch(_, context) {
            throw APIError(.badRequest, code: "invalid_request", "the field '\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type")
        } catch {
            throw APIError(.badRequest, code: "invalid_request", "the body is not valid JSON for this endpoint")
        }
    }
}

import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOFoundationEssentialsCompat
import Prometheus
import RAGCore
import Synchronization

/// Stamps each request with an id (the client's `X-Request-ID` when it is sane, else a new one), puts it in the
/// logger's metadata and the response headers, sets the body limit, and records the HTTP metrics.
struct RequestMiddleware: RouterMiddleware {
    typealias Context = ServerContext
    let metrics: HTTPMetrics
    let uploadLimit: Int

    func handle(_ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response) async throws -> Response {
        var context = context
        let supplied = request.headers[.requestID] ?? ""
        context.requestID = supplied.count <= 128 && !supplied.isEmpty && supplied.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
            ? supplied : Self.newRequestID()
        // One id per log line: ours (which may be the client's) replaces the one Hummingbird made up.
        context.logger[metadataKey: "hb.request.id"] = nil
        context.logger[metadataKey: "request.id"] = .string(context.requestID)
        context.uploadLimit = uploadLimit
        let start = ContinuousClock.now
        metrics.started()
        let method = request.method.rawValue
        do {
            var response = try await next(request, context)
            response.headers[.requestID] = context.requestID
            let route = context.endpointPath ?? "unmatched"
            let status = response.status.code
            // Streamed bodies are measured to their end.
            let metrics = self.metrics
            let body = response.body
            let logger = context.logger
            let client = context.clientName
            response.body = ResponseBody(contentLength: body.contentLength) { writer in
                defer {
                    let seconds = Self.seconds(since: start)
                    metrics.finished()
                    metrics.record(route: route, method: method, status: status, seconds: seconds)
                    Self.logAccess(logger, method: method, route: route, status: status, seconds: seconds, client: client)
                }
                try await body.write(writer)
            }
            return response
        } catch {
            // A failure once the client has left (its body cut off, say) is the client's leaving, not a server error.
            let apiError = context.connection?.clientIsGone == true && !(error is APIError) ? .clientClosedRequest : APIError.from(error)
            let seconds = Self.seconds(since: start)
            metrics.finished()
            metrics.record(route: context.endpointPath ?? "unmatched", method: method, status: apiError.status.code, seconds: seconds)
            Self.logAccess(context.logger, method: method, route: context.endpointPath ?? "unmatched", status: apiError.status.code, seconds: seconds, client: context.clientName)
            if apiError.status.code >= 500 {
                var metadata: Logger.Metadata = ["error.code": .string(apiError.code), "error.message": .string(apiError.message)]
                if let detail = apiError.logDetail { metadata["error.detail"] = .string(detail) }
                context.logger.error("request failed", metadata: metadata)
            }
            var response = try apiError.response(from: request, context: context)
            response.headers[.requestID] = context.requestID
            return response
        }
    }

    /// One access-log line per request (the logger carries `request.id`); never headers, bodies or addresses.
    static func logAccess(_ logger: Logger, method: String, route: String, status: Int, seconds: Double, client: String) {
        logger.info("request", metadata: [
            "http.method": .string(method), "http.route": .string(route), "http.status": .stringConvertible(status),
            "http.duration_ms": .string(milliseconds(seconds)), "client": .string(client),
        ])
    }

    /// `seconds` in milliseconds with two decimals ("51.70"), without `String(format:)`'s cost on every request.
    static func milliseconds(_ seconds: Double) -> String {
        let hundredths = Int((max(0, seconds) * 100_000).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    /// A new request id: a version 4 UUID in lowercase. Its 122 random-looking bits are a counter and a random seed
    /// mixed by SplitMix64's finaliser (a bijection), so ids never repeat within a process and almost surely not
    /// across replicas, without asking the kernel for randomness on every request as `UUID()` does.
    /// Not a secret: anyone may send their own `X-Request-ID`.
    static func newRequestID() -> String {
        let count = requestCounter.add(1, ordering: .relaxed).newValue
        var words = (mix(requestSeed.0 &+ count), mix(requestSeed.1 &+ count))
        words.0 = (words.0 & ~0xF000) | 0x4000  // version 4 (the 13th hex digit)
        words.1 = (words.1 & ~(0xC << 60)) | (0x8 << 60)  // variant 10xx (the 17th hex digit)
        return withUnsafeBytes(of: (words.0.bigEndian, words.1.bigEndian)) { bytes in
            String(unsafeUninitializedCapacity: 36) { out in
                let hex: StaticString = "0123456789abcdef"
                var position = 0
                for (index, byte) in bytes.enumerated() {
                    if index == 4 || index == 6 || index == 8 || index == 10 {
                        out[position] = UInt8(ascii: "-")
                        position += 1
                    }
                    out[position] = hex.utf8Start[Int(byte >> 4)]
                    out[position + 1] = hex.utf8Start[Int(byte & 0xF)]
                    position += 2
                }
                return position
            }
        }
    }

    private static let requestCounter = Atomic<UInt64>(0)
    private static let requestSeed = (UInt64.random(in: .min ... .max), UInt64.random(in: .min ... .max))

    /// SplitMix64's output function: a bijection on 64 bits that spreads every input bit over the output.
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return elapsed.seconds
    }
}

/// Requires `Authorization: Bearer KEY` when API keys are configured, and names the client; then applies the
/// client's rate limit. Keys are compared in constant time and never logged.
///
/// A client address that presented wrong or missing keys ``ServerConfiguration/authFailuresPerMinute`` times is
/// refused with 429 before its key is even checked, until its bucket refills: guessing keys costs a minute per
/// few guesses, and a right guess is refused like a wrong one while throttled.
struct AccessMiddleware: RouterMiddleware {
    typealias Context = ServerContext
    /// Key → name.
    let keys: [String: String]
    let limiter: SharedRateLimiter
    let authFailures: SharedRateLimiter
    let addresses: ClientAddressResolver
    let metrics: HTTPMetrics

    func handle(_ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response) async throws -> Response {
        var context = context
        context.clientAddress = addresses.client(peer: context.remoteAddress, headers: request.headers)
        if !keys.isEmpty {
            let bucket = "address:\(context.clientAddress)"
            if let wait = await authFailures.wait(bucket) {
                metrics.rateLimited("unauthenticated")
                throw Self.tooManyRequests(
                    "too many requests with a wrong or missing API key from this address: at most \(authFailures.perMinute) per minute", wait: wait)
            }
            guard let name = authenticate(request.headers[.authorization]) else {
                metrics.authFailures.increment()
                _ = await authFailures.acquire(bucket)
                throw APIError(
                    .unauthorized, code: "unauthorized", "a valid API key is required: send Authorization: Bearer <key>",
                    headers: [.wwwAuthenticate: "Bearer"])
            }
            context.clientName = name
        }
        metrics.clientRequest(context.clientName)
        if limiter.perMinute > 0, let wait = await limiter.acquire(keys.isEmpty ? "address:\(context.clientAddress)" : "key:\(context.clientName)") {
            metrics.rateLimited(context.clientName)
            throw Self.tooManyRequests("too many requests: at most \(limiter.perMinute) per minute", wait: wait)
        }
        return try await next(request, context)
    }

    static func tooManyRequests(_ message: String, wait: Duration) -> APIError {
        let seconds = max(1, Int(wait.seconds.rounded(.up)))
        return APIError(.tooManyRequests, code: "rate_limited", "\(message); retry in \(seconds) s", headers: [.retryAfter: String(seconds)])
    }

    func authenticate(_ header: String?) -> String? {
        guard let header, header.lowercased().hasPrefix("bearer ") else { return nil }
        let presented = Array(header.dropFirst(7).trimmingCharacters(in: .whitespaces).utf8)
        var match: String? = nil
        for (key, name) in keys where Self.constantTimeEqual(Array(key.utf8), presented) { match = name }
        return match
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}

/// The methods each route template answers (`/v1/documents/:id` → DELETE), filled as the router's routes are added.
final class RouteMethods: Sendable {
    private let routes = Mutex<[(segments: [Substring], methods: [HTTPRequest.Method])]>([])

    func add(_ method: HTTPRequest.Method, _ path: String) {
        let segments = path.split(separator: "/")
        routes.withLock { routes in
            if let index = routes.firstIndex(where: { $0.segments == segments }) {
                routes[index].methods.append(method)
            } else {
                routes.append((segments, [method]))
            }
        }
    }

    /// The methods of the route whose template matches `path` (`:name` segments match any one segment), or `nil`.
    func methods(for path: String) -> [HTTPRequest.Method]? {
        let segments = path.split(separator: "/")
        return routes.withLock { routes in
            routes.first { route in
                route.segments.count == segments.count
                    && zip(route.segments, segments).allSatisfy { template, segment in template.hasPrefix(":") || template == segment }
            }?.methods
        }
    }
}

/// Answers a method that a known path does not take with 405 and `Allow`, not 404: the path exists.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    let routes: RouteMethods

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            guard let methods = routes.methods(for: request.uri.path), !methods.contains(request.method) else { throw error }
            let allowed = methods.map(\.rawValue).joined(separator: ", ")
            throw APIError(
                .methodNotAllowed, code: "method_not_allowed", "\(request.uri.path) takes \(allowed), not \(request.method.rawValue)",
                headers: [.allow: allowed])
        }
    }
}

extension HTTPField.Name {
    static let requestID = Self("X-Request-ID")!
}

/// Why a language model or embeddings call failed. The message says what to do and never contains the API key.
public struct LLMError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        public var description: String { name }
        /// 401 or 403: the API key is missing, wrong, or lacks access.
        public static let authentication = Code(name: "authentication")
        /// 429: too many requests or tokens; see `retryAfter`.
        public static let rateLimited = Code(name: "rate_limited")
        /// A timeout fired; see `timeout`.
        public static let timeout = Code(name: "timeout")
        /// 5xx from the server.
        public static let server = Code(name: "server")
        /// The prompt is longer than the model's context window.
        public static let contextLengthExceeded = Code(name: "context_length_exceeded")
        /// The server answered with something that is not the expected JSON or event stream.
        public static let malformedResponse = Code(name: "malformed_response")
        /// The request was cancelled by the caller.
        public static let cancelled = Code(name: "cancelled")
        /// The server could not be reached (DNS, refused, TLS, reset).
        public static let connection = Code(name: "connection")
        /// Another 4xx: the request was refused as invalid (unknown model, bad parameter).
        public static let invalidRequest = Code(name: "invalid_request")
        /// The configuration is unusable (no base URL, unreadable key file).
        public static let configuration = Code(name: "configuration")
        /// The response was larger than the configured limit.
        public static let responseTooLarge = Code(name: "response_too_large")
    }

    /// Which timeout fired.
    public enum Timeout: String, Sendable, Hashable {
        case connect, total, idle
    }

    public var code: Code
    public var message: String
    /// The HTTP status, when the server answered.
    public var status: Int?
    /// For `rateLimited`: how long the server asked us to wait.
    public var retryAfter: Duration?
    /// For `timeout`: which one.
    public var timeout: Timeout?

    public init(_ code: Code, _ message: String, status: Int? = nil, retryAfter: Duration? = nil, timeout: Timeout? = nil) {
        self.code = code
        self.message = message
        self.status = status
        self.retryAfter = retryAfter
        self.timeout = timeout
    }

    public var description: String { message }

    /// Whether the failure is transient, so that a retry may succeed.
    public var isRetryable: Bool {
        if let status { return RetryPolicy.isRetryable(status: status) }
        // A slow answer (total or idle timeout) is not retried: it would only double the wait.
        return code == .connection || (code == .timeout && timeout == .connect)
    }
}

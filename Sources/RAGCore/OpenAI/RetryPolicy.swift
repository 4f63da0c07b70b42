import Foundation

/// When and how often failed requests are retried.
///
/// Only transient failures are retried: connection errors and HTTP 408, 429, 500, 502, 503 and 504. A stream is
/// never retried once text has been handed to the caller.
public struct RetryPolicy: Sendable, Hashable {
    /// Most attempts in all, the first one included. Default 4.
    public var maxAttempts: Int
    /// The delay before the first retry. Default 0.5 s.
    public var initialBackoff: Duration
    /// The largest delay between attempts (also caps `Retry-After`). Default 20 s.
    public var maxBackoff: Duration
    /// Each retry's base delay is the previous one times this. Default 2.
    public var multiplier: Double
    /// Fraction of each delay that is random: the delay is drawn from `[base × (1 − jitter), base]`. Default 0.5.
    public var jitter: Double
    /// No retry starts after this much time since the first attempt. Default 60 s.
    public var totalDeadline: Duration

    public init(
        maxAttempts: Int = 4, initialBackoff: Duration = .milliseconds(500), maxBackoff: Duration = .seconds(20),
        multiplier: Double = 2, jitter: Double = 0.5, totalDeadline: Duration = .seconds(60)
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.multiplier = max(1, multiplier)
        self.jitter = min(max(0, jitter), 1)
        self.totalDeadline = totalDeadline
    }

    /// No retries at all.
    public static let none = RetryPolicy(maxAttempts: 1)

    /// The delay before retry number `retry` (1 for the first retry).
    ///
    /// The base delay is `initialBackoff × multiplier^(retry − 1)`, capped at `maxBackoff`; a random fraction
    /// `jitter` of it is taken off, using `random` (a number in `0..<1`), so that many clients do not retry in
    /// step. When the server sent `Retry-After`, that is the delay instead (capped at `maxBackoff`): the server
    /// knows best when it will take requests again.
    public func delay(beforeRetry retry: Int, retryAfter: Duration? = nil, random: Double) -> Duration {
        if let retryAfter { return min(max(retryAfter, .zero), maxBackoff) }
        let exponent = Double(max(0, retry - 1))
        let base = min(initialBackoff.seconds * pow(multiplier, exponent), maxBackoff.seconds)
        let seconds = base * (1 - jitter * min(max(random, 0), 1))
        return .nanoseconds(Int64((seconds * 1e9).rounded()))
    }

    /// Whether an HTTP status is worth retrying.
    public static func isRetryable(status: Int) -> Bool { [408, 429, 500, 502, 503, 504].contains(status) }
}

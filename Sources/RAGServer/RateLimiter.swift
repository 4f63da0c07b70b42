import RAGCore
import Synchronization

/// Per-client token buckets: each client may make `burst` requests at once, refilled at `perMinute`.
public final class RateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    public let perMinute: Int
    public let burst: Int
    /// Buckets kept at most; the least recently used are dropped beyond it (bounded memory under many clients).
    public let maxClients: Int
    private let buckets = Mutex<[String: Bucket]>([:])

    public init(perMinute: Int, burst: Int, maxClients: Int = 10_000) {
        self.perMinute = perMinute
        self.burst = max(1, burst)
        self.maxClients = maxClients
    }

    /// How long until `client` has a token, or `nil` when it has one now; takes nothing.
    public func wait(_ client: String, now: ContinuousClock.Instant = .now) -> Duration? {
        guard perMinute > 0 else { return nil }
        let rate = Double(perMinute) / 60
        return buckets.withLock { buckets in
            guard let bucket = buckets[client] else { return nil }
            let tokens = min(Double(burst), bucket.tokens + (now - bucket.updated).seconds * rate)
            return tokens >= 1 ? nil : .milliseconds(Int64(((1 - tokens) / rate * 1000).rounded(.up)))
        }
    }

    /// Takes one token for `client`; returns `nil` when allowed, else how long until a token is available.
    public func acquire(_ client: String, now: ContinuousClock.Instant = .now) -> Duration? {
        guard perMinute > 0 else { return nil }
        let rate = Double(perMinute) / 60  // tokens per second
        return buckets.withLock { buckets in
            var bucket = buckets[client] ?? Bucket(tokens: Double(burst), updated: now)
            let elapsed = now - bucket.updated
            let seconds = elapsed.seconds
            bucket.tokens = min(Double(burst), bucket.tokens + seconds * rate)
            bucket.updated = now
            defer {
                if buckets.count >= maxClients && buckets[client] == nil {
                    if let oldest = buckets.min(by: { $0.value.updated < $1.value.updated })?.key { buckets[oldest] = nil }
                }
                buckets[client] = bucket
            }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return nil
            }
            return .milliseconds(Int64(((1 - bucket.tokens) / rate * 1000).rounded(.up)))
        }
    }
}

/// Bounds requests of one kind in progress (answers, uploads): `slots` at once, `queue` more waiting; beyond that,
/// callers are refused at once.
/// A waiter whose task is cancelled (its client went away) leaves the queue at once and never runs.
public final class RequestGate: Sendable {
    public let slots: Int
    public let queue: Int
    private let semaphore: AsyncSemaphore

    public init(slots: Int, queue: Int) {
        self.slots = max(1, slots)
        self.queue = max(0, queue)
        self.semaphore = AsyncSemaphore(permits: self.slots, maxWaiters: self.queue)
    }

    /// The refusal when every slot and queue place is taken.
    public struct Full: Error {}

    /// Waits for a slot. Call `release()` when done.
    ///
    /// - Throws: `Full` at once when the queue is full; `CancellationError` when the task is cancelled first.
    public func acquire() async throws {
        do {
            try await semaphore.acquire()
        } catch is AsyncSemaphore.Full {
            throw Full()
        }
    }

    /// Frees a slot, handing it to the longest waiter.
    public func release() { semaphore.release() }

    /// Requests holding a slot now.
    public var running: Int { semaphore.held }

    /// Requests waiting for a slot now.
    public var waiting: Int { semaphore.waiting }
}

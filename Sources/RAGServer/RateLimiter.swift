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

    /// Takes one token for `client`; returns `nil` when allowed, else how long until a token is available.
    public func acquire(_ client: String, now: ContinuousClock.Instant = .now) -> Duration? {
        guard perMinute > 0 else { return nil }
        let rate = Double(perMinute) / 60  // tokens per second
        return buckets.withLock { buckets in
            var bucket = buckets[client] ?? Bucket(tokens: Double(burst), updated: now)
            let elapsed = now - bucket.updated
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
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

/// Bounds answers in progress: `slots` at once, `queue` more waiting; beyond that, callers are refused at once.
public final class AnswerGate: Sendable {
    private struct State {
        var running = 0
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    public let slots: Int
    public let queue: Int
    private let state = Mutex(State())

    public init(slots: Int, queue: Int) {
        self.slots = max(1, slots)
        self.queue = max(0, queue)
    }

    /// The refusal when every slot and queue place is taken.
    public struct Full: Error {}

    /// Waits for a slot (or throws `Full` at once when the queue is full). Call `release()` when done.
    public func acquire() async throws {
        // A free slot is taken without suspending (waiters exist only while every slot is taken).
        let taken = state.withLock { state in
            guard state.running < slots else { return false }
            state.running += 1
            return true
        }
        if taken { return }
        enum Decision { case run, wait, refuse }
        var decision = Decision.refuse
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            decision = state.withLock { state in
                if state.running < slots {
                    state.running += 1
                    return .run
                }
                if state.waiting.count < queue {
                    state.waiting.append(continuation)
                    return .wait
                }
                return .refuse
            }
            if decision != .wait { continuation.resume() }
        }
        if decision == .refuse { throw Full() }
    }

    /// Frees a slot, handing it to the longest waiter.
    public func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiting.isEmpty {
                state.running -= 1
                return nil
            }
            return state.waiting.removeFirst()  // the slot passes on; `running` stays
        }
        next?.resume()
    }

    /// Answers in progress now.
    public var running: Int { state.withLock { $0.running } }
}

import Prometheus
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

/// A ``RateLimiter`` whose buckets live in Redis, shared by every replica, so that a client's limit holds for the
/// whole deployment; while Redis is unavailable (down, slow past `RAG_REDIS_TIMEOUT`), this replica's own buckets
/// decide, and `rag_rate_limit_decisions_total{store="local"}` counts it.
///
/// Each decision is one `EVALSHA` (one round trip) of ``script``: an atomic token bucket keyed by client, timed by the Redis
/// server's clock (so replicas' clocks do not matter), that expires once it would be full again. The local bucket is
/// charged too, so that a fallback starts from what this replica saw.
public final class SharedRateLimiter: Sendable {
    public let local: RateLimiter
    let redis: RedisClient?
    /// The key namespace: `rl:<name>:<client>` under the Redis key prefix.
    let name: String
    let metrics: RAGMetrics?

    public init(local: RateLimiter, redis: RedisClient?, name: String, metrics: RAGMetrics? = nil) {
        self.local = local
        self.redis = redis
        self.name = name
        self.metrics = metrics
        if redis != nil, let metrics {
            for store in ["redis", "local"] { metrics.rateLimitDecisions(store: store).increment(by: Int64(0)) }
        }
    }

    public var perMinute: Int { local.perMinute }

    /// Takes one token for `client`; `nil` when allowed, else how long until a token is available.
    public func acquire(_ client: String) async -> Duration? {
        guard local.perMinute > 0 else { return nil }
        if let wait = await shared(client, take: true) {
            _ = local.acquire(client)
            return wait == 0 ? nil : .milliseconds(wait)
        }
        return local.acquire(client)
    }

    /// How long until `client` has a token, or `nil` when it has one now; takes nothing.
    public func wait(_ client: String) async -> Duration? {
        guard local.perMinute > 0 else { return nil }
        if let wait = await shared(client, take: false) {
            return wait == 0 ? nil : .milliseconds(wait)
        }
        return local.wait(client)
    }

    /// Redis's decision (milliseconds to wait, 0 when allowed), or `nil` when Redis could not decide.
    private func shared(_ client: String, take: Bool) async -> Int64? {
        guard let redis else { return nil }
        do {
            let reply = try await redis.evaluate(
                Self.script, keys: [redis.configuration.keyPrefix + "rl:\(name):" + client],
                arguments: [String(local.perMinute), String(local.burst), take ? "1" : "0"])
            guard case .integer(let milliseconds) = reply, milliseconds >= 0 else {
                throw RedisError(.protocolViolation, "the rate-limit script answered \(reply)")
            }
            metrics?.rateLimitDecisions(store: "redis").increment()
            return milliseconds
        } catch {
            metrics?.redisErrors(operation: "rate_limit").increment()
            metrics?.rateLimitDecisions(store: "local").increment()
            return nil
        }
    }

    /// The token bucket: `KEYS[1]` the bucket (a string, `tokens at`: the tokens left and when, in milliseconds of
    /// the server's clock), `ARGV` the rate per minute, the burst and the cost (1 takes a token, 0 only looks).
    /// Returns 0 when a token is (or was) there, else the milliseconds until one is. Three calls (TIME, GET, SET with
    /// its expiry: once the bucket would be full again it is not needed).
    static let script = RedisScript("""
        local clock = redis.call('TIME')
        local now = clock[1] * 1000 + math.floor(clock[2] / 1000)
        local per_ms = ARGV[1] / 60000
        local burst = tonumber(ARGV[2])
        local tokens = burst
        local state = redis.call('GET', KEYS[1])
        if state then
          local left, at = string.match(state, '^(%S+) (%S+)$')
          if left then tokens = math.min(burst, tonumber(left) + math.max(0, now - tonumber(at)) * per_ms) end
        end
        local wait = 0
        if tokens >= 1 then
          tokens = tokens - ARGV[3]
        else
          wait = math.ceil((1 - tokens) / per_ms)
        end
        if ARGV[3] ~= '0' then
          redis.call('SET', KEYS[1], tokens .. ' ' .. now, 'PX', math.ceil((burst - tokens) / per_ms) + 1000)
        end
        return wait
        """)
}

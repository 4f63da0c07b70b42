import Foundation
import Prometheus
import Synchronization

/// A cache the engine shares with other processes (Redis in `rag-server`): question embeddings, retrieval results
/// and whole answers to standalone questions, under keys that name everything the value depends on (see
/// `Engine+Cache.swift`), so that it never serves an answer for another collection version or configuration.
///
/// Both calls are best effort and must never throw: a cache that is down, slow or full is a miss (`error`), and the
/// engine goes on without it. Implementations bound their own waiting.
public protocol ResponseCache: Sendable {
    /// The value stored under `key`, `.miss`, or `.error` when the cache could not be asked.
    func value(for key: String) async -> ResponseCacheLookup
    /// Stores `value` under `key` for `ttl`; returns whether it was stored.
    @discardableResult
    func store(_ value: [UInt8], for key: String, ttl: Duration) async -> Bool
}

/// What a ``ResponseCache`` lookup found.
public enum ResponseCacheLookup: Sendable, Hashable {
    case hit([UInt8])
    case miss
    /// The cache could not be asked (down, timed out); the engine answers without it.
    case error
}

/// What the engine caches: a layer per step of an answer.
public enum ResponseCacheLayer: String, Sendable, CaseIterable {
    /// Whole answers to questions without history.
    case answer
    /// The hits of one retrieval (query, options, collection version).
    case retrieval
    /// A query's embedding (query and embedder).
    case embedding
}

/// The `outcome` label of `rag_cache_requests_total`.
public enum ResponseCacheOutcome: String, Sendable, CaseIterable {
    case hit, miss, error, skipped
}

/// Whether one request uses the response cache.
public enum CacheUse: Sendable, Hashable {
    /// Looks up every layer and stores what it computes (the default).
    case use
    /// Stores what it computes without looking up the whole answer (the caller already did), still using the
    /// embedding and retrieval layers.
    case store
    /// Neither looks up nor stores anything.
    case bypass
}

/// How the engine uses its ``ResponseCache``: on or off, how long entries live, and the largest entry.
public struct CacheOptions: Sendable, Hashable {
    /// Whether the cache is used at all (with one configured).
    public var isEnabled: Bool
    /// How long whole answers and retrieval results live. Their keys name the collection version, so a change to
    /// the collection never serves an old answer; the TTL only bounds how long unused entries take space.
    public var ttl: Duration
    /// How long query embeddings live (they depend only on the query and the embedder).
    public var embeddingTTL: Duration
    /// The largest value stored; larger ones are not cached.
    public var maxEntryBytes: Int

    public init(isEnabled: Bool = true, ttl: Duration = .seconds(3_600), embeddingTTL: Duration = .seconds(86_400), maxEntryBytes: Int = 1 << 20) {
        self.isEnabled = isEnabled
        self.ttl = ttl
        self.embeddingTTL = embeddingTTL
        self.maxEntryBytes = maxEntryBytes
    }
}

/// A ``ResponseCache`` in Redis: `GET` and `SET ... PX`, with the client's timeouts; failures are counted
/// (`rag_redis_errors_total{operation="cache_get"|"cache_set"}`) and are misses.
public struct RedisResponseCache: ResponseCache {
    public let client: RedisClient

    public init(client: RedisClient) {
        self.client = client
    }

    public func value(for key: String) async -> ResponseCacheLookup {
        do {
            guard let value = try await client.get(client.configuration.keyPrefix + key) else { return .miss }
            return .hit(value)
        } catch {
            client.metrics?.redisErrors(operation: "cache_get").increment()
            return .error
        }
    }

    @discardableResult
    public func store(_ value: [UInt8], for key: String, ttl: Duration) async -> Bool {
        do {
            try await client.set(client.configuration.keyPrefix + key, value, ttl: ttl)
            return true
        } catch {
            client.metrics?.redisErrors(operation: "cache_set").increment()
            return false
        }
    }
}

/// A ``ResponseCache`` in this process's memory, bounded by entry count (oldest dropped first), with TTLs: for
/// one process, and for tests. Its `failing` switch makes every call an error, as a Redis that is down would.
public final class MemoryResponseCache: ResponseCache {
    private struct Entry {
        var value: [UInt8]
        var expires: ContinuousClock.Instant
    }

    private let state = Mutex<(entries: [String: Entry], order: [String], lookups: Int, stores: Int)>(([:], [], 0, 0))
    private let failingFlag = Atomic<Bool>(false)
    public let maxEntries: Int

    public init(maxEntries: Int = 10_000) {
        self.maxEntries = maxEntries
    }

    /// While true, every lookup is an error and nothing is stored.
    public var failing: Bool {
        get { failingFlag.load(ordering: .relaxed) }
        set { failingFlag.store(newValue, ordering: .relaxed) }
    }

    /// Lookups and stores so far.
    public var calls: (lookups: Int, stores: Int) { state.withLock { ($0.lookups, $0.stores) } }

    /// The keys held now.
    public var keys: [String] { state.withLock { Array($0.entries.keys) } }

    public func value(for key: String) async -> ResponseCacheLookup {
        state.withLock { state in
            state.lookups += 1
            guard !failing else { return .error }
            guard let entry = state.entries[key], entry.expires > .now else { return .miss }
            return .hit(entry.value)
        }
    }

    @discardableResult
    public func store(_ value: [UInt8], for key: String, ttl: Duration) async -> Bool {
        state.withLock { state in
            state.stores += 1
            guard !failing else { return false }
            if state.entries.updateValue(Entry(value: value, expires: .now + ttl), forKey: key) == nil { state.order.append(key) }
            while state.entries.count > maxEntries, !state.order.isEmpty { state.entries[state.order.removeFirst()] = nil }
            return true
        }
    }
}

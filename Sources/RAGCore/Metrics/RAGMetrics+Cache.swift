import Prometheus

extension RAGMetrics {
    /// Buckets for one Redis command, in seconds (50 µs to 1 s): a loopback or in-cluster round trip is well
    /// under a millisecond.
    static let redisBuckets: [Double] = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]

    /// `rag_cache_requests_total{layer, outcome}`: response-cache lookups by layer (answer, retrieval, embedding) and
    /// outcome (hit, miss, error: Redis failed or sent what the engine cannot use; skipped: not looked up, because
    /// the request or a setting said so, or a question with history has no whole-answer entry).
    public func cacheLookups(layer: ResponseCacheLayer, outcome: ResponseCacheOutcome) -> Counter {
        cacheLookupCounters.get("\(layer.rawValue)/\(outcome.rawValue)") { _ in
            registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    metricName: "rag_cache_requests_total", unitName: "",
                    helpText: "Response-cache lookups by layer (answer, retrieval, embedding) and outcome (hit, miss, error, skipped)."),
                labels: [("layer", layer.rawValue), ("outcome", outcome.rawValue)])
        }
    }

    /// `rag_cache_bytes_total{direction}`: bytes read from (`read`) and written to (`written`) the response cache.
    public func cacheBytes(direction: String) -> Counter {
        cacheLookupCounters.get("bytes/\(direction)") { _ in
            registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    metricName: "rag_cache_bytes_total", unitName: "",
                    helpText: "Bytes read from and written to the response cache, by direction (read, written)."),
                labels: [("direction", direction)])
        }
    }

    /// `rag_redis_up`: 1 while this process has an open connection to Redis, else 0 (only with Redis configured).
    public var redisUp: Gauge {
        registry.makeGauge(
            descriptor: MetricNameDescriptor(
                metricName: "rag_redis_up", unitName: "",
                helpText: "Whether this process has an open connection to Redis: 1 yes, 0 no (answers go on without the cache; rate limits are local)."))
    }

    /// `rag_redis_errors_total{operation}`: failed Redis operations: cache_get, cache_set, rate_limit, connect.
    public func redisErrors(operation: String) -> Counter {
        redisErrorCounters.get(operation) { operation in
            registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    metricName: "rag_redis_errors_total", unitName: "",
                    helpText: "Failed Redis operations (unavailable, timed out, refused), by operation: cache_get, cache_set, rate_limit, connect."),
                labels: [("operation", operation)])
        }
    }

    /// `rag_redis_command_duration_seconds{command}`: one Redis command's round trip, by command (get, set, evalsha).
    public func redisCommandLatency(_ command: String) -> ValueHistogram {
        redisCommandLatencies.get(command) { command in
            registry.makeValueHistogram(
                descriptor: MetricNameDescriptor(
                    metricName: "rag_redis_command_duration_seconds", unitName: "",
                    helpText: "Round trip of one Redis command in seconds, by command."),
                labels: [("command", command)], buckets: Self.redisBuckets)
        }
    }

    /// Creates the cache's and Redis's series at zero, so that ratios and alerts see them before the first request.
    public func prepareCache() {
        for layer in ResponseCacheLayer.allCases {
            for outcome in ResponseCacheOutcome.allCases { cacheLookups(layer: layer, outcome: outcome).increment(by: Int64(0)) }
        }
        for direction in ["read", "written"] { cacheBytes(direction: direction).increment(by: Int64(0)) }
        for operation in ["cache_get", "cache_set", "rate_limit", "connect"] { redisErrors(operation: operation).increment(by: Int64(0)) }
    }
}

extension RAGMetrics {
    /// `rag_rate_limit_decisions_total{store}`: rate-limit decisions by where they were made: `redis` (the whole
    /// deployment's bucket) or `local` (this replica's own, while Redis is unavailable).
    public func rateLimitDecisions(store: String) -> Counter {
        cacheLookupCounters.get("rate-limit/\(store)") { _ in
            registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    metricName: "rag_rate_limit_decisions_total", unitName: "",
                    helpText: "Rate-limit decisions by where they were made: redis (shared by the replicas) or local (this replica's, while Redis is unavailable)."),
                labels: [("store", store)])
        }
    }
}

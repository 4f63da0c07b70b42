import Foundation
import RAGCore

/// The Redis settings: where it is, the client's bounds, and the response cache. Without `RAG_REDIS_URL` (or its
/// file) nothing here has any effect: no cache, and each replica's rate limits are its own.
extension ServerSettings {
    public static let redisURL = Setting<String?>(
        flag: "--redis-url", variable: "RAG_REDIS_URL", valueName: "url", default: nil, defaultText: "none",
        requirement: "redis://[[user]:password@]host[:port][/db]",
        help: "Redis shared by the replicas: the response cache and cluster-wide rate limits; none: neither",
        isSecret: true, format: { $0 ?? "" },
        parser: { text in (try? RedisConfiguration(url: text)) == nil ? nil : Optional(Optional(text)) })
    public static let redisURLFile = Setting<String?>(
        flag: nil, variable: "RAG_REDIS_URL_FILE", valueName: "path", default: nil, defaultText: "none",
        requirement: "a file path", help: "File holding the Redis URL (instead of RAG_REDIS_URL)", format: { $0 ?? "" },
        parser: { $0.isEmpty || $0.contains("\0") ? nil : Optional(Optional($0)) })
    public static let redisPasswordFile = Setting<String?>(
        flag: nil, variable: "RAG_REDIS_PASSWORD_FILE", valueName: "path", default: nil, defaultText: "none",
        requirement: "a file path", help: "File holding the Redis password (a mounted secret); overrides the URL's",
        format: { $0 ?? "" }, parser: { $0.isEmpty || $0.contains("\0") ? nil : Optional(Optional($0)) })
    public static let redisTimeout = Setting<Duration>.seconds(
        flag: "--redis-timeout", variable: "RAG_REDIS_TIMEOUT", default: RedisConfiguration().commandTimeout, in: 0...60,
        excludingZero: true, help: "Seconds one Redis command may take; then the request goes on without the cache")
    public static let redisConnectTimeout = Setting<Duration>.seconds(
        flag: "--redis-connect-timeout", variable: "RAG_REDIS_CONNECT_TIMEOUT", default: RedisConfiguration().connectTimeout,
        in: 0...300, excludingZero: true, help: "Seconds connecting to Redis may take (in the background, never in a request)")
    public static let redisConnections = Setting<Int>.integer(
        flag: "--redis-connections", variable: "RAG_REDIS_CONNECTIONS", default: RedisConfiguration().connections, in: 1...64,
        help: "Connections to Redis per replica (commands are pipelined on them)")
    public static let redisKeyPrefix = Setting<String>(
        flag: "--redis-key-prefix", variable: "RAG_REDIS_KEY_PREFIX", valueName: "prefix", default: RedisConfiguration().keyPrefix,
        requirement: "up to 64 printable ASCII characters without spaces",
        help: "Prefix of every Redis key this deployment writes (to share a Redis between deployments)",
        accepts: isKeyPrefix, format: { $0 }, parser: { isKeyPrefix($0) ? $0 : nil })
    public static let cache = Setting<Bool>.boolean(
        flag: "--cache", variable: "RAG_CACHE", default: CacheOptions().isEnabled,
        help: "Use the response cache in Redis (question embeddings, retrieval results, whole answers); off: Redis holds rate limits only")
    public static let cacheTTL = Setting<Duration>.seconds(
        flag: "--cache-ttl", variable: "RAG_CACHE_TTL", default: CacheOptions().ttl, in: 1...2_592_000,
        help: "Seconds a cached answer or retrieval lives (a collection change never serves an old one)")
    public static let cacheEmbeddingTTL = Setting<Duration>.seconds(
        flag: "--cache-embedding-ttl", variable: "RAG_CACHE_EMBEDDING_TTL", default: CacheOptions().embeddingTTL, in: 1...2_592_000,
        help: "Seconds a cached question embedding lives")
    public static let cacheMaxEntryBytes = Setting<Int>.integer(
        flag: "--cache-max-entry-bytes", variable: "RAG_CACHE_MAX_ENTRY_BYTES", default: CacheOptions().maxEntryBytes,
        in: 1024...(64 << 20), help: "Largest value the cache stores; larger answers are not cached")

    /// The Redis settings, in the order `--help` and the documentation list them.
    static let redisSettings: [SettingInfo] = [
        redisURL.info, redisURLFile.info, redisPasswordFile.info, redisTimeout.info, redisConnectTimeout.info, redisConnections.info,
        redisKeyPrefix.info, cache.info, cacheTTL.info, cacheEmbeddingTTL.info, cacheMaxEntryBytes.info,
    ]

    static func isKeyPrefix(_ text: String) -> Bool {
        text.utf8.count <= 64 && text.unicodeScalars.allSatisfy { $0.isASCII && $0.value > 0x20 && $0.value < 0x7F }
    }
}

extension ServerConfiguration {
    /// Reads the Redis settings: `--redis-url`, else `RAG_REDIS_URL`, else the file `RAG_REDIS_URL_FILE` names (a
    /// trailing newline ignored); the password from `RAG_REDIS_PASSWORD_FILE` when set; `nil` without a URL.
    ///
    /// - Throws: ``SettingError`` naming the setting: both the URL and its file, a file that cannot be read, a URL
    ///   that is not `redis://`, a password file without a URL.
    static func redisConfiguration(
        flags: [String: String], environment: [String: String], readFile: (String) throws -> String
    ) throws(SettingError) -> RedisConfiguration? {
        typealias S = ServerSettings
        func value<Value>(_ setting: Setting<Value>) throws(SettingError) -> Value {
            try setting.value(flag: setting.flag.flatMap { flags[$0] }, environment: environment)
        }
        func read(_ path: String, _ setting: Setting<String?>) throws(SettingError) -> String {
            let variable = setting.variable ?? ""
            let text: String
            do {
                text = try readFile(path)
            } catch {
                throw SettingError(variable: variable, "\(variable) names \(SettingError.quote(path)), which cannot be read")
            }
            var trimmed = Substring(text)
            while let last = trimmed.last, last == "\n" || last == "\r" { trimmed = trimmed.dropLast() }
            return String(trimmed)
        }
        let url = try value(S.redisURL)
        let file = try value(S.redisURLFile)
        let passwordFile = try value(S.redisPasswordFile)
        if url != nil, file != nil {
            throw SettingError(variable: S.redisURLFile.variable, "RAG_REDIS_URL (or --redis-url) and RAG_REDIS_URL_FILE are both set; set only one")
        }
        var text = url
        if text == nil, let file { text = try read(file, S.redisURLFile) }
        guard let text else {
            if passwordFile != nil {
                throw SettingError(variable: S.redisPasswordFile.variable, "RAG_REDIS_PASSWORD_FILE is set without a Redis URL (RAG_REDIS_URL)")
            }
            return nil
        }
        var redis: RedisConfiguration
        do {
            redis = try RedisConfiguration(url: text)
        } catch {
            let source = url == nil ? "the file named by RAG_REDIS_URL_FILE" : "RAG_REDIS_URL (--redis-url)"
            throw SettingError(
                flag: url == nil ? nil : S.redisURL.flag, variable: url == nil ? S.redisURLFile.variable : S.redisURL.variable,
                "\(source): \(error.message)")
        }
        if let passwordFile {
            let password = try read(passwordFile, S.redisPasswordFile)
            guard !password.isEmpty else {
                throw SettingError(variable: S.redisPasswordFile.variable, "the file named by RAG_REDIS_PASSWORD_FILE is empty")
            }
            redis.password = password
        }
        redis.commandTimeout = try value(S.redisTimeout)
        redis.connectTimeout = try value(S.redisConnectTimeout)
        redis.connections = try value(S.redisConnections)
        redis.keyPrefix = try value(S.redisKeyPrefix)
        return redis
    }

    /// Reads the response cache's settings.
    static func cacheOptions(flags: [String: String], environment: [String: String]) throws(SettingError) -> CacheOptions {
        typealias S = ServerSettings
        func value<Value>(_ setting: Setting<Value>) throws(SettingError) -> Value {
            try setting.value(flag: setting.flag.flatMap { flags[$0] }, environment: environment)
        }
        return CacheOptions(
            isEnabled: try value(S.cache), ttl: try value(S.cacheTTL), embeddingTTL: try value(S.cacheEmbeddingTTL),
            maxEntryBytes: try value(S.cacheMaxEntryBytes))
    }

    /// Checks the Redis and cache fields against their settings' ranges.
    func validateRedis() throws(ServerConfigurationError) {
        typealias S = ServerSettings
        try S.cacheTTL.check(cache.ttl)
        try S.cacheEmbeddingTTL.check(cache.embeddingTTL)
        try S.cacheMaxEntryBytes.check(cache.maxEntryBytes)
        guard let redis else { return }
        try S.redisTimeout.check(redis.commandTimeout)
        try S.redisConnectTimeout.check(redis.connectTimeout)
        try S.redisConnections.check(redis.connections)
        try S.redisKeyPrefix.check(redis.keyPrefix)
    }
}

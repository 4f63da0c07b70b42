import Foundation

/// Where a Redis server is and how the client talks to it: `redis://[[user]:password@]host[:port][/db]`, plus the
/// client's bounds.
///
/// ```swift
/// var redis = try RedisConfiguration(url: "redis://:secret@cache:6379/0")
/// redis.commandTimeout = .milliseconds(100)
/// let client = RedisClient(configuration: redis)
/// ```
public struct RedisConfiguration: Sendable, Hashable {
    public var host: String
    public var port: Int
    /// The database number (`SELECT`), 0 to 15 on a default server.
    public var database: Int
    /// The ACL user, when the URL names one (`redis://user:password@host`); `nil` for the default user.
    public var username: String?
    /// The password (`AUTH`); never logged.
    public var password: String?
    /// How long one command may take (its reply included) before the connection is dropped and the command fails.
    public var commandTimeout: Duration
    /// How long opening a TCP connection may take (its `AUTH` and `SELECT` then get ``commandTimeout`` each).
    public var connectTimeout: Duration
    /// Connections kept open; commands are pipelined on them, so a few serve many concurrent requests.
    public var connections: Int
    /// Prepended to every key this engine writes, so that several deployments can share one server.
    public var keyPrefix: String
    /// The longest string reply the client reads (a larger one is a protocol error, and the connection is dropped).
    public var maxReplyBytes: Int

    public init(
        host: String = "127.0.0.1", port: Int = 6379, database: Int = 0, username: String? = nil, password: String? = nil,
        commandTimeout: Duration = .milliseconds(250), connectTimeout: Duration = .seconds(2), connections: Int = 2,
        keyPrefix: String = "rag:", maxReplyBytes: Int = 16 << 20
    ) {
        self.host = host
        self.port = port
        self.database = database
        self.username = username
        self.password = password
        self.commandTimeout = commandTimeout
        self.connectTimeout = connectTimeout
        self.connections = connections
        self.keyPrefix = keyPrefix
        self.maxReplyBytes = maxReplyBytes
    }

    /// Reads `redis://[[user]:password@]host[:port][/db]` (user and password percent-encoded).
    ///
    /// - Throws: `RedisError` with code `configuration` for another scheme (`rediss://`: TLS is not supported; put
    ///   a TLS proxy such as stunnel beside the server), a missing host, a bad port or database, or a query.
    public init(url: String) throws(RedisError) {
        self.init()
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased() else {
            throw RedisError(.configuration, "'\(Self.redact(url))' is not a Redis URL: write redis://[:password@]host:port/db")
        }
        guard scheme == "redis" else {
            let hint = scheme == "rediss" ? " (TLS is not supported: reach a TLS Redis through a local TLS proxy)" : ""
            throw RedisError(.configuration, "the Redis URL's scheme is '\(scheme)', not redis\(hint)")
        }
        guard let host = components.host, !host.isEmpty else {
            throw RedisError(.configuration, "the Redis URL '\(Self.redact(url))' names no host")
        }
        guard components.query == nil, components.fragment == nil else {
            throw RedisError(.configuration, "the Redis URL takes no query or fragment: redis://[:password@]host:port/db")
        }
        self.host = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        if let port = components.port {
            guard (1...65_535).contains(port) else { throw RedisError(.configuration, "the Redis URL's port \(port) is not 1 to 65535") }
            self.port = port
        }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        if !path.isEmpty {
            guard let database = Int(path), (0...10_000).contains(database) else {
                throw RedisError(.configuration, "the Redis URL's path '/\(path)' is not a database number")
            }
            self.database = database
        }
        if let user = components.percentEncodedUser, !user.isEmpty { username = user.removingPercentEncoding ?? user }
        if let password = components.percentEncodedPassword { self.password = password.removingPercentEncoding ?? password }
    }

    /// The URL without its password, for logs and messages.
    public var redactedURL: String {
        let credentials = password == nil ? (username.map { "\($0)@" } ?? "") : "\(username ?? ""):***@"
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "redis://\(credentials)\(host):\(port)/\(database)"
    }

    /// `url` with anything between `://` and `@` replaced, for a message about a URL that could not be read.
    static func redact(_ url: String) -> String {
        guard let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].lastIndex(of: "@") else { return url }
        return url[..<scheme.upperBound] + "***" + url[at...]
    }
}

/// A failed Redis operation: a typed code, a message that never holds the password.
public struct RedisError: Error, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// A URL or setting the client cannot use.
        public static let configuration = Code("configuration")
        /// The server could not be reached (refused, reset, closed), or is being left alone after failures until its
        /// backoff ends.
        public static let unavailable = Code("unavailable")
        /// A command or connection took longer than its timeout.
        public static let timeout = Code("timeout")
        /// The server refused the password or user.
        public static let authentication = Code("authentication")
        /// The server answered with an error reply (`-ERR ...`).
        public static let server = Code("server")
        /// The server's bytes were not RESP, or over the client's bounds.
        public static let protocolViolation = Code("protocol")
        /// The client was shut down.
        public static let shutdown = Code("shutdown")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "Redis \(code): \(message)" }
}

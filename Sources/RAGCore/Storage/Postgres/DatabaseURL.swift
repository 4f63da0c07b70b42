import Foundation

/// A PostgreSQL connection URL in libpq's form, parsed and checked once:
/// `postgres://user:password@host:port/database?sslmode=require` (or `postgresql://`).
///
/// Every part is percent-decoded (`p%40ss` is `p@ss`); the port defaults to 5432 and the database to the user name
/// (as libpq does). A Unix-domain socket is named by a host that is a directory, either percent-encoded in the
/// authority (`postgres://rag@%2Fvar%2Frun%2Fpostgresql/rag`) or as the `host` query parameter
/// (`postgres://rag@/rag?host=/var/run/postgresql`); the socket is `DIRECTORY/.s.PGSQL.PORT`, as libpq names it.
///
/// Query parameters: `sslmode`, `host`, `port`, `user`, `password`, `dbname`, `application_name` and
/// `connect_timeout` (seconds); any other is an error, so that a misspelt `sslmode` never silently means no TLS.
///
/// `sslmode`, and how it maps onto postgres-nio's TLS (trust roots: the system's):
///
/// | sslmode | TLS | certificate checked |
/// | --- | --- | --- |
/// | `disable` | never | — |
/// | `allow`, `prefer` (the default) | when the server offers it | no |
/// | `require` | always | no |
/// | `verify-ca` | always | the chain, not the host name |
/// | `verify-full` | always | the chain and the host name |
///
/// `allow` is libpq's "try without TLS first"; postgres-nio has no such order, so it is taken as `prefer`. A Unix
/// socket never uses TLS.
///
/// The password never appears in ``redacted`` or ``description`` (which the logs, errors and the store's
/// `location` use), nor in any ``DatabaseURLError``.
///
/// ```swift
/// let url = try DatabaseURL("postgres://rag:s3cret@db.internal:5433/docs?sslmode=verify-full")
/// print(url)  // postgres://rag:***@db.internal:5433/docs?sslmode=verify-full
/// ```
public struct DatabaseURL: Sendable, Hashable, CustomStringConvertible {
    /// libpq's `sslmode` values.
    public enum SSLMode: String, Sendable, Hashable, CaseIterable {
        case disable
        case allow
        case prefer
        case require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    /// Where the server listens.
    public enum Endpoint: Sendable, Hashable {
        case tcp(host: String, port: Int)
        /// The socket file's path (`DIRECTORY/.s.PGSQL.PORT`).
        case unixSocket(path: String)
    }

    public var endpoint: Endpoint
    public var username: String
    public var password: String?
    /// The database; `nil` means the user name's.
    public var database: String?
    public var sslMode: SSLMode
    public var applicationName: String?
    /// `connect_timeout`, when given.
    public var connectTimeout: Duration?

    public init(
        endpoint: Endpoint, username: String, password: String? = nil, database: String? = nil, sslMode: SSLMode = .prefer,
        applicationName: String? = nil, connectTimeout: Duration? = nil
    ) {
        self.endpoint = endpoint
        self.username = username
        self.password = password
        self.database = database
        self.sslMode = sslMode
        self.applicationName = applicationName
        self.connectTimeout = connectTimeout
    }

    /// Parses a `postgres://` or `postgresql://` URL.
    ///
    /// - Throws: ``DatabaseURLError`` saying what is wrong, without quoting the URL (it may hold a password).
    public init(_ text: String) throws(DatabaseURLError) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw DatabaseURLError("the database URL is empty") }
        let lower = trimmed.lowercased()
        guard let scheme = ["postgres://", "postgresql://"].first(where: { lower.hasPrefix($0) }) else {
            throw DatabaseURLError("the database URL must start with postgres:// or postgresql://")
        }
        var rest = Substring(trimmed.dropFirst(scheme.count))
        guard !rest.contains("#") else { throw DatabaseURLError("the database URL may not have a fragment (#)") }
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        var authority = rest
        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            path = rest[rest.index(after: slash)...]
        }
        var userInfo: Substring? = nil
        var hostPort = authority
        if let at = authority.lastIndex(of: "@") {
            userInfo = authority[..<at]
            hostPort = authority[authority.index(after: at)...]
        }
        var username: String? = nil
        var password: String? = nil
        if let userInfo {
            if let colon = userInfo.firstIndex(of: ":") {
                username = try Self.decode(userInfo[..<colon], "user name")
                password = try Self.decode(userInfo[userInfo.index(after: colon)...], "password")
            } else {
                username = try Self.decode(userInfo, "user name")
            }
        }
        var host: String? = nil
        var portText: Substring? = nil
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else {
                throw DatabaseURLError("the database URL's IPv6 host has no closing ]")
            }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw DatabaseURLError("the database URL has text after its IPv6 host") }
                portText = after.dropFirst()
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = try Self.decode(hostPort[..<colon], "host")
            portText = hostPort[hostPort.index(after: colon)...]
        } else if !hostPort.isEmpty {
            host = try Self.decode(hostPort, "host")
        }
        if host?.isEmpty == true { host = nil }
        var port = 5432
        if let portText { port = try Self.port(portText) }
        var database = path.isEmpty ? nil : try Self.decode(path, "database name")
        var sslMode = SSLMode.prefer
        var applicationName: String? = nil
        var connectTimeout: Duration? = nil
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = try Self.decode(parts[0], "query parameter name")
            let value = try Self.decode(parts.count == 2 ? parts[1] : "", "value of \(key)")
            switch key {
            case "sslmode":
                guard let mode = SSLMode(rawValue: value) else {
                    throw DatabaseURLError(
                        "the database URL's sslmode must be one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", ")), not '\(value)'")
                }
                sslMode = mode
            case "host": host = value.isEmpty ? nil : value
            case "port": port = try Self.port(Substring(value))
            case "user": username = value
            case "password": password = value
            case "dbname": database = value.isEmpty ? nil : value
            case "application_name": applicationName = value
            case "connect_timeout":
                guard let seconds = Int(value), seconds >= 0, seconds <= 86_400 else {
                    throw DatabaseURLError("the database URL's connect_timeout must be whole seconds from 0 to 86400, not '\(value)'")
                }
                connectTimeout = seconds == 0 ? nil : .seconds(seconds)
            default:
                throw DatabaseURLError(
                    "the database URL has an unknown query parameter '\(key)' (known: sslmode, host, port, user, password, dbname, application_name, connect_timeout)")
            }
        }
        guard let username, !username.isEmpty else {
            throw DatabaseURLError("the database URL names no user (postgres://USER@HOST/DATABASE)")
        }
        guard let host else { throw DatabaseURLError("the database URL names no host (postgres://USER@HOST/DATABASE)") }
        let endpoint: Endpoint =
            host.hasPrefix("/") ? .unixSocket(path: (host.hasSuffix("/") ? String(host.dropLast()) : host) + "/.s.PGSQL.\(port)")
            : .tcp(host: host, port: port)
        self.init(
            endpoint: endpoint, username: username, password: password, database: database, sslMode: sslMode,
            applicationName: applicationName, connectTimeout: connectTimeout)
    }

    private static func port(_ text: Substring) throws(DatabaseURLError) -> Int {
        guard let port = Int(text), text.allSatisfy(\.isASCII), (1...65535).contains(port) else {
            // Not quoted: a URL without a host would put its password here.
            throw DatabaseURLError("the database URL's port must be a number from 1 to 65535")
        }
        return port
    }

    /// Percent-decodes one part; `what` names it in the error (never its text, which may be a secret).
    private static func decode(_ text: Substring, _ what: String) throws(DatabaseURLError) -> String {
        guard text.contains("%") else { return String(text) }
        guard let decoded = String(text).removingPercentEncoding else {
            throw DatabaseURLError("the database URL's \(what) has a malformed percent-encoding (% must be followed by two hex digits)")
        }
        return decoded
    }

    /// The URL without the password (`***` in its place), for logs, errors and `location`.
    public var redacted: String {
        func encode(_ text: String) -> String {
            var allowed = CharacterSet.urlUserAllowed
            allowed.remove(charactersIn: ":@/?#%")
            return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
        }
        var out = "postgres://" + encode(username)
        if password != nil { out += ":***" }
        out += "@"
        var parameters: [String] = []
        switch endpoint {
        case .tcp(let host, let port):
            out += host.contains(":") ? "[\(host)]" : encode(host)
            if port != 5432 { out += ":\(port)" }
        case .unixSocket(let path):
            parameters.append("host=\(encode(path))")
        }
        out += "/" + encode(database ?? "")
        if sslMode != .prefer { parameters.insert("sslmode=\(sslMode.rawValue)", at: 0) }
        if let applicationName { parameters.append("application_name=\(encode(applicationName))") }
        if !parameters.isEmpty { out += "?" + parameters.joined(separator: "&") }
        return out
    }

    /// ``redacted``: never the password.
    public var description: String { redacted }
}

/// Why a database URL is not accepted. The message never quotes the URL, which may hold a password.
public struct DatabaseURLError: Error, Sendable, Hashable, CustomStringConvertible {
    /// One line for a person: what is wrong with the URL.
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

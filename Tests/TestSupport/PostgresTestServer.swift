import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The tests' PostgreSQL: the server named by `RAG_TEST_DATABASE_URL` (scripts/test.sh starts a throw-away one with
/// scripts/postgres.sh and stops it afterwards; its user must be allowed to create databases), and a fresh database
/// for each test (`CREATE DATABASE t_<random>`, made with psql), so that tests never see each other's collections.
///
/// Without `RAG_TEST_DATABASE_URL` the PostgreSQL tests are skipped with a message, except under `CI=true`, where
/// they run and fail: CI must never pass by skipping them.
public actor PostgresTestServer {
    public static let shared = PostgresTestServer()

    /// Why the PostgreSQL tests cannot run here, or `nil` when they can (or must: under CI).
    public static let unavailableReason: String? = {
        let environment = ProcessInfo.processInfo.environment
        if environment["RAG_TEST_DATABASE_URL"] != nil || environment["CI"] == "true" { return nil }
        return "RAG_TEST_DATABASE_URL is not set (scripts/test.sh starts a PostgreSQL for the tests: "
            + "URL=$(scripts/postgres.sh start /tmp/rag-pg)): skipping the PostgreSQL tests"
    }()

    /// Whether the PostgreSQL tests run (see ``unavailableReason``).
    public static var isAvailable: Bool { unavailableReason == nil }

    private var starting: Task<String, any Error>? = nil

    /// The URL of a new, empty database on the test server (started on first use).
    public func freshDatabaseURL() async throws -> String {
        let base = try await baseURL()
        let name = Self.newDatabaseName()
        try await Self.psql(base, "CREATE DATABASE \(name)")
        return Self.url(base, database: name)
    }

    /// `freshDatabaseURL()` for a synchronous test (one that drives other processes and waits on them): holds the
    /// calling thread while psql runs.
    public nonisolated static func freshDatabaseURLBlocking() throws -> String {
        let base = try baseURLFromEnvironment()
        let name = newDatabaseName()
        let psql = try TestProcess.system("/usr/bin/psql", "/usr/lib/postgresql/15/bin/psql", package: "postgresql-client")
        let result = try TestProcess.run(psql, ["-v", "ON_ERROR_STOP=1", "-q", "-d", base, "-c", "CREATE DATABASE \(name)"], timeout: .seconds(60))
        guard result.status == 0 else { throw TestProcess.Missing(description: "psql 'CREATE DATABASE' failed (\(result.status)): \(result.stderr)") }
        return url(base, database: name)
    }

    static func newDatabaseName() -> String { "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased() }

    /// `base` with its database replaced by `database` (its query kept).
    static func url(_ base: String, database: String) -> String {
        var server = base
        var query = ""
        if let mark = server.firstIndex(of: "?") {
            query = String(server[mark...])
            server = String(server[..<mark])
        }
        if let scheme = server.range(of: "://"), let slash = server[scheme.upperBound...].firstIndex(of: "/") {
            server = String(server[..<slash])
        }
        return server + "/" + database + query
    }

    /// The server's URL (of its `rag` database).
    public func baseURL() async throws -> String {
        if let starting { return try await starting.value }
        let task = Task<String, any Error> { try await Self.start() }
        starting = task
        return try await task.value
    }

    private static func start() async throws -> String { try baseURLFromEnvironment() }

    static func baseURLFromEnvironment() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["RAG_TEST_DATABASE_URL"], !url.isEmpty else {
            throw TestProcess.Missing(description: "RAG_TEST_DATABASE_URL is not set: run the tests with scripts/test.sh, or start a server "
                + "with scripts/postgres.sh start DIR and export its URL")
        }
        return url
    }

    /// Runs one SQL command with psql (no values but the test's own names are ever put in it).
    public static func psql(_ url: String, _ command: String) async throws {
        let psql = try TestProcess.system("/usr/bin/psql", "/usr/lib/postgresql/15/bin/psql", package: "postgresql-client")
        let result = try await TestProcess.run(psql, ["-v", "ON_ERROR_STOP=1", "-q", "-d", url, "-c", command], timeout: .seconds(60))
        guard result.status == 0 else {
            throw TestProcess.Missing(description: "psql '\(command)' failed (\(result.status)): \(result.stderr)")
        }
    }
}

import Foundation
import Logging
import PostgresNIO
import Synchronization

/// The shared store: a PostgreSQL database that many engines (server replicas, ingestion jobs, `rag`) read and write
/// at once, each keeping the collection in memory and following the change log.
///
/// Tables (`PostgresCollectionStore+Schema.swift`), as SQLite's: `collection` (one row: the embedder id and
/// dimension; writers lock it), `documents` (keyed by the change that added it, its record as JSON, content hash
/// unique), `chunks` (text, pages, ids, by document and ordinal), `vectors` (one `bytea` per document: chunk count ×
/// dimension little-endian f32, L2-normalised), `terms` and `document_terms` (the BM25 statistics per document, by
/// term number), and `changes`, the change log, whose sequence number is the collection's version.
///
/// **Writers are serialised.** Every write is one transaction that first locks the single `collection` row
/// (`SELECT … FOR UPDATE`), then decides against the collection as committed, and numbers its changes `max(seq) + 1`
/// under that lock. So sequence numbers become visible in order: a follower that has read up to change 10 never
/// misses an 11 that commits after a 12 (which a `bigserial` would allow). Term numbers are given the same way, so
/// that they stay gapless (`1…n`) whatever rolls back. Readers use one `REPEATABLE READ` transaction per snapshot or
/// batch of changes, and never wait for writers.
///
/// **Notifications.** Each write does `pg_notify('rag_collection_changes', '<version>')` inside its transaction
/// (delivered at commit). ``changeSignals()`` yields those versions from a `LISTEN` on a dedicated connection that
/// reconnects with backoff; notifications are not durable, so followers still poll ``currentVersion()``.
///
/// **Lifecycle.** The store owns its pool (`PostgresClient`, at most `maxConnections`) and the task that runs it:
/// ``init(url:maxConnections:logger:)`` starts it and applies the schema migrations (under an advisory lock, so
/// replicas starting together apply them once); ``shutdown()`` stops the listener and the pool and waits for them. A
/// store dropped without ``shutdown()`` cancels both in `deinit`.
///
/// ```swift
/// let store = try await PostgresCollectionStore(url: DatabaseURL("postgres://rag@127.0.0.1/rag"))
/// defer { Task { await store.shutdown() } }
/// let version = try await store.currentVersion()
/// ```
package final class PostgresCollectionStore: CollectionStore {
    /// The channel every write notifies, with the new version as payload.
    package static let channel = "rag_collection_changes"

    package let url: DatabaseURL
    package let client: PostgresClient
    /// How long an operation waits for a connection of the pool (the database unreachable: the pool keeps trying to
    /// connect, and would make it wait for ever) before it fails with `unavailable`.
    package let connectionWait: Duration
    let logger: Logger
    private let runTask: Task<Void, Never>
    let listener = Mutex<Task<Void, Never>?>(nil)
    let signalContinuations = Mutex<[UUID: AsyncStream<UInt64>.Continuation]>([:])

    /// Connects (lazily: the pool opens connections as they are needed, at most `maxConnections`) and brings the
    /// schema up to date.
    ///
    /// - Throws: `CollectionError` `.io` when the database cannot be reached or migrated, `.unsupportedVersion`
    ///   when its schema is newer than this build's.
    package init(
        url: DatabaseURL, maxConnections: Int = 10, connectionWait: Duration = .seconds(10), logger: Logger = Logger(label: "rag.postgres")
    ) async throws(CollectionError) {
        self.url = url
        self.connectionWait = connectionWait
        self.logger = logger
        let client = PostgresClient(configuration: Self.clientConfiguration(url, maxConnections: maxConnections), backgroundLogger: logger)
        self.client = client
        runTask = Task { await client.run() }
        do {
            try await migrateSchema()
        } catch {
            runTask.cancel()
            await runTask.value
            throw error
        }
    }

    deinit {
        runTask.cancel()
        listener.withLock { $0?.cancel() }
        finishSignals()
    }

    /// Ends every signal stream (outside the lock: finishing one runs its termination handler, which takes it).
    func finishSignals() {
        let continuations = signalContinuations.withLock { continuations in
            defer { continuations = [:] }
            return continuations
        }
        for continuation in continuations.values { continuation.finish() }
    }

    /// Stops listening and closes the pool's connections; waits until they are closed. Any later use fails.
    package func shutdown() async {
        let task = listener.withLock { task in
            defer { task = nil }
            return task
        }
        task?.cancel()
        await task?.value
        finishSignals()
        runTask.cancel()
        await runTask.value
    }

    /// The redacted URL: never the password.
    package var location: String { url.redacted }

    /// The client's configuration for `url` (see ``DatabaseURL`` for the TLS mapping).
    static func clientConfiguration(_ url: DatabaseURL, maxConnections: Int) -> PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        switch url.endpoint {
        case .tcp(let host, let port):
            configuration = PostgresClient.Configuration(
                host: host, port: port, username: url.username, password: url.password, database: url.database, tls: tls(url.sslMode))
        case .unixSocket(let path):
            configuration = PostgresClient.Configuration(
                unixSocketPath: path, username: url.username, password: url.password, database: url.database)
        }
        configuration.options.maximumConnections = max(1, maxConnections)
        if let timeout = url.connectTimeout { configuration.options.connectTimeout = timeout }
        if let name = url.applicationName { configuration.options.additionalStartupParameters = [("application_name", name)] }
        return configuration
    }

    static func tls(_ mode: DatabaseURL.SSLMode) -> PostgresClient.Configuration.TLS {
        guard let settings = tlsSettings(mode) else { return .disable }
        return settings.required ? .require(settings.configuration) : .prefer(settings.configuration)
    }

    /// `nil` for no TLS; else whether TLS is required, and how the server's certificate is checked.
    static func tlsSettings(_ mode: DatabaseURL.SSLMode) -> (required: Bool, configuration: TLSConfiguration)? {
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch mode {
        case .disable:
            return nil
        case .allow, .prefer:
            configuration.certificateVerification = .none
            return (false, configuration)
        case .require:
            configuration.certificateVerification = .none
            return (true, configuration)
        case .verifyCA:
            configuration.certificateVerification = .noHostnameVerification
            return (true, configuration)
        case .verifyFull:
            return (true, configuration)
        }
    }

    // MARK: Running statements

    /// Runs `body` in one transaction (`READ COMMITTED` for writes, `REPEATABLE READ READ ONLY` for reads that must
    /// see one snapshot); rolls back on an error. PostgreSQL's errors become `CollectionError` `.io` with `failure`.
    func transaction<T: Sendable>(
        readOnly: Bool = false, failure: String, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws(CollectionError) -> T {
        let logger = self.logger
        return try await withConnection(failure: failure) { connection async throws -> T in
            try await connection.query(readOnly ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN", logger: logger)
            do {
                let value = try await body(connection)
                try await connection.query("COMMIT", logger: logger)
                return value
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    /// Runs `body` on a connection of the pool, outside a transaction. Waits at most ``connectionWait`` for the
    /// connection; then, or when the connection breaks, the error is `unavailable` (the database cannot be reached);
    /// any other error of PostgreSQL's is `io` with `failure`.
    func withConnection<T: Sendable>(
        failure: String, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws(CollectionError) -> T {
        let client = self.client
        let wait = connectionWait
        let leased = LeaseFlag()
        do {
            return try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask {
                    try await client.withConnection { connection async throws -> T in
                        leased.value.store(true, ordering: .relaxed)
                        return try await body(connection)
                    }
                }
                group.addTask {
                    try await Task.sleep(for: wait)
                    guard leased.value.load(ordering: .relaxed) else { throw ConnectionWaitExceeded() }
                    return nil  // the operation has its connection: let it run
                }
                defer { group.cancelAll() }
                while let result = try await group.next() {
                    if let value = result { return value }
                }
                throw CancellationError()
            }
        } catch let error as CollectionError {
            throw error
        } catch is ConnectionWaitExceeded {
            throw CollectionError(
                .unavailable, "the database cannot be reached (no connection within \(wait.seconds) s); retry later", path: location)
        } catch {
            if Self.isUnavailable(error) {
                throw CollectionError(.unavailable, "the database cannot be reached (\(Self.reason(error))); retry later", path: location)
            }
            throw CollectionError(.io, "\(failure): \(Self.reason(error))", path: location)
        }
    }

    private struct ConnectionWaitExceeded: Error {}

    /// Whether an operation got its connection, shared with the task that times the wait.
    private final class LeaseFlag: Sendable {
        let value = Atomic<Bool>(false)
    }

    /// Whether `error` says the database could not be reached or the connection broke, rather than that it refused
    /// a statement: no answer from the server at all, or SQLSTATE class 08 (connection exception), 57P01-57P03
    /// (shut down, crashed, starting). A row the store could not decode is damage, not an outage, and a
    /// cancellation is neither.
    static func isUnavailable(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError else {
            return !(error is CancellationError) && !(error is PostgresDecodingError)
        }
        guard let state = error.serverInfo?[.sqlState] else { return true }
        return state.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(state)
    }

    /// What went wrong, in PostgreSQL's words when the server said something, never with a query's values.
    static func reason(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] {
                return message + (error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? "")
            }
            if let underlying = error.underlying { return "\(underlying)" }
            return "\(error.code)"
        }
        return "\(error)"
    }

    /// `corrupt`, saying what is wrong with the database.
    func damaged(_ what: String) -> CollectionError {
        CollectionError(.corrupt, "the collection database is damaged (\(what)); re-ingest the documents or restore a backup", path: location)
    }
}

extension PostgresConnection {
    /// Runs a statement and collects every row.
    func rows(_ query: PostgresQuery, logger: Logger) async throws -> [PostgresRow] {
        var rows: [PostgresRow] = []
        for try await row in try await self.query(query, logger: logger) { rows.append(row) }
        return rows
    }

    /// Runs a statement and ignores its rows.
    func run(_ query: PostgresQuery, logger: Logger) async throws {
        for try await _ in try await self.query(query, logger: logger) {}
    }
}

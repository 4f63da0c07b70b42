import Foundation
import RAGCore
import TestSupport
import Testing

/// Parsing libpq-style database URLs: every part, percent-decoding, defaults, and errors that never show the password.
@Suite struct DatabaseURLTests {
    @Test func aFullURLParses() throws {
        let url = try DatabaseURL("postgres://rag:s3cr%40t@db.example.com:6543/docs%20db?sslmode=verify-full&application_name=rag")
        #expect(url.endpoint == .tcp(host: "db.example.com", port: 6543))
        #expect(url.username == "rag" && url.password == "s3cr@t" && url.database == "docs db")
        #expect(url.sslMode == .verifyFull && url.applicationName == "rag")
        #expect(url.redacted == "postgres://rag:***@db.example.com:6543/docs%20db?sslmode=verify-full&application_name=rag")
        #expect("\(url)" == url.redacted)
    }

    @Test func defaultsAreLibpqs() throws {
        let url = try DatabaseURL("postgresql://rag@localhost")
        #expect(url.endpoint == .tcp(host: "localhost", port: 5432))
        #expect(url.password == nil && url.database == nil && url.sslMode == .prefer)
        #expect(url.redacted == "postgres://rag@localhost/")
        #expect(try DatabaseURL("POSTGRES://rag@[::1]:5433/x").endpoint == .tcp(host: "::1", port: 5433))
    }

    @Test(arguments: DatabaseURL.SSLMode.allCases)
    func everySSLModeParses(mode: DatabaseURL.SSLMode) throws {
        #expect(try DatabaseURL("postgres://u@h/d?sslmode=\(mode.rawValue)").sslMode == mode)
    }

    @Test func aUnixSocketHostNamesTheSocketFile() throws {
        #expect(try DatabaseURL("postgres://rag@%2Fvar%2Frun%2Fpostgresql/rag").endpoint == .unixSocket(path: "/var/run/postgresql/.s.PGSQL.5432"))
        let url = try DatabaseURL("postgres://rag:pw@/rag?host=/tmp/pg&port=6000")
        #expect(url.endpoint == .unixSocket(path: "/tmp/pg/.s.PGSQL.6000"))
        #expect(!url.redacted.contains("pw"))
    }

    @Test(arguments: [
        ("", "empty"),
        ("mysql://u@h/d", "must start with postgres://"),
        ("postgres://h/d", "names no user"),
        ("postgres://u:secret@/d", "names no host"),
        ("postgres://u:secret@h:99999/d", "port must be"),
        ("postgres://u:secret@h:port/d", "port must be"),
        ("postgres://u:secret", "port must be"),
        ("postgres://u:secret@h/d?sslmode=maybe", "sslmode must be one of"),
        ("postgres://u:secret@h/d?sslmod=require", "unknown query parameter 'sslmod'"),
        ("postgres://u:sec%zzret@h/d", "malformed percent-encoding"),
        ("postgres://u:secret@[::1/d", "no closing ]"),
        ("postgres://u:secret@h/d#frag", "fragment"),
    ])
    func malformedURLsSayWhatIsWrongWithoutThePassword(text: String, expected: String) {
        #expect {
            try DatabaseURL(text)
        } throws: { error in
            let message = "\(error)"
            return message.contains(expected) && !message.contains("secret") && !message.contains("sec%zzret")
        }
    }

    @Test func reconnectingBacksOffUpToTenSeconds() {
        #expect(PostgresCollectionStore.reconnectDelay(attempt: 0) == .milliseconds(100))
        #expect(PostgresCollectionStore.reconnectDelay(attempt: 1) == .milliseconds(200))
        #expect(PostgresCollectionStore.reconnectDelay(attempt: 5) == .milliseconds(3200))
        #expect(PostgresCollectionStore.reconnectDelay(attempt: 7) == .seconds(10))
        #expect(PostgresCollectionStore.reconnectDelay(attempt: 1000) == .seconds(10))
        #expect(PostgresCollectionStore.reconnectDelay(attempt: -1) == .milliseconds(100))
    }

    @Test func theDatabaseSettingsResolveAsDocumented() throws {
        let file = "postgres://f@h/d\n"
        #expect(try EngineSettings.databaseURL(flag: nil, environment: [:]) == nil)
        #expect(try EngineSettings.databaseURL(flag: nil, environment: ["RAG_DATABASE_URL": "postgres://e@h/d"])?.username == "e")
        #expect(try EngineSettings.databaseURL(flag: "postgres://flag@h/d", environment: ["RAG_DATABASE_URL": "postgres://e@h/d"])?.username == "flag")
        #expect(try EngineSettings.databaseURL(flag: nil, environment: ["RAG_DATABASE_URL_FILE": "/f"], readFile: { _ in file })?.username == "f")
        #expect(throws: SettingError.self) {
            try EngineSettings.databaseURL(flag: nil, environment: ["RAG_DATABASE_URL": "postgres://e@h/d", "RAG_DATABASE_URL_FILE": "/f"])
        }
        #expect {
            try EngineSettings.databaseURL(flag: nil, environment: ["RAG_DATABASE_URL": "postgres://e:hunter2@h:x/d"])
        } throws: { error in
            "\(error)".contains("RAG_DATABASE_URL") && !"\(error)".contains("hunter2")
        }
    }
}

/// What only the PostgreSQL store does: migrations under a lock, notifications, and its lifecycle.
@Suite(.enabled(if: PostgresTestServer.isAvailable, Comment(rawValue: PostgresTestServer.unavailableReason ?? "")))
struct PostgresStoreTests {
    @Test func severalStoresOpeningAFreshDatabaseAtOnceMigrateItOnce() async throws {
        let url = try DatabaseURL(try await PostgresTestServer.shared.freshDatabaseURL())
        let stores = try await withThrowingTaskGroup(of: PostgresCollectionStore.self) { group in
            for _ in 0..<6 { group.addTask { try await PostgresCollectionStore(url: url, maxConnections: 2) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(stores.count == 6)
        #expect(try await stores[0].appliedMigrations() == Array(1...PostgresCollectionStore.schemaVersion))
        #expect(try await stores[3].currentVersion() == 0)
        for store in stores { await store.shutdown() }
    }

    /// A database of schema version 2 (before sources were kept and chunks had contexts) is brought to the current
    /// version by the next store that opens it: its documents stay, without sources.
    @Test func aVersion2DatabaseMigratesAndItsDocumentsHaveNoSource() async throws {
        let text = try await PostgresTestServer.shared.freshDatabaseURL()
        let url = try DatabaseURL(text)
        var old = CollectionStoreTests.sampleDocument()
        old.source = Data("%PDF-old".utf8)
        let first = try await PostgresCollectionStore(url: url, maxConnections: 2)
        _ = try await first.add(old, header: CollectionStoreTests.header, maxChunks: 0)
        await first.shutdown()
        try await PostgresTestServer.psql(
            text,
            "DROP TABLE document_sources; ALTER TABLE chunks DROP COLUMN context; DELETE FROM schema_migrations WHERE version >= 3")
        let store = try await PostgresCollectionStore(url: url, maxConnections: 2)
        #expect(try await store.appliedMigrations() == Array(1...PostgresCollectionStore.schemaVersion))
        #expect(try await store.loadSnapshot()?.collection.documents.map(\.id) == [old.record.id])
        #expect(try await store.source(of: old.record.id) == nil)
        await store.shutdown()
    }

    @Test func aWriteByAnotherStoreIsSignalled() async throws {
        let url = try DatabaseURL(try await PostgresTestServer.shared.freshDatabaseURL())
        let listener = try await PostgresCollectionStore(url: url, maxConnections: 2)
        let writer = try await PostgresCollectionStore(url: url, maxConnections: 2)
        let signals = try #require(listener.changeSignals())
        var iterator = signals.makeAsyncIterator()
        #expect(await iterator.next() == 0, "listening: look now")
        _ = try await writer.add(CollectionStoreTests.sampleDocument(), header: CollectionStoreTests.header, maxChunks: 0)
        #expect(await iterator.next() == 1)
        _ = try await writer.remove(CollectionStoreTests.sampleDocument().record.id)
        #expect(await iterator.next() == 2)
        await writer.shutdown()
        await listener.shutdown()
        #expect(await iterator.next() == nil, "closing the store ends its signals")
    }

    @Test func theLocationNeverHoldsThePasswordAndErrorsSayWhereWithoutIt() async throws {
        // Nothing listens on port 1 of the loopback: connecting fails at once.
        let url = try DatabaseURL("postgres://rag:hunter2@127.0.0.1:1/rag?sslmode=disable&connect_timeout=2")
        let started = ContinuousClock.now
        await #expect {
            try await PostgresCollectionStore(url: url, maxConnections: 1, connectionWait: .seconds(2))
        } throws: { error in
            guard let error = error as? CollectionError else { return false }
            return error.code == .unavailable && !"\(error)".contains("hunter2") && error.path == "postgres://rag:***@127.0.0.1:1/rag?sslmode=disable"
        }
        // The pool would try for ever: the store gives up after its connection wait (2 s; the bound is generous for a
        // busy shared machine, and still far from for ever).
        #expect(ContinuousClock.now - started < .seconds(90))
    }
}

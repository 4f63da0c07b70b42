import Foundation
import Logging
import PostgresNIO
import Synchronization

/// Change notifications: one `LISTEN rag_collection_changes` on a dedicated connection (not one of the pool's),
/// started by the first ``changeSignals()`` and fanned out to every stream it returned. A lost connection is made
/// again after ``reconnectDelay(attempt:)``; notifications sent meanwhile are lost (PostgreSQL keeps none for a
/// listener that is not connected), which is why a follower still polls the version, and why a reconnect yields 0
/// ("look now").
extension PostgresCollectionStore {
    /// A stream of signals that the collection changed: the new version from a write's notification (by any
    /// process), or 0 when the listening connection was (re)made and changes may have been missed. The newest
    /// signal is kept when the reader is slow. Ends when the store is closed.
    package func changeSignals() -> AsyncStream<UInt64>? {
        let (stream, continuation) = AsyncStream.makeStream(of: UInt64.self, bufferingPolicy: .bufferingNewest(1))
        let id = UUID()
        signalContinuations.withLock { $0[id] = continuation }
        continuation.onTermination = { [weak self] _ in
            _ = self?.signalContinuations.withLock { $0.removeValue(forKey: id) }
        }
        listener.withLock { task in
            guard task == nil else { return }
            task = Task { [weak self] in await self?.listen() }
        }
        return stream
    }

    /// How long to wait before connecting again after `attempt` failures in a row (0 is the first retry): 100 ms,
    /// doubling, at most 10 s. Pure; no jitter (a handful of replicas at most reconnect at once).
    package static func reconnectDelay(attempt: Int) -> Duration {
        let delay = Duration.milliseconds(100 << min(max(attempt, 0), 10))
        return min(delay, .seconds(10))
    }

    func broadcast(_ version: UInt64) {
        for continuation in signalContinuations.withLock({ Array($0.values) }) { continuation.yield(version) }
    }

    /// Listens until cancelled, reconnecting with backoff.
    private func listen() async {
        var failures = 0
        var id = 1
        while !Task.isCancelled {
            do {
                let connection = try await PostgresConnection.connect(
                    configuration: try connectionConfiguration(), id: id, logger: logger)
                id += 1
                defer { Task { try? await connection.close() } }
                try await connection.listen(on: Self.channel) { notifications in
                    failures = 0
                    broadcast(0)  // listening again: whatever happened meanwhile, look now
                    for try await notification in notifications {
                        broadcast(UInt64(notification.payload) ?? 0)
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning(
                    "lost the collection change notifications; polling meanwhile",
                    metadata: ["rag.collection": "\(location)", "error": "\(Self.reason(error))"])
            }
            do {
                try await Task.sleep(for: Self.reconnectDelay(attempt: failures))
            } catch {
                return
            }
            failures += 1
        }
    }

    /// A single connection's configuration, as the pool's.
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        switch url.endpoint {
        case .tcp(let host, let port):
            let tls: PostgresConnection.Configuration.TLS
            if let settings = Self.tlsSettings(url.sslMode) {
                let context = try NIOSSLContext(configuration: settings.configuration)
                tls = settings.required ? .require(context) : .prefer(context)
            } else {
                tls = .disable
            }
            configuration = PostgresConnection.Configuration(
                host: host, port: port, username: url.username, password: url.password, database: url.database, tls: tls)
        case .unixSocket(let path):
            configuration = PostgresConnection.Configuration(
                unixSocketPath: path, username: url.username, password: url.password, database: url.database)
        }
        if let timeout = url.connectTimeout { configuration.options.connectTimeout = .seconds(Int64(timeout.components.seconds)) }
        return configuration
    }
}

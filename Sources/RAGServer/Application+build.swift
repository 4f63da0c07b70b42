import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOFoundationEssentialsCompat
import Prometheus
import RAGCore
import ServiceLifecycle

/// The API router: chat page, health, and `/v1` behind the API keys and rate limit.
///
/// - Parameter router: the router to add the routes to. Routes that the caller added to it before stay outside the
///   server's middleware (`RAGBench serve` adds a bare route this way, to measure the framework's own floor).
public func buildRouter(_ state: ServerState, into router: Router<ServerContext> = Router(context: ServerContext.self)) -> Router<ServerContext> {
    let methods = RouteMethods()
    router.add(middleware: RequestMiddleware(metrics: state.httpMetrics, uploadLimit: state.configuration.maxUploadBytes))
    router.add(middleware: MethodNotAllowedMiddleware(routes: methods))
    if let origin = state.configuration.corsOrigin {
        router.add(middleware: CORSMiddleware(
            allowOrigin: origin == "*" ? .all : .custom(origin), allowHeaders: [.authorization, .contentType, .requestID],
            allowMethods: [.get, .post, .delete, .options], maxAge: .seconds(600)))
    }
    /// Adds a route and records its method for the 405 answer to the others.
    func on(_ method: HTTPRequest.Method, _ path: String, in group: RouterGroup<ServerContext>? = nil, prefix: String = "",
            use handler: @escaping @Sendable (Request, ServerContext) async throws -> Response) {
        if let group { group.on(RouterPath(path), method: method, use: handler) } else { router.on(RouterPath(path), method: method, use: handler) }
        methods.add(method, prefix + path)
    }
    on(.get, "/healthz", use: state.health)
    on(.head, "/healthz", use: state.health)
    on(.get, "/readyz", use: state.readiness)
    // A worker serves no API: its port answers probes only.
    guard state.configuration.ingestion.role != .worker else { return router }
    on(.get, "/") { _, _ in state.asset("index.html") }
    on(.get, "/assets/:name") { _, context in state.asset(try context.parameters.require("name")) }

    let api = router.group("v1").add(middleware: AccessMiddleware(
        keys: state.configuration.apiKeys, limiter: state.limiter, authFailures: state.authFailures,
        addresses: state.clientAddresses, metrics: state.httpMetrics))
    on(.post, "documents", in: api, prefix: "/v1/", use: state.upload)
    on(.get, "documents", in: api, prefix: "/v1/", use: state.listDocuments)
    on(.get, "documents/:id", in: api, prefix: "/v1/", use: state.documentStatus)
    on(.delete, "documents/:id", in: api, prefix: "/v1/", use: state.deleteDocument)
    on(.get, "documents/:id/pages/:page/image", in: api, prefix: "/v1/", use: state.pageImage)
    on(.post, "search", in: api, prefix: "/v1/", use: state.search)
    on(.post, "ask", in: api, prefix: "/v1/", use: state.ask)
    on(.post, "chat/completions", in: api, prefix: "/v1/", use: state.chatCompletions)
    on(.get, "models", in: api, prefix: "/v1/", use: state.models)
    return router
}

/// The metrics port's router: `/metrics`, `/healthz`, `/readyz`, never behind API keys.
public func buildMetricsRouter(_ state: ServerState) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    let methods = RouteMethods()
    router.add(middleware: MethodNotAllowedMiddleware(routes: methods))
    for (method, path, handler) in [
        (HTTPRequest.Method.get, "/metrics", state.prometheus), (.get, "/healthz", state.health), (.head, "/healthz", state.health),
        (.get, "/readyz", state.readiness),
    ] as [(HTTPRequest.Method, String, @Sendable (Request, BasicRequestContext) async throws -> Response)] {
        router.on(RouterPath(path), method: method, use: handler)
        methods.add(method, path)
    }
    return router
}

/// The whole server: the API application, with the metrics application, the change follower (for a collection
/// in a directory) and the shutdown flush as its services. Tests build this very application.
///
/// - Parameter router: the API router; `buildRouter(state)` when `nil`.
public func buildApplication(
    state: ServerState, router: Router<ServerContext>? = nil, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let configuration = state.configuration
    var services: [any Service] = [ShutdownFlush(engine: state.engine)]
    let metrics = state.httpMetrics
    if configuration.metricsPort > 0 {
        services.append(Application(
            router: buildMetricsRouter(state),
            server: .guardedHTTP1(timeouts: configuration.connectionTimeouts) { metrics.connectionTimedOut($0) },
            configuration: ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.metricsPort), serverName: "pdf-chatbot"),
            logger: state.logger))
    }
    if state.engine.configuration.collectionDirectory != nil || state.engine.configuration.databaseURL != nil {
        services.append(ChangeFollower(engine: state.engine, interval: configuration.reloadInterval, logger: state.logger))
    }
    if state.runsWorker {
        services.append(IngestWorkers(engine: state.engine, configuration: configuration.ingestion, wake: state.wake, logger: state.logger))
    }
    return Application(
        router: router ?? buildRouter(state),
        server: .guardedHTTP1(timeouts: configuration.connectionTimeouts) { metrics.connectionTimedOut($0) },
        configuration: ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port), serverName: "pdf-chatbot"),
        services: services,
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
        logger: state.logger)
}

/// On graceful shutdown, waits for collection writes in progress to be committed.
struct ShutdownFlush: Service {
    let engine: Engine

    func run() async throws {
        try? await gracefulShutdown()
        await engine.flush()
    }
}

/// Applies the changes that other processes (other replicas, an ingestion job, `rag ingest`) committed to the
/// collection to the engine's in-memory collection (`Engine.follow()`): a cheap look at the store's version when
/// nothing changed, only the new changes when something did. It looks every `interval`, and also at once when the
/// store signals a change (PostgreSQL's notifications), whichever comes first; signals are only hints (they are lost
/// while the listening connection is down), so the interval's polling always goes on. It also refreshes the
/// ingestion queue's depth (`rag_ingest_queue_depth`) each time.
struct ChangeFollower: Service {
    let engine: Engine
    let interval: Duration
    let logger: Logger

    func run() async throws {
        let (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let interval = self.interval
        let timer = Task {
            while !Task.isCancelled {
                do { try await Task.sleep(for: interval) } catch { return }
                wake.yield()
            }
        }
        let relay = engine.changeSignals().map { signals in
            Task {
                for await _ in signals { wake.yield() }
            }
        }
        defer {
            timer.cancel()
            relay?.cancel()
            wake.finish()
        }
        try? await cancelWhenGracefulShutdown {
            for await _ in wakeups {
                if Task.isCancelledOrShuttingDown { return }
                do {
                    try await engine.follow()
                    // The queue's depth, for every replica's /metrics (the workers also refresh it after each job).
                    _ = try await engine.queueDepth()
                } catch {
                    logger.error("cannot follow the collection's changes; serving the version it has", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}

extension Task where Success == Never, Failure == Never {
    /// True once the task is cancelled or a graceful shutdown has begun.
    static var isCancelledOrShuttingDown: Bool { Task.isCancelled || Task.isShuttingDownGracefully }
}

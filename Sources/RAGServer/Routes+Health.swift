import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOFoundationEssentialsCompat
import Prometheus
import RAGCore

extension ServerState {
    /// `GET /healthz`: the process is alive.
    func health(_ request: Request, context: some RequestContext) async throws -> Response {
        try JSON.response(["status": "ok"])
    }

    struct Readiness: Encodable {
        struct LLM: Encodable {
            var model: String
            var generative: Bool
        }
        var status: String
        var documents: Int
        var chunks: Int
        var embedder: String
        var llm: LLM
        var read_only: Bool
        /// The same as `index_version` (its name before the change log).
        var generation: UInt64
        /// The newest collection version this replica has applied.
        var index_version: UInt64
        /// The newest collection version in the store, as this replica last saw it.
        var newest_index_version: UInt64
        var role: String
        var uploads: String
        var database: Database
        struct Database: Encodable {
            /// `ok`, or `unreachable`: the replica serves searches and answers from memory and refuses writes.
            var status: String
            var error: String?
        }
        /// With Redis configured only: `up`, or `unavailable` (answers go on without the cache, rate limits are
        /// this replica's own); never a reason to be unready.
        var redis: Redis?
        struct Redis: Encodable {
            var status: String
            var error: String?
        }
    }

    /// `GET /readyz`: the collection is loaded; reports the language model and embedder in use, the index version
    /// applied and the newest seen, and whether the database answers. It stays 200 while the database is unreachable:
    /// the replica still answers searches and questions from memory (writes get 503), and taking every replica out
    /// of service because the database is down would stop reads too. Likewise Redis (`redis`, when configured): without
    /// it answers go on uncached.
    func readiness(_ request: Request, context: some RequestContext) async throws -> Response {
        let collection = engine.collection
        let store = engine.storeStatus
        return try JSON.response(Readiness(
            status: "ready", documents: collection.documents.count, chunks: collection.chunks.count,
            embedder: engine.embedder.identifier, llm: .init(model: engine.llm.model, generative: engine.llm.isGenerative),
            read_only: configuration.readOnly, generation: collection.generation, index_version: collection.generation,
            newest_index_version: max(store.newestVersion, collection.generation), role: configuration.ingestion.role.rawValue,
            uploads: queuesUploads ? "queued" : "inline",
            database: .init(status: store.reachable ? "ok" : "unreachable", error: store.lastError),
            redis: redis.map { redis in
                redis.isUp ? .init(status: "up") : .init(status: "unavailable", error: redis.lastError?.message ?? "no connection is open")
            }))
    }

    /// `GET /metrics`: the engine's and the server's metrics as Prometheus text, rendered at most once per
    /// ``ServerConfiguration/metricsCacheInterval`` however often it is scraped (``MetricsRenderCache``).
    func prometheus(_ request: Request, context: some RequestContext) async throws -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: await metricsText.text())))
    }

    /// `GET /`, `/assets/...`: the chat page, embedded in the binary.
    func asset(_ name: String) -> Response {
        guard let asset = WebAssets.files[name] else { return Response(status: .notFound) }
        return Response(
            status: .ok,
            headers: [.contentType: asset.contentType, .cacheControl: "no-cache", .contentSecurityPolicy: WebAssets.contentSecurityPolicy],
            body: ResponseBody(byteBuffer: ByteBuffer(string: asset.text)))
    }
}

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
        var generation: UInt64
    }

    /// `GET /readyz`: the collection is loaded; reports the language model and embedder in use.
    func readiness(_ request: Request, context: some RequestContext) async throws -> Response {
        let collection = engine.collection
        return try JSON.response(Readiness(
            status: "ready", documents: collection.documents.count, chunks: collection.chunks.count,
            embedder: engine.embedder.identifier, llm: .init(model: engine.llm.model, generative: engine.llm.isGenerative),
            read_only: configuration.readOnly, generation: collection.generation))
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

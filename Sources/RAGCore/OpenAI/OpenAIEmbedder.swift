import Foundation
import Prometheus

/// Embeddings from an OpenAI-compatible `/embeddings` endpoint, in batches of `embeddingBatchSize`.
///
/// The identifier is `openai:<model>:d<dimension>`, so a collection built with one model refuses queries
/// embedded by another. The dimension comes from the configuration, from a table of OpenAI's models, or from
/// one probe request when `make` is used.
public struct OpenAIEmbedder: Embedder {
    public let configuration: OpenAIConfiguration
    public let dimension: Int
    /// Records embedding tokens (`rag_llm_tokens_total{kind="embedding"}`) when given.
    public let metrics: RAGMetrics?

    /// Vector lengths of OpenAI's embedding models.
    public static let knownDimensions = [
        "text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536,
    ]

    /// An embedder whose dimension is known (from `configuration.embeddingDimension` or `knownDimensions`).
    public init(configuration: OpenAIConfiguration, metrics: RAGMetrics? = nil) throws(LLMError) {
        try configuration.validate()
        guard let dimension = configuration.embeddingDimension ?? Self.knownDimensions[configuration.embeddingModel] else {
            throw LLMError(
                .configuration,
                "the vector length of embedding model \(configuration.embeddingModel) is unknown; set RAG_EMBEDDING_DIMENSION or use OpenAIEmbedder.make")
        }
        self.configuration = configuration
        self.dimension = dimension
        self.metrics = metrics
    }

    /// An embedder for any model: when the dimension is unknown, one request for a short text finds it.
    public static func make(configuration: OpenAIConfiguration, metrics: RAGMetrics? = nil) async throws -> OpenAIEmbedder {
        var configuration = configuration
        if configuration.embeddingDimension == nil && knownDimensions[configuration.embeddingModel] == nil {
            var probe = configuration
            probe.embeddingDimension = 1
            let vectors = try await OpenAIEmbedder(configuration: probe).request(["dimension probe"], expectDimension: false)
            configuration.embeddingDimension = vectors.first?.count
        }
        return try OpenAIEmbedder(configuration: configuration, metrics: metrics)
    }

    public var identifier: String { "openai:\(configuration.embeddingModel):d\(dimension)" }

    public func embed(_ texts: [String]) async throws -> [[Float]] {
        var vectors: [[Float]] = []
        vectors.reserveCapacity(texts.count)
        for start in stride(from: 0, to: texts.count, by: configuration.embeddingBatchSize) {
            vectors += try await request(Array(texts[start..<min(texts.count, start + configuration.embeddingBatchSize)]), expectDimension: true)
        }
        return vectors
    }

    private func request(_ texts: [String], expectDimension: Bool) async throws -> [[Float]] {
        let body = OpenAIWire.EmbeddingsRequest(
            model: configuration.embeddingModel,
            input: texts.map { $0.isEmpty ? " " : $0 },  // the API rejects empty strings
            dimensions: configuration.embeddingModel.hasPrefix("text-embedding-3") ? configuration.embeddingDimension : nil)
        let data = try await OpenAIHTTP(configuration: configuration).post("embeddings", body: OpenAIWire.encode(body))
        let origin = CurlLoop.origin(configuration.baseURL)
        guard let response = OpenAIWire.decode(OpenAIWire.EmbeddingsResponse.self, from: data), response.data.count == texts.count
        else {
            throw LLMError(.malformedResponse, "the embeddings response from \(origin) does not hold one vector per input")
        }
        var vectors = [[Float]](repeating: [], count: texts.count)
        for (position, item) in response.data.enumerated() {
            let index = item.index ?? position
            guard vectors.indices.contains(index) else {
                throw LLMError(.malformedResponse, "the embeddings response from \(origin) has an entry without a vector")
            }
            if expectDimension && item.embedding.count != dimension {
                throw LLMError(.malformedResponse, "\(configuration.embeddingModel) returned \(item.embedding.count) dimensions, expected \(dimension)")
            }
            vectors[index] = item.embedding
        }
        if let tokens = response.usage?.prompt_tokens {
            metrics?.tokens(kind: "embedding", model: configuration.embeddingModel).increment(by: Int64(tokens))
        }
        return vectors
    }
}

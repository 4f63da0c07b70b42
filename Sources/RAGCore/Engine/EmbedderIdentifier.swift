import Foundation

/// Recreates the embedder a collection was built with from its identifier, so that queries are embedded the
/// same way as the documents were.
public enum EmbedderIdentifier {
    /// The embedder for `identifier`: `hashing-v1-d<N>` needs nothing; `minilm-l6-v2-d384` needs the model
    /// in `modelsDirectory`; `openai:<model>:d<N>` needs an OpenAI-compatible configuration (its chat settings
    /// are kept, its embedding model and dimension are set).
    ///
    /// - Throws: `LLMError.configuration` when the identifier is unknown, names an API embedder and no
    ///   configuration is given, or names MiniLM and the model cannot be loaded (the message says how to get it).
    ///
    /// - Parameter encoder: how MiniLM runs, when the identifier names it.
    public static func embedder(
        for identifier: String, openAI: OpenAIConfiguration?, metrics: RAGMetrics? = nil, modelsDirectory: URL? = nil,
        encoder: MiniLMEmbedder.Configuration = MiniLMEmbedder.Configuration()
    ) throws(LLMError) -> any Embedder {
        if identifier.hasPrefix("hashing-v1-d"), let dimension = Int(identifier.dropFirst("hashing-v1-d".count)) {
            return HashingEmbedder(dimension: dimension)
        }
        if identifier == MiniLMEmbedder.identifier {
            guard let modelsDirectory else {
                throw LLMError(.configuration, "the collection was embedded with MiniLM; no models directory was given to load it from")
            }
            do {
                return try MiniLMEmbedder(
                    modelDirectory: modelsDirectory.appendingPathComponent(MiniLMEmbedder.directoryName), configuration: encoder,
                    metrics: metrics)
            } catch {
                throw LLMError(.configuration, "the collection was embedded with MiniLM, which cannot be loaded: \(error.description)")
            }
        }
        let parts = identifier.split(separator: ":")
        if parts.count == 3, parts[0] == "openai", parts[2].hasPrefix("d"), let dimension = Int(parts[2].dropFirst()) {
            guard var configuration = openAI else {
                throw LLMError(
                    .configuration,
                    "the collection was embedded with \(parts[1]) through an OpenAI-compatible API; set OPENAI_API_KEY or OPENAI_BASE_URL to query it")
            }
            configuration.embeddingModel = String(parts[1])
            configuration.embeddingDimension = dimension
            return try OpenAIEmbedder(configuration: configuration, metrics: metrics)
        }
        throw LLMError(.configuration, "the collection was built with an unknown embedder '\(identifier)'")
    }
}

/// Recreates the embedder a collection was built with from its identifier, so that queries are embedded the
/// same way as the documents were.
public enum EmbedderIdentifier {
    /// The embedder for `identifier`: `hashing-v1-d<N>` needs nothing; `openai:<model>:d<N>` needs an
    /// OpenAI-compatible configuration (its chat settings are kept, its embedding model and dimension are set).
    ///
    /// - Throws: `LLMError.configuration` when the identifier is unknown or names an API embedder and no
    ///   configuration is given.
    public static func embedder(for identifier: String, openAI: OpenAIConfiguration?, metrics: RAGMetrics? = nil) throws(LLMError) -> any Embedder {
        if identifier.hasPrefix("hashing-v1-d"), let dimension = Int(identifier.dropFirst("hashing-v1-d".count)) {
            return HashingEmbedder(dimension: dimension)
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

import Foundation

/// Who answers questions.
public enum LLMChoice: String, Sendable, CaseIterable {
    /// A language model when one is configured (`OPENAI_API_KEY`, `OPENAI_API_KEY_FILE` or `OPENAI_BASE_URL`),
    /// else the extractive answerer.
    case auto
    /// The OpenAI-compatible client; an error when none is configured.
    case openai
    /// The extractive answerer, even when a language model is configured.
    case extractive
}

/// Which embedder a new collection uses.
public enum EmbedderChoice: String, Sendable, CaseIterable {
    /// The offline hashed word embedder.
    case hashing
    /// The OpenAI-compatible `/embeddings` endpoint.
    case openai
}

/// Chooses the language model client and the embedder the way the CLI and the server both do.
public enum EngineSetup {
    /// The answerer for `choice`.
    public static func llm(_ choice: LLMChoice, openAI: OpenAIConfiguration?) throws(LLMError) -> any LLMClient {
        switch choice {
        case .extractive:
            return ExtractiveAnswerer()
        case .openai:
            guard let openAI else {
                throw LLMError(.configuration, "a language model was asked for, but none is configured: set OPENAI_API_KEY (or OPENAI_API_KEY_FILE) or OPENAI_BASE_URL")
            }
            return try OpenAIClient(configuration: openAI)
        case .auto:
            guard let openAI else { return ExtractiveAnswerer() }
            return try OpenAIClient(configuration: openAI)
        }
    }

    /// The embedder for the collection in `directory`: the one it was built with when it exists (so queries
    /// match its vectors), else `choice` (default: hashing).
    ///
    /// - Throws: `LLMError.configuration` when `choice` contradicts the existing collection's embedder, or an API
    ///   embedder is needed and none is configured.
    public static func embedder(
        collectionDirectory directory: URL?, choice: EmbedderChoice?, openAI: OpenAIConfiguration?, metrics: RAGMetrics?
    ) async throws -> any Embedder {
        if let directory, let header = CollectionStore(directory: directory).header() {
            if let choice, (choice == .openai) != header.embedderID.hasPrefix("openai:") {
                throw LLMError(
                    .configuration,
                    "the collection was built with embedder \(header.embedderID); to change embedders, ingest into a new collection")
            }
            return try EmbedderIdentifier.embedder(for: header.embedderID, openAI: openAI, metrics: metrics)
        }
        switch choice {
        case .openai:
            guard let openAI else {
                throw LLMError(.configuration, "API embeddings were asked for, but no API is configured: set OPENAI_API_KEY (or OPENAI_API_KEY_FILE) or OPENAI_BASE_URL")
            }
            return try await OpenAIEmbedder.make(configuration: openAI, metrics: metrics)
        case .hashing, nil:
            return HashingEmbedder()
        }
    }
}

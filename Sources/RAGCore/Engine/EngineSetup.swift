import Foundation
import Logging

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
    /// The local all-MiniLM-L6-v2 sentence embedder (needs the model files, scripts/fetch-model.sh).
    case minilm
    /// The offline hashed word embedder.
    case hashing
    /// The OpenAI-compatible `/embeddings` endpoint.
    case openai

    /// What the embedder named by `identifier` is, in a person's words, e.g. "all-MiniLM-L6-v2 (local sentence
    /// embeddings)" or "hashed word features (they match words, not meanings)".
    public static func describe(identifier: String) -> String {
        switch EmbedderChoice(identifier: identifier) {
        case .minilm: return "all-MiniLM-L6-v2 (local sentence embeddings)"
        case .hashing: return "hashed word features (they match words, not meanings)"
        case .openai:
            let model = identifier.split(separator: ":").dropFirst().first.map(String.init) ?? identifier
            return "\(model) through an OpenAI-compatible API"
        }
    }

    /// The kind of embedder a collection's identifier names.
    public init(identifier: String) {
        if identifier.hasPrefix("openai:") {
            self = .openai
        } else if identifier == MiniLMEmbedder.identifier {
            self = .minilm
        } else {
            self = .hashing
        }
    }
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

    /// The models directory for `environment` (executables pass their process's): `$RAG_MODELS_DIR`, `./models`
    /// when it holds the model, else `$XDG_DATA_HOME/pdf-chatbot/models` (see `EmbedderIdentifier.modelsDirectory`).
    public static func modelsDirectory(environment: [String: String]) -> URL {
        EmbedderIdentifier.modelsDirectory(
            environment: environment,
            currentDirectory: URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
            home: EngineSettings.homeDirectory(environment: environment))
    }

    /// The embedder for the collection in `directory`: the one it was built with when it exists (so queries
    /// match its vectors), else `choice`, else the default (MiniLM when its model is installed, else hashing,
    /// with a warning saying how to get the model).
    ///
    /// - Throws: `LLMError.configuration` when `choice` contradicts the existing collection's embedder, or an API
    ///   embedder is needed and none is configured; `ModelError` when MiniLM is asked for and not installed.
    ///
    /// - Parameters:
    ///   - databaseURL: the collection's PostgreSQL database, which wins over `directory` when set.
    ///   - encoder: how MiniLM runs when it is the embedder (``MiniLMEmbedder/Configuration/precision``).
    public static func embedder(
        collectionDirectory directory: URL?, databaseURL: DatabaseURL? = nil, choice: EmbedderChoice?, openAI: OpenAIConfiguration?,
        metrics: RAGMetrics?, modelsDirectory: URL, logger: Logger,
        encoder: MiniLMEmbedder.Configuration = MiniLMEmbedder.Configuration()
    ) async throws -> any Embedder {
        var existing: CollectionHeader? = nil
        if let databaseURL {
            let store = try await PostgresCollectionStore(url: databaseURL, maxConnections: 1, logger: logger)
            do {
                existing = try await store.header()
            } catch {
                await store.shutdown()
                throw error
            }
            await store.shutdown()
        } else if let directory {
            existing = try SQLiteCollectionStore.peekHeader(directory: directory)
        }
        if let header = existing {
            if let choice, choice != EmbedderChoice(identifier: header.embedderID) {
                throw LLMError(
                    .configuration,
                    "the collection was built with embedder \(header.embedderID); to change embedders, ingest into a new collection")
            }
            return try EmbedderIdentifier.embedder(
                for: header.embedderID, openAI: openAI, metrics: metrics, modelsDirectory: modelsDirectory, encoder: encoder)
        }
        switch choice {
        case .openai:
            guard let openAI else {
                throw LLMError(.configuration, "API embeddings were asked for, but no API is configured: set OPENAI_API_KEY (or OPENAI_API_KEY_FILE) or OPENAI_BASE_URL")
            }
            return try await OpenAIEmbedder.make(configuration: openAI, metrics: metrics)
        case .minilm:
            return try MiniLMEmbedder(
                modelDirectory: modelsDirectory.appendingPathComponent(MiniLMEmbedder.directoryName), configuration: encoder,
                metrics: metrics)
        case .hashing:
            return HashingEmbedder()
        case nil:
            return try EmbedderIdentifier.defaultEmbedder(
                modelsDirectory: modelsDirectory, configuration: encoder, metrics: metrics, logger: logger)
        }
    }
}

import Foundation
import Logging

extension EmbedderIdentifier {
    /// Where local models are looked for, the first that applies:
    /// 1. `$RAG_MODELS_DIR` when set (the container image sets it to `/opt/pdf-chatbot/models`);
    /// 2. `models/` in `currentDirectory` when it holds MiniLM (a checkout with its own copy);
    /// 3. `$XDG_DATA_HOME/pdf-chatbot/models` (`~/.local/share/pdf-chatbot/models`) when it holds MiniLM: where
    ///    `scripts/fetch-model.sh` installs it, so every later run finds it from any directory;
    /// 4. `pdf-chatbot/models` in each of `$XDG_DATA_DIRS` (default `/usr/local/share:/usr/share`) that holds MiniLM,
    ///    for a system-wide installation;
    /// 5. else `$XDG_DATA_HOME/pdf-chatbot/models`, where it would be installed.
    ///
    /// Only executables pass the real environment; tests pass their own.
    public static func modelsDirectory(environment: [String: String], currentDirectory: URL, home: URL) -> URL {
        if let path = environment["RAG_MODELS_DIR"], !path.isEmpty { return URL(fileURLWithPath: path) }
        let local = currentDirectory.appendingPathComponent("models")
        if MiniLMEmbedder.isInstalled(in: local) { return local }
        let dataHome = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? home.appendingPathComponent(".local/share")
        let user = dataHome.appendingPathComponent("pdf-chatbot/models")
        if MiniLMEmbedder.isInstalled(in: user) { return user }
        let systemDirectories = environment["XDG_DATA_DIRS"].flatMap { $0.isEmpty ? nil : $0 } ?? "/usr/local/share:/usr/share"
        for directory in systemDirectories.split(separator: ":") where directory.hasPrefix("/") {
            let system = URL(fileURLWithPath: String(directory)).appendingPathComponent("pdf-chatbot/models")
            if MiniLMEmbedder.isInstalled(in: system) { return system }
        }
        return user
    }

    /// The embedder for a new collection: MiniLM when `modelsDirectory` holds it, else `HashingEmbedder` with
    /// a warning that says how to get the model. A model that is present but cannot be loaded is an error.
    ///
    /// - Throws: `ModelError` when the model files are there but damaged.
    public static func defaultEmbedder(
        modelsDirectory: URL, configuration: MiniLMEmbedder.Configuration = MiniLMEmbedder.Configuration(),
        metrics: RAGMetrics? = nil, logger: Logger
    ) throws(ModelError) -> any Embedder {
        guard MiniLMEmbedder.isInstalled(in: modelsDirectory) else {
            logger.warning(
                "the MiniLM model is not installed, so hashed word features are used (they match words, not meanings); install it, or set RAG_MODELS_DIR to where it is, to get semantic search",
                metadata: ["rag.models.directory": "\(modelsDirectory.path)"])
            return HashingEmbedder()
        }
        return try MiniLMEmbedder(
            modelDirectory: modelsDirectory.appendingPathComponent(MiniLMEmbedder.directoryName),
            configuration: configuration, metrics: metrics)
    }
}

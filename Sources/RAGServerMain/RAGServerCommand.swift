import ArgumentParser
import Foundation
import Logging
import RAGCore
import RAGServer
import ServiceLifecycle
import UnixSignals

/// `rag-server`: wires flags and environment variables to `buildApplication`; all behaviour lives in the
/// RAGServer and RAGCore libraries.
@main
struct RAGServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rag-server",
        abstract: "Serve the chat page, the HTTP API and /metrics over a document collection.",
        discussion: """
            Every option can also be set by the environment variable in brackets; a flag wins over the variable. \
            The language model and embeddings are configured as for `rag`: OPENAI_API_KEY (or \
            OPENAI_API_KEY_FILE), OPENAI_BASE_URL, RAG_LLM_MODEL, RAG_EMBEDDING_MODEL; without them answers quote \
            the documents. API keys: RAG_API_KEYS="name:key,name2:key2" or RAG_API_KEYS_FILE (one name:key per \
            line); when set, the API needs Authorization: Bearer KEY. See docs/configuration.md.
            """
    )

    @Option(help: "Collection directory [RAG_COLLECTION] (default: as for rag).")
    var collection: String?
    @Option(help: "Address to listen on [RAG_HOST] (default 0.0.0.0).")
    var host: String?
    @Option(help: "API and chat page port [RAG_PORT] (default 8501).")
    var port: Int?
    @Option(help: "Port of /metrics, /healthz and /readyz, never behind API keys; 0 turns it off [RAG_METRICS_PORT] (default 8502).")
    var metricsPort: Int?
    @Flag(help: "Serve a collection written by an ingestion job: refuse uploads, reload new versions [RAG_READ_ONLY=true].")
    var readOnly = false
    @Option(help: "Seconds between checks for a new collection version in read-only mode [RAG_RELOAD_INTERVAL] (default 10).")
    var reloadInterval: Double?
    @Option(help: "Largest request body in bytes [RAG_MAX_UPLOAD_BYTES] (default 67108864).")
    var maxUploadBytes: Int?
    @Option(help: "Most pages per uploaded document [RAG_MAX_PAGES] (default 10000).")
    var maxPages: Int?
    @Option(help: "Most characters of text per uploaded document [RAG_MAX_CHARACTERS] (default 50000000).")
    var maxCharacters: Int?
    @Option(help: "Most characters of text per byte of an uploaded file; 0 turns the rule off [RAG_MAX_CHARACTERS_PER_BYTE] (default \(ExtractionLimits().maxCharactersPerByte.formatted())).")
    var maxCharactersPerByte: Double?
    @Option(help: "Characters any upload may yield whatever its size [RAG_MIN_CHARACTER_ALLOWANCE] (default 100000).")
    var minCharacterAllowance: Int?
    @Option(help: "Most chunks the collection may hold; 0 is unlimited [RAG_MAX_COLLECTION_CHUNKS] (default 1000000).")
    var maxCollectionChunks: Int?
    @Option(help: "Most parts in a multipart/form-data upload; more is 413 too_many_parts [RAG_MAX_FORM_PARTS] (default 16).")
    var maxFormParts: Int?
    @Option(help: "Most header bytes in one part of a multipart/form-data upload [RAG_MAX_PART_HEADER_BYTES] (default 8192).")
    var maxPartHeaderBytes: Int?
    @Option(help: "Requests per minute per client; 0 turns the limit off [RAG_RATE_LIMIT] (default 120).")
    var rateLimit: Int?
    @Option(help: "Requests a client may send at once before the rate applies [RAG_RATE_BURST] (default 30).")
    var rateBurst: Int?
    @Option(help: "Answers in progress at once [RAG_MAX_CONCURRENT_LLM] (default 8).")
    var maxConcurrentLLM: Int?
    @Option(help: "Answers waiting for a slot before new ones get 503 [RAG_LLM_QUEUE] (default 32).")
    var llmQueue: Int?
    @Option(help: "Seconds a request (a whole streamed answer included) may take [RAG_REQUEST_TIMEOUT] (default 120).")
    var requestTimeout: Double?
    @Option(help: "Seconds to finish requests and streams in flight after SIGTERM [RAG_GRACE_PERIOD] (default 25).")
    var gracePeriod: Double?
    @Option(help: "Allow this browser origin (or *) to call the API [RAG_CORS_ORIGIN] (default: CORS off).")
    var corsOrigin: String?
    @Option(help: "Log format: json or text [RAG_LOG_FORMAT] (default json).")
    var logFormat: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical [RAG_LOG_LEVEL] (default info).")
    var logLevel: String?
    @Option(help: "Who answers: auto, openai or extractive [RAG_LLM] (default auto).")
    var llm: String?
    @Option(help: "How passages are found: hybrid, vector or lexical [RAG_RETRIEVAL] (default hybrid).")
    var retrieval: String?
    @Option(help: "Hybrid fusion: auto, weighted[:W] or rrf[:K] [RAG_FUSION] (default auto: the embedder's measured weight).")
    var fusion: String?
    @Option(help: "Chunks before and after each passage, on the same pages, added to answers [RAG_NEIGHBOURS] (default 0).")
    var neighbours: Int?
    @Option(help: "Cosine similarity below which answers say the documents do not answer: a number, auto or off [RAG_MIN_SCORE] (default auto).")
    var minScore: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        func env(_ key: String) -> String? { environment[key].flatMap { $0.isEmpty ? nil : $0 } }
        func number<T: LosslessStringConvertible>(_ flag: T?, _ key: String, _ fallback: T) throws -> T {
            if let flag { return flag }
            guard let text = env(key) else { return fallback }
            guard let value = T(text) else { throw ValidationError("\(key) must be a number, not '\(text)'") }
            return value
        }

        let level = Logger.Level(rawValue: logLevel ?? env("RAG_LOG_LEVEL") ?? "info") ?? .info
        let json = (logFormat ?? env("RAG_LOG_FORMAT") ?? "json") != "text"
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "rag.server")

        do {
            var keys: [String: String] = [:]
            if let text = env("RAG_API_KEYS") { keys = try ServerConfiguration.parseAPIKeys(text) }
            if let path = env("RAG_API_KEYS_FILE") {
                guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                    throw ValidationError("cannot read the API keys file named by RAG_API_KEYS_FILE (\(path))")
                }
                keys.merge(try ServerConfiguration.parseAPIKeys(text)) { $1 }
            }
            let directory = URL(fileURLWithPath: collection ?? env("RAG_COLLECTION")
                ?? ((env("XDG_DATA_HOME") ?? NSHomeDirectory() + "/.local/share") + "/pdf-chatbot/collection"))
            let configuration = ServerConfiguration(
                collectionDirectory: directory, host: host ?? env("RAG_HOST") ?? "0.0.0.0",
                port: try number(port, "RAG_PORT", 8501), metricsPort: try number(metricsPort, "RAG_METRICS_PORT", 8502),
                readOnly: readOnly || ["1", "true", "yes"].contains(env("RAG_READ_ONLY")?.lowercased() ?? ""),
                reloadInterval: .milliseconds(Int64(try number(reloadInterval, "RAG_RELOAD_INTERVAL", 10.0) * 1000)),
                apiKeys: keys, maxUploadBytes: try number(maxUploadBytes, "RAG_MAX_UPLOAD_BYTES", 64 << 20),
                maxFormParts: try number(maxFormParts, "RAG_MAX_FORM_PARTS", 16),
                maxPartHeaderBytes: try number(maxPartHeaderBytes, "RAG_MAX_PART_HEADER_BYTES", 8 << 10),
                rateLimitPerMinute: try number(rateLimit, "RAG_RATE_LIMIT", 120), rateLimitBurst: try number(rateBurst, "RAG_RATE_BURST", 30),
                maxConcurrentAnswers: try number(maxConcurrentLLM, "RAG_MAX_CONCURRENT_LLM", 8),
                answerQueueLength: try number(llmQueue, "RAG_LLM_QUEUE", 32),
                requestTimeout: .milliseconds(Int64(try number(requestTimeout, "RAG_REQUEST_TIMEOUT", 120.0) * 1000)),
                gracePeriod: .milliseconds(Int64(try number(gracePeriod, "RAG_GRACE_PERIOD", 25.0) * 1000)),
                corsOrigin: corsOrigin ?? env("RAG_CORS_ORIGIN"))
            do {
                try configuration.validate()
            } catch {
                throw ValidationError("\(error)")
            }

            let openAI = try OpenAIConfiguration.fromEnvironment(environment)
            guard let llmChoice = LLMChoice(rawValue: llm ?? env("RAG_LLM") ?? "auto") else {
                throw ValidationError("--llm is auto, openai or extractive")
            }
            var retrievalOptions = RetrievalOptions()
            if let text = retrieval ?? env("RAG_RETRIEVAL") {
                guard let mode = RetrievalOptions.Mode(rawValue: text) else {
                    throw ValidationError("--retrieval (RAG_RETRIEVAL) is hybrid, vector or lexical, not '\(text)'")
                }
                retrievalOptions.mode = mode
            }
            if let text = fusion ?? env("RAG_FUSION") {
                guard let parsed = RetrievalOptions.Fusion(text) else {
                    throw ValidationError("--fusion (RAG_FUSION) is auto, weighted, weighted:W (0–1), rrf or rrf:K, not '\(text)'")
                }
                retrievalOptions.fusion = parsed
            }
            retrievalOptions.neighbourChunks = try number(neighbours, "RAG_NEIGHBOURS", 0)
            guard retrievalOptions.neighbourChunks >= 0 else { throw ValidationError("--neighbours (RAG_NEIGHBOURS) must be 0 or more") }
            if let text = minScore ?? env("RAG_MIN_SCORE") {
                guard let threshold = RetrievalOptions.ScoreThreshold(text) else {
                    throw ValidationError("--min-score (RAG_MIN_SCORE) is a number, auto or off, not '\(text)'")
                }
                retrievalOptions.minimumScore = threshold
            }
            var limits = ExtractionLimits()
            limits.maxPages = try number(maxPages, "RAG_MAX_PAGES", limits.maxPages)
            limits.maxCharacters = try number(maxCharacters, "RAG_MAX_CHARACTERS", limits.maxCharacters)
            limits.maxCharactersPerByte = try number(maxCharactersPerByte, "RAG_MAX_CHARACTERS_PER_BYTE", limits.maxCharactersPerByte)
            limits.minimumCharacterAllowance = try number(
                minCharacterAllowance, "RAG_MIN_CHARACTER_ALLOWANCE", limits.minimumCharacterAllowance)
            do {
                try limits.validate()
            } catch {
                let setting = Self.limitSettings[error.field] ?? error.field
                throw ValidationError("\(setting) \(error.rule), not \(Self.value(of: error.field, in: limits))")
            }
            let chunkQuota = try number(maxCollectionChunks, "RAG_MAX_COLLECTION_CHUNKS", EngineConfiguration().maxCollectionChunks)
            guard chunkQuota >= 0 else {
                throw ValidationError("--max-collection-chunks (RAG_MAX_COLLECTION_CHUNKS) must be 0 (unlimited) or more, not \(chunkQuota)")
            }
            let metrics = RAGMetrics()
            let engine = try Engine(
                configuration: EngineConfiguration(
                    collectionDirectory: directory, extraction: limits, retrieval: retrievalOptions,
                    maxCollectionChunks: chunkQuota, readOnly: configuration.readOnly),
                embedder: try await EngineSetup.embedder(
                    collectionDirectory: directory, choice: nil, openAI: openAI, metrics: metrics,
                    modelsDirectory: EngineSetup.modelsDirectory(environment: environment), logger: logger),
                llm: try EngineSetup.llm(llmChoice, openAI: openAI), metrics: metrics, logger: Logger(label: "rag.engine"))
            let state = ServerState(configuration: configuration, engine: engine, logger: logger)
            let app = buildApplication(state: state) { port in
                logger.info("serving", metadata: [
                    "http.port": "\(port)", "rag.collection": "\(directory.path)", "llm.model": "\(engine.llm.model)",
                    "rag.embedder": "\(engine.embedder.identifier)", "rag.read_only": "\(configuration.readOnly)",
                    "rag.api_keys": "\(configuration.apiKeys.count)",
                ])
            }
            var groupConfiguration = ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            groupConfiguration.maximumGracefulShutdownDuration = configuration.gracePeriod
            try await ServiceGroup(configuration: groupConfiguration).run()
        } catch let error as ValidationError {
            throw error
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
    }

    /// The flag and variable of each extraction limit the server sets, by `ExtractionLimits` field name.
    static let limitSettings = [
        "maxPages": "--max-pages (RAG_MAX_PAGES)", "maxCharacters": "--max-characters (RAG_MAX_CHARACTERS)",
        "maxCharactersPerByte": "--max-characters-per-byte (RAG_MAX_CHARACTERS_PER_BYTE)",
        "minimumCharacterAllowance": "--min-character-allowance (RAG_MIN_CHARACTER_ALLOWANCE)",
    ]

    /// The value of an extraction limit, for an error message.
    static func value(of field: String, in limits: ExtractionLimits) -> String {
        switch field {
        case "maxPages": "\(limits.maxPages)"
        case "maxCharacters": "\(limits.maxCharacters)"
        case "maxCharactersPerByte": "\(limits.maxCharactersPerByte)"
        case "minimumCharacterAllowance": "\(limits.minimumCharacterAllowance)"
        default: "the value given"
        }
    }
}

import ArgumentParser
import Foundation
import Logging
import RAGCore
import RAGServer
import ServiceLifecycle
import UnixSignals

/// `rag-server`: flags and environment → `ServerConfiguration` → `buildApplication`. The settings, their defaults,
/// ranges and help texts are `ServerSettings`' (RAGServer); all behaviour lives in the RAGServer and RAGCore
/// libraries.
@main
struct RAGServerCommand: AsyncParsableCommand {
    typealias S = ServerSettings

    static let configuration = CommandConfiguration(
        commandName: "rag-server",
        abstract: "Serve the chat page, the HTTP API and /metrics over a document collection.",
        discussion: """
            Every option can also be set by the environment variable in brackets; a flag wins over the variable, \
            and a variable that is set (even to nothing) wins over the default. A value that is not accepted stops \
            the server with one line on stderr and exit code 64. The language model and embeddings are configured \
            as for `rag`: OPENAI_API_KEY (or OPENAI_API_KEY_FILE), OPENAI_BASE_URL, RAG_LLM_MODEL, \
            RAG_EMBEDDING_MODEL; without them answers quote the documents. API keys: \
            RAG_API_KEYS="name:key,name2:key2" or RAG_API_KEYS_FILE (one name:key per line); when set, they must \
            hold at least one key, and the API needs Authorization: Bearer KEY. A database URL may also come from \
            a file, RAG_DATABASE_URL_FILE (a mounted secret), and so may the Redis URL, RAG_REDIS_URL_FILE, and its \
            password, RAG_REDIS_PASSWORD_FILE. See docs/configuration.md.
            """
    )

    @Option(name: .customLong("collection"), parsing: .unconditional, help: S.collection.argumentHelp) var collection: String?
    @Option(name: .customLong("database-url"), parsing: .unconditional, help: S.databaseURL.argumentHelp) var databaseURL: String?
    @Option(name: .customLong("database-max-connections"), parsing: .unconditional, help: S.databaseMaxConnections.argumentHelp)
    var databaseMaxConnections: String?
    @Option(name: .customLong("database-wait"), parsing: .unconditional, help: S.databaseWait.argumentHelp) var databaseWait: String?
    @Option(name: .customLong("host"), parsing: .unconditional, help: S.host.argumentHelp) var host: String?
    @Option(name: .customLong("port"), parsing: .unconditional, help: S.port.argumentHelp) var port: String?
    @Option(name: .customLong("metrics-port"), parsing: .unconditional, help: S.metricsPort.argumentHelp) var metricsPort: String?
    @Flag(name: .customLong("read-only"), help: ArgumentHelp(S.readOnly.info.helpText)) var readOnly = false
    @Option(name: .customLong("reload-interval"), parsing: .unconditional, help: S.reloadInterval.argumentHelp)
    var reloadInterval: String?
    @Option(name: .customLong("max-upload-bytes"), parsing: .unconditional, help: S.maxUploadBytes.argumentHelp)
    var maxUploadBytes: String?
    @Option(name: .customLong("max-pages"), parsing: .unconditional, help: S.maxPages.argumentHelp) var maxPages: String?
    @Option(name: .customLong("max-characters"), parsing: .unconditional, help: S.maxCharacters.argumentHelp)
    var maxCharacters: String?
    @Option(name: .customLong("max-characters-per-byte"), parsing: .unconditional, help: S.maxCharactersPerByte.argumentHelp)
    var maxCharactersPerByte: String?
    @Option(name: .customLong("min-character-allowance"), parsing: .unconditional, help: S.minCharacterAllowance.argumentHelp)
    var minCharacterAllowance: String?
    @Option(name: .customLong("max-collection-chunks"), parsing: .unconditional, help: S.maxCollectionChunks.argumentHelp)
    var maxCollectionChunks: String?
    @Option(name: .customLong("max-form-parts"), parsing: .unconditional, help: S.maxFormParts.argumentHelp)
    var maxFormParts: String?
    @Option(name: .customLong("max-part-header-bytes"), parsing: .unconditional, help: S.maxPartHeaderBytes.argumentHelp)
    var maxPartHeaderBytes: String?
    @Option(name: .customLong("rate-limit"), parsing: .unconditional, help: S.rateLimit.argumentHelp) var rateLimit: String?
    @Option(name: .customLong("rate-burst"), parsing: .unconditional, help: S.rateBurst.argumentHelp) var rateBurst: String?
    @Option(name: .customLong("auth-failure-limit"), parsing: .unconditional, help: S.authFailureLimit.argumentHelp)
    var authFailureLimit: String?
    @Option(name: .customLong("trusted-proxies"), parsing: .unconditional, help: S.trustedProxies.argumentHelp)
    var trustedProxies: String?
    @Option(name: .customLong("forwarded-header"), parsing: .unconditional, help: S.forwardedHeader.argumentHelp)
    var forwardedHeader: String?
    @Option(name: .customLong("max-concurrent-llm"), parsing: .unconditional, help: S.maxConcurrentLLM.argumentHelp)
    var maxConcurrentLLM: String?
    @Option(name: .customLong("llm-queue"), parsing: .unconditional, help: S.llmQueue.argumentHelp) var llmQueue: String?
    @Option(name: .customLong("max-concurrent-uploads"), parsing: .unconditional, help: S.maxConcurrentUploads.argumentHelp)
    var maxConcurrentUploads: String?
    @Option(name: .customLong("upload-queue"), parsing: .unconditional, help: S.uploadQueue.argumentHelp) var uploadQueue: String?
    @Option(name: .customLong("role"), parsing: .unconditional, help: S.role.argumentHelp) var role: String?
    @Option(name: .customLong("upload-mode"), parsing: .unconditional, help: S.uploadMode.argumentHelp) var uploadMode: String?
    @Option(name: .customLong("job-lease"), parsing: .unconditional, help: S.jobLease.argumentHelp) var jobLease: String?
    @Option(name: .customLong("worker-concurrency"), parsing: .unconditional, help: S.workerConcurrency.argumentHelp)
    var workerConcurrency: String?
    @Option(name: .customLong("job-attempts"), parsing: .unconditional, help: S.jobAttempts.argumentHelp) var jobAttempts: String?
    @Option(name: .customLong("index-wait"), parsing: .unconditional, help: S.indexWait.argumentHelp) var indexWait: String?
    @Option(name: .customLong("page-image-width"), parsing: .unconditional, help: S.pageImageWidth.argumentHelp)
    var pageImageWidth: String?
    @Option(name: .customLong("page-image-min-width"), parsing: .unconditional, help: S.pageImageMinWidth.argumentHelp)
    var pageImageMinWidth: String?
    @Option(name: .customLong("page-image-max-width"), parsing: .unconditional, help: S.pageImageMaxWidth.argumentHelp)
    var pageImageMaxWidth: String?
    @Option(name: .customLong("page-image-max-pixels"), parsing: .unconditional, help: S.pageImageMaxPixels.argumentHelp)
    var pageImageMaxPixels: String?
    @Option(name: .customLong("page-image-max-characters"), parsing: .unconditional, help: S.pageImageMaxCharacters.argumentHelp)
    var pageImageMaxCharacters: String?
    @Option(name: .customLong("page-image-timeout"), parsing: .unconditional, help: S.pageImageTimeout.argumentHelp)
    var pageImageTimeout: String?
    @Option(name: .customLong("max-concurrent-renders"), parsing: .unconditional, help: S.maxConcurrentRenders.argumentHelp)
    var maxConcurrentRenders: String?
    @Option(name: .customLong("render-queue"), parsing: .unconditional, help: S.renderQueue.argumentHelp)
    var renderQueue: String?
    @Option(name: .customLong("page-cache-bytes"), parsing: .unconditional, help: S.pageCacheBytes.argumentHelp)
    var pageCacheBytes: String?
    @Option(name: .customLong("max-history-messages"), parsing: .unconditional, help: S.maxHistoryMessages.argumentHelp)
    var maxHistoryMessages: String?
    @Option(name: .customLong("max-history-bytes"), parsing: .unconditional, help: S.maxHistoryBytes.argumentHelp)
    var maxHistoryBytes: String?
    @Option(name: .customLong("request-timeout"), parsing: .unconditional, help: S.requestTimeout.argumentHelp)
    var requestTimeout: String?
    @Option(name: .customLong("idle-timeout"), parsing: .unconditional, help: S.idleTimeout.argumentHelp) var idleTimeout: String?
    @Option(name: .customLong("header-timeout"), parsing: .unconditional, help: S.headerTimeout.argumentHelp)
    var headerTimeout: String?
    @Option(name: .customLong("body-timeout"), parsing: .unconditional, help: S.bodyTimeout.argumentHelp) var bodyTimeout: String?
    @Option(name: .customLong("grace-period"), parsing: .unconditional, help: S.gracePeriod.argumentHelp) var gracePeriod: String?
    @Option(name: .customLong("cors-origin"), parsing: .unconditional, help: S.corsOrigin.argumentHelp) var corsOrigin: String?
    @Option(name: .customLong("metrics-cache"), parsing: .unconditional, help: S.metricsCache.argumentHelp) var metricsCache: String?
    @Option(name: .customLong("log-format"), parsing: .unconditional, help: S.logFormat.argumentHelp) var logFormat: String?
    @Option(name: .customLong("log-level"), parsing: .unconditional, help: S.logLevel.argumentHelp) var logLevel: String?
    @Option(name: .customLong("llm"), parsing: .unconditional, help: S.llm.argumentHelp) var llm: String?
    @Option(name: .customLong("retrieval"), parsing: .unconditional, help: S.retrieval.argumentHelp) var retrieval: String?
    @Option(name: .customLong("fusion"), parsing: .unconditional, help: S.fusion.argumentHelp) var fusion: String?
    @Option(name: .customLong("page-fusion"), parsing: .unconditional, help: S.pageFusion.argumentHelp) var pageFusion: String?
    @Option(name: .customLong("neighbours"), parsing: .unconditional, help: S.neighbours.argumentHelp) var neighbours: String?
    @Option(name: .customLong("min-score"), parsing: .unconditional, help: S.minScore.argumentHelp) var minScore: String?
    @Option(name: .customLong("query-rewrites"), parsing: .unconditional, help: S.queryRewrites.argumentHelp)
    var queryRewrites: String?
    @Flag(name: .customLong("hypothetical-answer"), help: ArgumentHelp(S.hypotheticalAnswer.info.helpText))
    var hypotheticalAnswer = false
    @Option(name: .customLong("vector-format"), parsing: .unconditional, help: S.vectorFormat.argumentHelp)
    var vectorFormat: String?
    @Option(name: .customLong("vector-storage"), parsing: .unconditional, help: S.vectorStorage.argumentHelp)
    var vectorStorage: String?
    @Option(name: .customLong("encoder-precision"), parsing: .unconditional, help: S.encoderPrecision.argumentHelp)
    var encoderPrecision: String?
    @Option(name: .customLong("ocr"), parsing: .unconditional, help: S.ocr.argumentHelp) var ocr: String?
    @Option(name: .customLong("ocr-languages"), parsing: .unconditional, help: S.ocrLanguages.argumentHelp)
    var ocrLanguages: String?
    @Option(name: .customLong("ocr-dpi"), parsing: .unconditional, help: S.ocrDPI.argumentHelp) var ocrDPI: String?
    @Option(name: .customLong("ocr-max-pages"), parsing: .unconditional, help: S.ocrMaxPages.argumentHelp)
    var ocrMaxPages: String?
    @Option(name: .customLong("ocr-page-timeout"), parsing: .unconditional, help: S.ocrPageTimeout.argumentHelp)
    var ocrPageTimeout: String?
    @Option(name: .customLong("ocr-min-confidence"), parsing: .unconditional, help: S.ocrMinConfidence.argumentHelp)
    var ocrMinConfidence: String?
    @Option(name: .customLong("redis-url"), parsing: .unconditional, help: S.redisURL.argumentHelp)
    var redisURL: String?
    @Option(name: .customLong("redis-timeout"), parsing: .unconditional, help: S.redisTimeout.argumentHelp)
    var redisTimeout: String?
    @Option(name: .customLong("redis-connect-timeout"), parsing: .unconditional, help: S.redisConnectTimeout.argumentHelp)
    var redisConnectTimeout: String?
    @Option(name: .customLong("redis-connections"), parsing: .unconditional, help: S.redisConnections.argumentHelp)
    var redisConnections: String?
    @Option(name: .customLong("redis-key-prefix"), parsing: .unconditional, help: S.redisKeyPrefix.argumentHelp)
    var redisKeyPrefix: String?
    @Option(name: .customLong("cache"), parsing: .unconditional, help: S.cache.argumentHelp)
    var cache: String?
    @Option(name: .customLong("cache-ttl"), parsing: .unconditional, help: S.cacheTTL.argumentHelp)
    var cacheTTL: String?
    @Option(name: .customLong("cache-embedding-ttl"), parsing: .unconditional, help: S.cacheEmbeddingTTL.argumentHelp)
    var cacheEmbeddingTTL: String?
    @Option(name: .customLong("cache-max-entry-bytes"), parsing: .unconditional, help: S.cacheMaxEntryBytes.argumentHelp)
    var cacheMaxEntryBytes: String?

    /// The flags given, by flag (`--port`), for `ServerConfiguration(flags:environment:)`.
    var flags: [String: String] {
        let given: [(SettingInfo, String?)] = [
            (S.collection.info, collection), (S.databaseURL.info, databaseURL),
            (S.databaseMaxConnections.info, databaseMaxConnections), (S.databaseWait.info, databaseWait), (S.host.info, host), (S.port.info, port), (S.metricsPort.info, metricsPort),
            (S.readOnly.info, readOnly ? "true" : nil), (S.reloadInterval.info, reloadInterval),
            (S.maxUploadBytes.info, maxUploadBytes), (S.maxPages.info, maxPages), (S.maxCharacters.info, maxCharacters),
            (S.maxCharactersPerByte.info, maxCharactersPerByte), (S.minCharacterAllowance.info, minCharacterAllowance),
            (S.maxCollectionChunks.info, maxCollectionChunks), (S.maxFormParts.info, maxFormParts),
            (S.maxPartHeaderBytes.info, maxPartHeaderBytes), (S.rateLimit.info, rateLimit), (S.rateBurst.info, rateBurst),
            (S.authFailureLimit.info, authFailureLimit), (S.trustedProxies.info, trustedProxies),
            (S.forwardedHeader.info, forwardedHeader), (S.maxConcurrentLLM.info, maxConcurrentLLM), (S.llmQueue.info, llmQueue),
            (S.maxConcurrentUploads.info, maxConcurrentUploads), (S.uploadQueue.info, uploadQueue), (S.role.info, role),
            (S.uploadMode.info, uploadMode), (S.jobLease.info, jobLease), (S.workerConcurrency.info, workerConcurrency),
            (S.jobAttempts.info, jobAttempts), (S.indexWait.info, indexWait),
            (S.pageImageWidth.info, pageImageWidth), (S.pageImageMinWidth.info, pageImageMinWidth),
            (S.pageImageMaxWidth.info, pageImageMaxWidth), (S.pageImageMaxPixels.info, pageImageMaxPixels),
            (S.pageImageMaxCharacters.info, pageImageMaxCharacters), (S.pageImageTimeout.info, pageImageTimeout),
            (S.maxConcurrentRenders.info, maxConcurrentRenders), (S.renderQueue.info, renderQueue),
            (S.pageCacheBytes.info, pageCacheBytes),
            (S.maxHistoryMessages.info, maxHistoryMessages), (S.maxHistoryBytes.info, maxHistoryBytes),
            (S.requestTimeout.info, requestTimeout), (S.idleTimeout.info, idleTimeout), (S.headerTimeout.info, headerTimeout),
            (S.bodyTimeout.info, bodyTimeout), (S.gracePeriod.info, gracePeriod), (S.corsOrigin.info, corsOrigin),
            (S.metricsCache.info, metricsCache), (S.logFormat.info, logFormat),
            (S.logLevel.info, logLevel), (S.llm.info, llm), (S.retrieval.info, retrieval), (S.fusion.info, fusion),
            (S.pageFusion.info, pageFusion), (S.neighbours.info, neighbours), (S.minScore.info, minScore),
            (S.queryRewrites.info, queryRewrites), (S.hypotheticalAnswer.info, hypotheticalAnswer ? "true" : nil),
            (S.vectorFormat.info, vectorFormat), (S.vectorStorage.info, vectorStorage), (S.encoderPrecision.info, encoderPrecision),
            (S.ocr.info, ocr), (S.ocrLanguages.info, ocrLanguages), (S.ocrDPI.info, ocrDPI),
            (S.ocrMaxPages.info, ocrMaxPages), (S.ocrPageTimeout.info, ocrPageTimeout),
            (S.ocrMinConfidence.info, ocrMinConfidence),
            (S.redisURL.info, redisURL), (S.redisTimeout.info, redisTimeout), (S.redisConnectTimeout.info, redisConnectTimeout), (S.redisConnections.info, redisConnections), (S.redisKeyPrefix.info, redisKeyPrefix), (S.cache.info, cache), (S.cacheTTL.info, cacheTTL), (S.cacheEmbeddingTTL.info, cacheEmbeddingTTL), (S.cacheMaxEntryBytes.info, cacheMaxEntryBytes),
        ]
        var flags: [String: String] = [:]
        for (info, value) in given { if let flag = info.flag, let value { flags[flag] = value } }
        return flags
    }

    /// Puts OpenBLAS on kernels this CPU runs when it did not recognise the CPU (``OpenBLASCore``), then runs the server.
    static func main() async {
        OpenBLASCore.reexecIfUnrecognized()
        await main(nil)
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        // Configuration errors: one line on stderr, exit code 64, before anything starts.
        let configuration: ServerConfiguration
        let openAI: OpenAIConfiguration?
        let llmClient: any LLMClient
        let tesseract: String?
        do {
            configuration = try ServerConfiguration(flags: flags, environment: environment)
            openAI = try OpenAIConfiguration.fromEnvironment(environment)
            llmClient = try EngineSetup.llm(configuration.llm, openAI: openAI)
            // `RAG_OCR=always` without Tesseract, or a language without its data, stops the server here.
            tesseract = try configuration.engineConfiguration.checkOCR()
        } catch {
            FileHandle.standardError.write(Data("rag-server: error: \(error)\n".utf8))
            throw ExitCode(64)
        }

        let level = configuration.logLevel
        let json = configuration.logFormat == .json
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "rag.server")

        do {
            let directory = configuration.collectionDirectory
            let metrics = RAGMetrics()
            // Redis (optional): started before the engine, which takes its response cache. A Redis that is down
            // now is retried in the background; the server starts and answers without it meanwhile.
            let redis = configuration.redis.map { RedisClient(configuration: $0, metrics: metrics, logger: Logger(label: "rag.redis")) }
            await redis?.start()
            let engine = try await Engine(
                configuration: configuration.engineConfiguration,
                embedder: try await EngineSetup.embedder(
                    collectionDirectory: directory, databaseURL: configuration.databaseURL, choice: nil, openAI: openAI, metrics: metrics,
                    modelsDirectory: EngineSetup.modelsDirectory(environment: environment), logger: logger,
                    encoder: MiniLMEmbedder.Configuration(precision: configuration.encoderPrecision)),
                llm: llmClient, metrics: metrics, logger: Logger(label: "rag.engine"), cache: redis.map { RedisResponseCache(client: $0) })
            let state = ServerState(configuration: configuration, engine: engine, redis: redis, logger: logger)
            let app = buildApplication(state: state) { port in
                logger.info("serving", metadata: [
                    "http.port": "\(port)", "rag.collection": "\(engine.collectionLocation)", "llm.model": "\(engine.llm.model)",
                    "rag.embedder": "\(engine.embedder.identifier)", "rag.read_only": "\(configuration.readOnly)",
                    "rag.ocr": "\(tesseract.map { "\(configuration.ocr.mode.rawValue), Tesseract \($0), \(configuration.ocr.languages)" } ?? (configuration.ocr.mode == .never ? "never" : "off: Tesseract is not installed"))",
                    // The number of keys, never the keys; named so that the log's secret filter lets the count through.
                    "rag.auth.key_count": "\(configuration.apiKeys.count)",
                    "rag.openblas": "\(OpenBLASCore.summary)",
                    "rag.encoder": "\((engine.embedder as? MiniLMEmbedder).map { "\($0.precision.rawValue) (\(configuration.encoderPrecision.rawValue))" } ?? "none")",
                    "rag.vector_format": "\(engine.collection.vectorFormat.rawValue) (\(configuration.engineConfiguration.vectorFormat.rawValue))",
                    "rag.vector_storage": "\(engine.collection.storageFormat.rawValue) (new collections: \(configuration.vectorStorage.rawValue))",
                    "rag.redis": "\(redis.map { "\($0.configuration.redactedURL) (\($0.isUp ? "up" : "unavailable, retrying"); cache \(configuration.cache.isEnabled ? "on" : "off"))" } ?? "none")",
                ])
            }
            var groupConfiguration = ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            groupConfiguration.maximumGracefulShutdownDuration = configuration.gracePeriod
            do {
                try await ServiceGroup(configuration: groupConfiguration).run()
            } catch {
                await engine.close()
                await redis?.shutdown()
                throw error
            }
            await engine.close()
            await redis?.shutdown()
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
    }
}

extension Setting {
    /// The `--help` entry: the table's help, variable and default.
    var argumentHelp: ArgumentHelp { ArgumentHelp(info.helpText, valueName: valueName) }
}

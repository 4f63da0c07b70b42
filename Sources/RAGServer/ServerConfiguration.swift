import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOFoundationEssentialsCompat
import Prometheus
import RAGCore

/// Everything `rag-server` can be told. ``ServerSettings`` names the flag and environment variable of each field,
/// its default and the values it accepts; ``init(flags:environment:readFile:)`` reads them all, and `rag-server
/// --help` and docs/configuration.md list them. Every default below is the table's.
///
/// ```swift
/// var configuration = try ServerConfiguration(flags: ["--port": "8080"], environment: ProcessInfo.processInfo.environment)
/// configuration.corsOrigin = "*"
/// try configuration.validate()
/// ```
public struct ServerConfiguration: Sendable {
    /// The collection directory (not used when ``databaseURL`` is set).
    public var collectionDirectory: URL
    /// The PostgreSQL database holding the collection, shared by every replica; `nil` uses ``collectionDirectory``.
    public var databaseURL: DatabaseURL?
    /// Most connections to ``databaseURL`` at once.
    public var databaseMaxConnections: Int
    /// How long an operation waits for a database connection before it fails (writes then get 503).
    public var databaseWait: Duration
    /// The address to listen on.
    public var host: String
    /// The API and chat page port; 0 asks the system for a free one (the "serving" log line names it).
    public var port: Int
    /// The port for `/metrics`, `/healthz` and `/readyz`, never behind API keys; 0 disables it.
    public var metricsPort: Int
    /// Serving replicas over a collection written by an ingestion job: uploads and deletes are refused and the
    /// collection is reloaded when a new version appears.
    public var readOnly: Bool
    /// How often a read-only server looks for a new collection version.
    public var reloadInterval: Duration
    /// API keys by name; empty means the API is open.
    public var apiKeys: [String: String]
    /// Largest request body (uploads included), in bytes.
    public var maxUploadBytes: Int
    /// Most parts in one `multipart/form-data` upload; a form with more is refused with 413 `too_many_parts` as soon
    /// as the part after the last allowed one begins. Default 16: an upload is one file part plus perhaps a few
    /// fields, and a bound this small makes a form of many tiny parts cost next to nothing.
    public var maxFormParts: Int
    /// Most bytes of headers in one part of a `multipart/form-data` upload (everything between the part's delimiter
    /// and its body); more is refused with 413 `part_header_too_large`.
    public var maxPartHeaderBytes: Int
    /// Requests per minute per client (the API key's name, or the remote address when keys are off); 0 disables.
    public var rateLimitPerMinute: Int
    /// Requests a client may make at once before the per-minute rate applies.
    public var rateLimitBurst: Int
    /// Answers (language model calls) in progress at once.
    public var maxConcurrentAnswers: Int
    /// Answers waiting for a slot; more are refused with 503.
    public var answerQueueLength: Int
    /// Longest time for one request (a whole streamed answer included); then 504, or an error event.
    public var requestTimeout: Duration
    /// How long shutdown waits for requests and streams in flight.
    public var gracePeriod: Duration
    /// Allowed browser origin for CORS; `nil` turns CORS off.
    public var corsOrigin: String?
    /// Bounds on each uploaded document (the server sets pages and characters; the rest keep their defaults).
    public var extraction: ExtractionLimits
    /// Most chunks the collection may hold; 0 is unlimited.
    public var maxCollectionChunks: Int
    /// Bounds on page images for citations (`GET /v1/documents/{id}/pages/{n}/image`): sizes, renders at once, the
    /// cache.
    public var pageRendering: PageRenderLimits
    /// Who answers.
    public var llm: LLMChoice
    /// How passages are found.
    public var retrieval: RetrievalOptions
    /// When scanned pages are read by OCR, and its limits (`RAG_OCR*`). Checked against the machine at start
    /// (``EngineConfiguration/checkOCR()``).
    public var ocr = OCROptions()
    /// The Redis shared by the replicas (`RAG_REDIS_URL`): the response cache and cluster-wide rate limits; `nil`,
    /// neither (each replica's rate limits are its own).
    public var redis: RedisConfiguration? = nil
    /// How answers use the response cache in ``redis`` (`RAG_CACHE`, `RAG_CACHE_TTL`, ...).
    public var cache = CacheOptions()
    /// Query rewriting for answers with a language model (off by default).
    public var queryRewriting: QueryRewriting
    /// The format vector search scans (`--vector-format`): a compact copy beside the exact vectors (`f32` in a
    /// worker, which never searches).
    public var vectorFormat: VectorFormatChoice
    /// The format a collection this server creates stores its vectors in (`--vector-storage`); an existing one keeps
    /// its own.
    public var vectorStorage: VectorFormat
    /// The arithmetic of the MiniLM encoder's dense layers (`--encoder-precision`).
    public var encoderPrecision: MiniLMEmbedder.Precision
    /// How the executable writes logs.
    public var logFormat: LogFormat
    /// The lowest level logged.
    public var logLevel: Logger.Level
    /// The model name the OpenAI-compatible endpoint reports.
    public var servedModelName: String
    /// Most history messages one `/v1/ask` or `/v1/chat/completions` request may carry (for chat completions, the
    /// messages before the question); more is refused with 413 `too_many_history_messages`. Default 256. The engine
    /// itself uses only the last `PromptOptions.maxHistoryMessages` of them.
    public var maxRequestHistoryMessages: Int
    /// Most bytes (UTF-8, all contents together) of the history one `/v1/ask` or `/v1/chat/completions` request may
    /// carry; more is refused with 413 `history_too_large`. Default 1 MiB. The engine itself gives a model call at
    /// most `PromptOptions.maxHistoryTokens` of history.
    public var maxRequestHistoryBytes: Int
    /// How long a rendering of `/metrics` is served again before the next scrape renders anew; scrapes that
    /// arrive while a rendering runs share it. Default 1 s; `.zero` renders for every scrape (one at a time).
    public var metricsCacheInterval: Duration
    /// The idle, header and body timeouts of each connection.
    public var connectionTimeouts: ConnectionTimeouts
    /// Uploads read and indexed at once. An upload takes its slot before its body is read, so bodies held in
    /// memory are bounded by this times ``maxUploadBytes``.
    public var maxConcurrentUploads: Int
    /// Uploads waiting for a slot (their bodies still unread); more are refused with 503 `uploads_busy`.
    public var uploadQueueLength: Int
    /// Wrong or missing API keys a client address may present per minute (and at once) before its API requests
    /// are refused with 429 without checking the key; 0 turns the throttle off.
    public var authFailuresPerMinute: Int
    /// Proxies whose ``forwardedHeader`` names the client (for rate limits); empty: the peer is the client.
    public var trustedProxies: [IPNetwork]
    /// The header trusted proxies name the client in.
    public var forwardedHeader: ForwardedHeader
    /// Who processes uploads and how: the role, inline or queued uploads, the workers' lease and attempts, and the
    /// read-your-writes wait.
    public var ingestion: IngestionConfiguration

    public init(
        collectionDirectory: URL, databaseURL: DatabaseURL? = nil,
        databaseMaxConnections: Int = ServerSettings.databaseMaxConnections.defaultValue,
        databaseWait: Duration = ServerSettings.databaseWait.defaultValue, host: String = ServerSettings.host.defaultValue, port: Int = ServerSettings.port.defaultValue,
        metricsPort: Int = ServerSettings.metricsPort.defaultValue, readOnly: Bool = ServerSettings.readOnly.defaultValue,
        reloadInterval: Duration = ServerSettings.reloadInterval.defaultValue, apiKeys: [String: String] = [:],
        maxUploadBytes: Int = ServerSettings.maxUploadBytes.defaultValue, maxFormParts: Int = ServerSettings.maxFormParts.defaultValue,
        maxPartHeaderBytes: Int = ServerSettings.maxPartHeaderBytes.defaultValue,
        rateLimitPerMinute: Int = ServerSettings.rateLimit.defaultValue, rateLimitBurst: Int = ServerSettings.rateBurst.defaultValue,
        maxConcurrentAnswers: Int = ServerSettings.maxConcurrentLLM.defaultValue,
        answerQueueLength: Int = ServerSettings.llmQueue.defaultValue,
        requestTimeout: Duration = ServerSettings.requestTimeout.defaultValue,
        gracePeriod: Duration = ServerSettings.gracePeriod.defaultValue, corsOrigin: String? = nil,
        extraction: ExtractionLimits = ExtractionLimits(), maxCollectionChunks: Int = ServerSettings.maxCollectionChunks.defaultValue,
        llm: LLMChoice = ServerSettings.llm.defaultValue, retrieval: RetrievalOptions = RetrievalOptions(),
        queryRewriting: QueryRewriting = QueryRewriting(), vectorFormat: VectorFormatChoice = .auto, vectorStorage: VectorFormat = .f32,
        encoderPrecision: MiniLMEmbedder.Precision = .auto,
        logFormat: LogFormat = ServerSettings.logFormat.defaultValue, logLevel: Logger.Level = ServerSettings.logLevel.defaultValue,
        servedModelName: String = "pdf-chatbot", maxRequestHistoryMessages: Int = ServerSettings.maxHistoryMessages.defaultValue,
        maxRequestHistoryBytes: Int = ServerSettings.maxHistoryBytes.defaultValue,
        metricsCacheInterval: Duration = ServerSettings.metricsCache.defaultValue,
        connectionTimeouts: ConnectionTimeouts = ConnectionTimeouts(
            idle: ServerSettings.idleTimeout.defaultValue, header: ServerSettings.headerTimeout.defaultValue,
            body: ServerSettings.bodyTimeout.defaultValue),
        maxConcurrentUploads: Int = ServerSettings.maxConcurrentUploads.defaultValue,
        uploadQueueLength: Int = ServerSettings.uploadQueue.defaultValue,
        authFailuresPerMinute: Int = ServerSettings.authFailureLimit.defaultValue, trustedProxies: [IPNetwork] = [],
        forwardedHeader: ForwardedHeader = ServerSettings.forwardedHeader.defaultValue,
        ingestion: IngestionConfiguration = IngestionConfiguration(),
        pageRendering: PageRenderLimits = PageRenderLimits()
    ) {
        self.pageRendering = pageRendering
        self.collectionDirectory = collectionDirectory
        self.databaseURL = databaseURL
        self.databaseMaxConnections = databaseMaxConnections
        self.databaseWait = databaseWait
        self.host = host
        self.port = port
        self.metricsPort = metricsPort
        self.readOnly = readOnly
        self.reloadInterval = reloadInterval
        self.apiKeys = apiKeys
        self.maxUploadBytes = maxUploadBytes
        self.maxFormParts = maxFormParts
        self.maxPartHeaderBytes = maxPartHeaderBytes
        self.rateLimitPerMinute = rateLimitPerMinute
        self.rateLimitBurst = rateLimitBurst
        self.maxConcurrentAnswers = max(1, maxConcurrentAnswers)
        self.answerQueueLength = max(0, answerQueueLength)
        self.requestTimeout = requestTimeout
        self.gracePeriod = gracePeriod
        self.corsOrigin = corsOrigin
        self.extraction = extraction
        self.maxCollectionChunks = maxCollectionChunks
        self.llm = llm
        self.retrieval = retrieval
        self.queryRewriting = queryRewriting
        self.vectorFormat = vectorFormat
        self.vectorStorage = vectorStorage
        self.encoderPrecision = encoderPrecision
        self.logFormat = logFormat
        self.logLevel = logLevel
        self.servedModelName = servedModelName
        self.maxRequestHistoryMessages = maxRequestHistoryMessages
        self.maxRequestHistoryBytes = maxRequestHistoryBytes
        self.metricsCacheInterval = metricsCacheInterval
        self.connectionTimeouts = connectionTimeouts
        self.maxConcurrentUploads = maxConcurrentUploads
        self.uploadQueueLength = uploadQueueLength
        self.authFailuresPerMinute = authFailuresPerMinute
        self.trustedProxies = trustedProxies
        self.forwardedHeader = forwardedHeader
        self.ingestion = ingestion
    }

    /// The engine's configuration: this collection, limits, retrieval options, query rewriting and read-only mode.
    public var engineConfiguration: EngineConfiguration {
        EngineConfiguration(
            collectionDirectory: collectionDirectory, extraction: extraction, retrieval: retrieval,
            maxCollectionChunks: maxCollectionChunks, readOnly: readOnly, databaseURL: databaseURL,
            databaseMaxConnections: databaseMaxConnections, databaseWait: databaseWait, pageRendering: pageRendering,
            queryRewriting: queryRewriting, ocr: ocr, cache: cache,
            // A worker never searches: a compact copy of the vectors would only take its memory.
            vectorFormat: ingestion.role == .worker ? .f32 : vectorFormat, vectorStorage: vectorStorage)
    }

    /// The bounds on an uploaded `multipart/form-data` body.
    var multipartLimits: MultipartLimits {
        MultipartLimits(maxParts: maxFormParts, maxHeaderBytes: maxPartHeaderBytes)
    }

    /// Parses API keys: `name:key` entries separated by commas or new lines (blank lines and `#` comments are
    /// skipped). A bare key gets the name `key1`, `key2`, ... Text with no entries gives no keys: callers that were
    /// given a setting refuse that (see ``ServerSettings/apiKeys``).
    ///
    /// - Throws: ``ServerConfigurationError`` when a key is shorter than 8 characters or has no name.
    public static func parseAPIKeys(_ text: String) throws(ServerConfigurationError) -> [String: String] {
        var keys: [String: String] = [:]
        var unnamed = 0
        for entry in text.split(whereSeparator: { $0 == "," || $0 == "\n" || $0 == "\r\n" }) {
            let item = entry.trimmingCharacters(in: .whitespacesAndNewlines)
            if item.isEmpty || item.hasPrefix("#") { continue }
            var name: String
            var key: String
            if let colon = item.firstIndex(of: ":") {
                name = item[..<colon].trimmingCharacters(in: .whitespaces)
                key = item[item.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            } else {
                unnamed += 1
                name = "key\(unnamed)"
                key = item
            }
            guard !name.isEmpty, key.count >= 8 else {
                throw ServerConfigurationError("API key '\(name)' is shorter than 8 characters")
            }
            keys[key] = name
        }
        return keys
    }
}

/// A configuration value that cannot be used: one line naming the setting's flag and variable.
public typealias ServerConfigurationError = SettingError

/// Who processes uploads, and how (`--role`, `--upload-mode`, `--job-lease`, `--worker-concurrency`,
/// `--job-attempts`, `--index-wait`).
///
/// With queued uploads, `POST /v1/documents` stores the upload as a job in the collection's store and answers `202`
/// with the document id and its status URL; workers (this process unless its role is `api`, and any other process
/// on the same store) claim and process jobs. With inline uploads, the request itself processes the document and
/// answers `201` once it is searchable: the embedded single-process mode.
public struct IngestionConfiguration: Sendable, Hashable {
    public var role: ServerRole
    public var uploadMode: UploadMode
    /// How long a worker's claim on a job lasts without renewal: a job whose worker died is retried after it.
    public var jobLease: Duration
    /// Jobs this process's worker processes at once.
    public var workerConcurrency: Int
    /// Claims of a job whose worker died before it fails for good (`worker_lost`).
    public var maxJobAttempts: Int
    /// How long a request with `min_index_version` waits for this replica to apply that version.
    public var indexWait: Duration
    /// How often an idle worker looks for queued jobs (an upload to this process wakes it at once).
    public var pollInterval: Duration

    public init(
        role: ServerRole = ServerSettings.role.defaultValue, uploadMode: UploadMode = ServerSettings.uploadMode.defaultValue,
        jobLease: Duration = ServerSettings.jobLease.defaultValue, workerConcurrency: Int = ServerSettings.workerConcurrency.defaultValue,
        maxJobAttempts: Int = ServerSettings.jobAttempts.defaultValue, indexWait: Duration = ServerSettings.indexWait.defaultValue,
        pollInterval: Duration = .seconds(1)
    ) {
        self.role = role
        self.uploadMode = uploadMode
        self.jobLease = jobLease
        self.workerConcurrency = workerConcurrency
        self.maxJobAttempts = maxJobAttempts
        self.indexWait = indexWait
        self.pollInterval = pollInterval
    }

    /// Whether this process runs the ingestion worker.
    public var runsWorker: Bool { role != .api }
}

/// What a `rag-server` process does.
public enum ServerRole: String, Sendable, CaseIterable {
    /// Serves the API and the chat page; queued uploads wait for a worker elsewhere.
    case api
    /// Processes queued uploads; serves only `/healthz` and `/readyz` on the API port (and the metrics port).
    case worker
    /// Both.
    case all
}

/// How `POST /v1/documents` processes an upload.
public enum UploadMode: String, Sendable, CaseIterable {
    /// Queued with a database server (`--database-url`), inline with an embedded collection.
    case auto
    /// Processed in the request: `201` once the document is searchable.
    case inline
    /// Stored as a job: `202` with the status URL at once; a worker processes it.
    case queued
}

/// How `rag-server` writes its logs on stderr.
public enum LogFormat: String, Sendable, CaseIterable {
    /// One JSON object per line (``JSONLogHandler``).
    case json
    /// swift-log's plain text lines.
    case text
}

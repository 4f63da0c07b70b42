import Foundation
import Logging
import RAGCore

/// Every setting of `rag-server`: its flag, environment variable, default, accepted values and help. `rag-server
/// --help` is made from this table, ``ServerConfiguration``'s defaults are its defaults, and a test checks
/// docs/configuration.md's server table against ``all``.
///
/// Numbers are range-checked and must be finite; booleans are `true`, `false`, `1`, `0`, `yes`, `no`, `on` or
/// `off`; anything else stops the server at start with a one-line error naming the flag and the variable.
public enum ServerSettings {
    public static let collection = EngineSettings.collection
    public static let databaseURL = EngineSettings.databaseURL
    public static let databaseURLFile = EngineSettings.databaseURLFile
    public static let databaseMaxConnections = Setting<Int>.integer(
        flag: "--database-max-connections", variable: "RAG_DATABASE_MAX_CONNECTIONS", default: 10, in: 1...1000,
        help: "Most connections to the database at once (the pool's size)")
    public static let databaseWait = Setting<Duration>.seconds(
        flag: "--database-wait", variable: "RAG_DATABASE_WAIT", default: .seconds(10), in: 0.1...600,
        help: "Seconds an operation waits for a database connection; then writes get 503 database_unavailable")
    public static let host = Setting<String>(
        flag: "--host", variable: "RAG_HOST", valueName: "addr", default: "0.0.0.0", defaultText: "0.0.0.0",
        requirement: "a host name or IP address", help: "Address to listen on", accepts: isHost, format: SettingError.quote,
        parser: { $0 })
    public static let port = Setting<Int>.integer(
        flag: "--port", variable: "RAG_PORT", default: 8501, in: 0...65535, note: "0: any free port",
        help: "API and chat page port; 0 picks a free port, which the start-up log gives")
    public static let metricsPort = Setting<Int>.integer(
        flag: "--metrics-port", variable: "RAG_METRICS_PORT", default: 8502, in: 0...65535, note: "0 turns it off",
        help: "Port of /metrics, /healthz and /readyz, never behind API keys; 0 turns it off")
    public static let readOnly = Setting<Bool>.boolean(
        flag: "--read-only", variable: "RAG_READ_ONLY", default: false,
        help: "Serve a collection written by an ingestion job: refuse uploads, follow its changes")
    public static let reloadInterval = Setting<Duration>.seconds(
        flag: "--reload-interval", variable: "RAG_RELOAD_INTERVAL", default: .seconds(10), in: 0.1...86_400,
        help: "Seconds between checks for changes that other processes made to the collection")
    /// `RAG_API_KEYS`: `name:key` entries. A value that holds no key (blank, `,`, comments only) is an error, so a
    /// setting meant to close the API can never leave it open.
    public static let apiKeys = Setting<[String: String]>(
        flag: nil, variable: "RAG_API_KEYS", valueName: "keys", default: [:], defaultText: "none",
        requirement: apiKeysRequirement, help: "API keys, name:key,name2:key2", isSecret: true,
        parser: { text in (try? ServerConfiguration.parseAPIKeys(text)).flatMap { $0.isEmpty ? nil : $0 } })
    /// `RAG_API_KEYS_FILE`: a file of `name:key` lines; like `RAG_API_KEYS`, it must hold at least one key.
    public static let apiKeysFile = Setting<String?>(
        flag: nil, variable: "RAG_API_KEYS_FILE", valueName: "path", default: nil, defaultText: "none",
        requirement: "a file path", help: "File with one name:key per line", format: { $0 ?? "" },
        parser: { $0.isEmpty || $0.contains("\0") ? nil : Optional(Optional($0)) })
    public static let maxUploadBytes = Setting<Int>.integer(
        flag: "--max-upload-bytes", variable: "RAG_MAX_UPLOAD_BYTES", default: 64 << 20, in: 1...Int.max,
        help: "Largest request body in bytes")
    public static let maxPages = Setting<Int>.integer(
        flag: "--max-pages", variable: "RAG_MAX_PAGES", default: ExtractionLimits().maxPages, in: 1...Int.max,
        help: "Most pages per uploaded document")
    public static let maxCharacters = Setting<Int>.integer(
        flag: "--max-characters", variable: "RAG_MAX_CHARACTERS", default: ExtractionLimits().maxCharacters, in: 1...Int.max,
        help: "Most characters of text per uploaded document")
    public static let maxCharactersPerByte = Setting<Double>.number(
        flag: "--max-characters-per-byte", variable: "RAG_MAX_CHARACTERS_PER_BYTE", valueName: "ratio",
        default: ExtractionLimits().maxCharactersPerByte, in: 0...Double.greatestFiniteMagnitude, note: "0 turns the rule off",
        help: "Most characters of text per byte of an uploaded file; 0 turns the rule off")
    public static let minCharacterAllowance = Setting<Int>.integer(
        flag: "--min-character-allowance", variable: "RAG_MIN_CHARACTER_ALLOWANCE",
        default: ExtractionLimits().minimumCharacterAllowance, in: 0...Int.max,
        help: "Characters any upload may yield whatever its size")
    public static let maxCollectionChunks = Setting<Int>.integer(
        flag: "--max-collection-chunks", variable: "RAG_MAX_COLLECTION_CHUNKS", default: EngineConfiguration().maxCollectionChunks,
        in: 0...Int.max, note: "0 is unlimited", help: "Most chunks the collection may hold; 0 is unlimited")
    public static let maxFormParts = Setting<Int>.integer(
        flag: "--max-form-parts", variable: "RAG_MAX_FORM_PARTS", default: 16, in: 1...Int.max,
        help: "Most parts in a multipart/form-data upload; more is 413 too_many_parts")
    public static let maxPartHeaderBytes = Setting<Int>.integer(
        flag: "--max-part-header-bytes", variable: "RAG_MAX_PART_HEADER_BYTES", default: 8 << 10, in: 1...Int.max,
        help: "Most header bytes in one part of a multipart/form-data upload")
    public static let rateLimit = Setting<Int>.integer(
        flag: "--rate-limit", variable: "RAG_RATE_LIMIT", default: 120, in: 0...Int.max, note: "0 turns it off",
        help: "Requests per minute per client; 0 turns the limit off")
    public static let rateBurst = Setting<Int>.integer(
        flag: "--rate-burst", variable: "RAG_RATE_BURST", default: 30, in: 1...Int.max,
        help: "Requests a client may send at once before the rate applies")
    public static let maxConcurrentLLM = Setting<Int>.integer(
        flag: "--max-concurrent-llm", variable: "RAG_MAX_CONCURRENT_LLM", default: 8, in: 1...Int.max,
        help: "Answers in progress at once")
    public static let llmQueue = Setting<Int>.integer(
        flag: "--llm-queue", variable: "RAG_LLM_QUEUE", default: 32, in: 0...Int.max,
        help: "Answers waiting for a slot before new ones get 503")
    public static let requestTimeout = Setting<Duration>.seconds(
        flag: "--request-timeout", variable: "RAG_REQUEST_TIMEOUT", default: .seconds(120), in: 0...86_400, excludingZero: true,
        help: "Seconds a request (a whole streamed answer included) may take")
    public static let gracePeriod = Setting<Duration>.seconds(
        flag: "--grace-period", variable: "RAG_GRACE_PERIOD", default: .seconds(25), in: 0...3_600,
        help: "Seconds to finish requests and streams in flight after SIGTERM")
    public static let idleTimeout = Setting<Duration>.seconds(
        flag: "--idle-timeout", variable: "RAG_IDLE_TIMEOUT", default: .seconds(60), in: 0...86_400, excludingZero: true,
        help: "Seconds a connection may wait between requests, or a request may go without a byte, before it is closed")
    public static let headerTimeout = Setting<Duration>.seconds(
        flag: "--header-timeout", variable: "RAG_HEADER_TIMEOUT", default: .seconds(10), in: 0...86_400, excludingZero: true,
        help: "Seconds from a request's first byte to the end of its headers; then 408 and the connection closes")
    public static let bodyTimeout = Setting<Duration>.seconds(
        flag: "--body-timeout", variable: "RAG_BODY_TIMEOUT", default: .seconds(300), in: 0...86_400, excludingZero: true,
        help: "Seconds from the end of a request's headers to the end of its body; then 408 and the connection closes")
    public static let maxConcurrentUploads = Setting<Int>.integer(
        flag: "--max-concurrent-uploads", variable: "RAG_MAX_CONCURRENT_UPLOADS", default: 2, in: 1...Int.max,
        help: "Uploads read and indexed at once (each may hold a body of up to --max-upload-bytes)")
    public static let uploadQueue = Setting<Int>.integer(
        flag: "--upload-queue", variable: "RAG_UPLOAD_QUEUE", default: 8, in: 0...Int.max,
        help: "Uploads waiting for a slot (their bodies not yet read) before new ones get 503")
    public static let maxHistoryMessages = Setting<Int>.integer(
        flag: "--max-history-messages", variable: "RAG_MAX_HISTORY_MESSAGES", default: 256, in: 0...Int.max,
        help: "Most history messages one ask or chat completion may carry; more is 413")
    public static let maxHistoryBytes = Setting<Int>.integer(
        flag: "--max-history-bytes", variable: "RAG_MAX_HISTORY_BYTES", default: 1 << 20, in: 0...Int.max,
        help: "Most bytes of history one ask or chat completion may carry; more is 413")
    public static let authFailureLimit = Setting<Int>.integer(
        flag: "--auth-failure-limit", variable: "RAG_AUTH_FAILURE_LIMIT", default: 10, in: 0...Int.max, note: "0 turns it off",
        help: "Wrong or missing API keys per minute per client address before its requests get 429; 0 turns it off")
    public static let trustedProxies = Setting<[IPNetwork]>(
        flag: "--trusted-proxies", variable: "RAG_TRUSTED_PROXIES", valueName: "cidrs", default: [], defaultText: "none",
        requirement: "one or more IP networks (10.0.0.0/8, fd00::/8) or addresses, separated by commas",
        help: "Proxies (CIDRs) whose --forwarded-header names the client, for rate limits; none: the peer is the client",
        format: { $0.map(\.description).joined(separator: ",") }, parser: { IPNetwork.list($0) })
    public static let forwardedHeader = Setting<ForwardedHeader>.choice(
        flag: "--forwarded-header", variable: "RAG_FORWARDED_HEADER", valueName: "header", default: .xForwardedFor,
        help: "The header trusted proxies name the client in: x-forwarded-for or forwarded")
    public static let metricsCache = Setting<Duration>.seconds(
        flag: "--metrics-cache", variable: "RAG_METRICS_CACHE", default: .seconds(1), in: 0...60,
        help: "Seconds a rendering of /metrics is served again; 0 renders every scrape (one at a time)")
    public static let corsOrigin = Setting<String?>(
        flag: "--cors-origin", variable: "RAG_CORS_ORIGIN", valueName: "origin", default: nil, defaultText: "off",
        requirement: "* or an origin such as https://example.com:8443 (scheme, host and optional port)",
        help: "Allow this browser origin (or *) to call the API", accepts: { $0.map(isOrigin) ?? true },
        format: { $0.map(SettingError.quote) ?? "off" }, parser: { Optional(Optional($0)) })
    public static let logFormat = Setting<LogFormat>.choice(
        flag: "--log-format", variable: "RAG_LOG_FORMAT", valueName: "format", default: .json, help: "Log format: json or text")
    public static let logLevel = Setting<Logger.Level>.choice(
        flag: "--log-level", variable: "RAG_LOG_LEVEL", valueName: "level", default: .info,
        help: "Log level: trace, debug, info, notice, warning, error, critical")
    public static let role = Setting<ServerRole>.choice(
        flag: "--role", variable: "RAG_ROLE", valueName: "role", default: .all,
        help: "api (serve, queue uploads), worker (process queued uploads) or all (both)")
    public static let uploadMode = Setting<UploadMode>.choice(
        flag: "--upload-mode", variable: "RAG_UPLOAD_MODE", valueName: "mode", default: .auto,
        help: "inline (201 when searchable), queued (202 and a status URL) or auto (queued with a database server)")
    public static let jobLease = Setting<Duration>.seconds(
        flag: "--job-lease", variable: "RAG_JOB_LEASE", default: .seconds(60), in: 1...3600,
        help: "Seconds a worker's claim on a queued upload lasts unrenewed; a job whose worker died is retried after it")
    public static let workerConcurrency = Setting<Int>.integer(
        flag: "--worker-concurrency", variable: "RAG_WORKER_CONCURRENCY", default: 1, in: 1...64,
        help: "Queued uploads this process's worker processes at once")
    public static let jobAttempts = Setting<Int>.integer(
        flag: "--job-attempts", variable: "RAG_JOB_ATTEMPTS", default: 3, in: 1...100,
        help: "Claims of a queued upload whose worker died (or failed for a reason that may pass) before it fails")
    public static let indexWait = Setting<Duration>.seconds(
        flag: "--index-wait", variable: "RAG_INDEX_WAIT", default: .seconds(5), in: 0...300,
        help: "Seconds a request with min_index_version waits for this replica to apply it; then 503 index_behind")
    public static let pageImageWidth = Setting<Int>.integer(
        flag: "--page-image-width", variable: "RAG_PAGE_IMAGE_WIDTH", default: PageRenderLimits().defaultWidth, in: 1...20_000,
        help: "Width in pixels of a page image (citations) when the request names none")
    public static let pageImageMinWidth = Setting<Int>.integer(
        flag: "--page-image-min-width", variable: "RAG_PAGE_IMAGE_MIN_WIDTH", default: PageRenderLimits().minWidth, in: 1...20_000,
        help: "Narrowest page image a request may ask for, in pixels; narrower is 400")
    public static let pageImageMaxWidth = Setting<Int>.integer(
        flag: "--page-image-max-width", variable: "RAG_PAGE_IMAGE_MAX_WIDTH", default: PageRenderLimits().maxWidth, in: 1...20_000,
        help: "Widest page image a request may ask for, in pixels; wider is 400")
    public static let pageImageMaxPixels = Setting<Int>.integer(
        flag: "--page-image-max-pixels", variable: "RAG_PAGE_IMAGE_MAX_PIXELS", default: PageRenderLimits().maxPixels, in: 1...1_000_000_000,
        help: "Most pixels of one page image (a page far taller than wide is refused with 400)")
    public static let pageImageMaxCharacters = Setting<Int>.integer(
        flag: "--page-image-max-characters", variable: "RAG_PAGE_IMAGE_MAX_CHARACTERS", default: PageRenderLimits().maxPageCharacters,
        in: 1...Int.max, help: "Most characters of a page searched for the cited passage; a page with more is drawn without a highlight")
    public static let pageImageTimeout = Setting<Duration>.seconds(
        flag: "--page-image-timeout", variable: "RAG_PAGE_IMAGE_TIMEOUT", default: PageRenderLimits().timeout, in: 0...600,
        excludingZero: true, help: "Seconds one page image may take to draw; a slower page is stopped and refused with 400")
    public static let maxConcurrentRenders = Setting<Int>.integer(
        flag: "--max-concurrent-renders", variable: "RAG_MAX_CONCURRENT_RENDERS", default: PageRenderLimits().concurrency, in: 1...64,
        help: "Page images drawn at once")
    public static let renderQueue = Setting<Int>.integer(
        flag: "--render-queue", variable: "RAG_RENDER_QUEUE", default: PageRenderLimits().maxWaiting, in: 0...Int.max,
        help: "Page images waiting to be drawn before new ones get 503")
    public static let pageCacheBytes = Setting<Int>.integer(
        flag: "--page-cache-bytes", variable: "RAG_PAGE_CACHE_BYTES", default: PageRenderLimits().cacheBytes, in: 0...Int.max,
        note: "0 turns it off", help: "Bytes of page images kept in the cache; 0 turns it off")
    public static let llm = EngineSettings.llm
    public static let retrieval = EngineSettings.retrieval
    public static let fusion = EngineSettings.fusion
    public static let pageFusion = EngineSettings.pageFusion
    public static let neighbours = EngineSettings.neighbours
    public static let minScore = EngineSettings.minScore
    public static let queryRewrites = EngineSettings.queryRewrites
    public static let vectorFormat = EngineSettings.vectorFormat
    public static let vectorStorage = EngineSettings.vectorStorage
    public static let encoderPrecision = EngineSettings.encoderPrecision
    public static let hypotheticalAnswer = EngineSettings.hypotheticalAnswer
    public static let ocr = EngineSettings.ocr
    public static let ocrLanguages = EngineSettings.ocrLanguages
    public static let ocrDPI = EngineSettings.ocrDPI
    public static let ocrMaxPages = EngineSettings.ocrMaxPages
    public static let ocrPageTimeout = EngineSettings.ocrPageTimeout
    public static let ocrMinConfidence = EngineSettings.ocrMinConfidence

    /// Every setting, in the order `--help` and the documentation list them.
    public static let all: [SettingInfo] = [
        collection.info, databaseURL.info, databaseURLFile.info, databaseMaxConnections.info, databaseWait.info, host.info, port.info, metricsPort.info, readOnly.info, reloadInterval.info, apiKeys.info,
        apiKeysFile.info, maxUploadBytes.info, maxPages.info, maxCharacters.info, maxCharactersPerByte.info,
        minCharacterAllowance.info, maxCollectionChunks.info, maxFormParts.info, maxPartHeaderBytes.info, rateLimit.info,
        rateBurst.info, authFailureLimit.info, trustedProxies.info, forwardedHeader.info, maxConcurrentLLM.info, llmQueue.info,
        maxConcurrentUploads.info, uploadQueue.info, role.info, uploadMode.info, jobLease.info, workerConcurrency.info,
        jobAttempts.info, indexWait.info, pageImageWidth.info, pageImageMinWidth.info, pageImageMaxWidth.info,
        pageImageMaxPixels.info, pageImageMaxCharacters.info, pageImageTimeout.info, maxConcurrentRenders.info, renderQueue.info, pageCacheBytes.info,
        maxHistoryMessages.info, maxHistoryBytes.info, requestTimeout.info,
        idleTimeout.info, headerTimeout.info, bodyTimeout.info, gracePeriod.info, corsOrigin.info, metricsCache.info, logFormat.info, logLevel.info, llm.info, retrieval.info, fusion.info, pageFusion.info, neighbours.info, minScore.info,
        queryRewrites.info, hypotheticalAnswer.info, vectorFormat.info, vectorStorage.info, encoderPrecision.info, ocr.info, ocrLanguages.info, ocrDPI.info, ocrMaxPages.info,
        ocrPageTimeout.info, ocrMinConfidence.info,
    ] + redisSettings

    static let apiKeysRequirement =
        "one or more name:key entries (separated by commas or new lines; # starts a comment), each key 8 characters or more"

    /// A host name or an IPv4 or IPv6 address: letters, digits and `.-:_%`, at most 253 characters.
    static func isHost(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 253
            && text.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || ".-:_%".unicodeScalars.contains($0)) }
    }

    /// `*`, or `http(s)://host[:port]` with no path, as browsers send in `Origin`.
    static func isOrigin(_ text: String) -> Bool {
        if text == "*" { return true }
        for scheme in ["http://", "https://"] where text.lowercased().hasPrefix(scheme) {
            let authority = text.dropFirst(scheme.count)
            let parts = authority.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard let host = parts.first, isHost(String(host)), !host.contains(":") else { return false }
            if parts.count == 2 {
                guard let port = Int(parts[1]), (1...65535).contains(port), parts[1].allSatisfy(\.isASCII) else { return false }
            }
            return true
        }
        return false
    }
}

extension ServerConfiguration {
    /// Reads every setting in ``ServerSettings``: the flag from `flags` (keyed by the flag, `--port`, with the text
    /// given; a flag without a value, `--read-only`, as `"true"`) when given, else the environment variable when set,
    /// else the default. API keys come from `RAG_API_KEYS` and the file named by `RAG_API_KEYS_FILE` (both, merged).
    /// Executables pass their process's environment; tests pass their own.
    ///
    /// - Parameter readFile: reads the API keys file (tests pass a fake).
    /// - Throws: ``SettingError``, one line naming the flag and variable of the first value that is not accepted, a
    ///   keys setting that yields no key, or a flag that is not in the table.
    public init(
        flags: [String: String], environment: [String: String],
        readFile: (String) throws -> String = { try String(contentsOfFile: $0, encoding: .utf8) }
    ) throws(SettingError) {
        typealias S = ServerSettings
        let known = Set(S.all.compactMap(\.flag))
        if let unknown = flags.keys.sorted().first(where: { !known.contains($0) }) {
            throw SettingError(flag: unknown, "\(unknown) is not a rag-server setting")
        }
        func value<Value>(_ setting: Setting<Value>) throws(SettingError) -> Value {
            try setting.value(flag: setting.flag.flatMap { flags[$0] }, environment: environment)
        }

        var keys = try value(S.apiKeys)
        if let path = try value(S.apiKeysFile) {
            let text: String
            do {
                text = try readFile(path)
            } catch {
                throw SettingError(
                    variable: "RAG_API_KEYS_FILE", "RAG_API_KEYS_FILE names \(SettingError.quote(path)), which cannot be read")
            }
            guard let fileKeys = S.apiKeys.parser(text) else {
                throw SettingError(
                    variable: "RAG_API_KEYS_FILE",
                    "the file named by RAG_API_KEYS_FILE (\(SettingError.quote(path))) must hold \(S.apiKeysRequirement)")
            }
            keys.merge(fileKeys) { $1 }
        }

        var extraction = ExtractionLimits()
        extraction.maxPages = try value(S.maxPages)
        extraction.maxCharacters = try value(S.maxCharacters)
        extraction.maxCharactersPerByte = try value(S.maxCharactersPerByte)
        extraction.minimumCharacterAllowance = try value(S.minCharacterAllowance)

        let databaseURL = try EngineSettings.databaseURL(flag: flags[S.databaseURL.flag ?? ""], environment: environment, readFile: readFile)
        self.init(
            collectionDirectory: try EngineSettings.collectionDirectory(flag: flags[S.collection.flag ?? ""], environment: environment),
            databaseURL: databaseURL, databaseMaxConnections: try value(S.databaseMaxConnections),
            databaseWait: try value(S.databaseWait),
            host: try value(S.host), port: try value(S.port), metricsPort: try value(S.metricsPort),
            readOnly: try value(S.readOnly), reloadInterval: try value(S.reloadInterval), apiKeys: keys,
            maxUploadBytes: try value(S.maxUploadBytes), maxFormParts: try value(S.maxFormParts),
            maxPartHeaderBytes: try value(S.maxPartHeaderBytes), rateLimitPerMinute: try value(S.rateLimit),
            rateLimitBurst: try value(S.rateBurst), maxConcurrentAnswers: try value(S.maxConcurrentLLM),
            answerQueueLength: try value(S.llmQueue), requestTimeout: try value(S.requestTimeout),
            gracePeriod: try value(S.gracePeriod), corsOrigin: try value(S.corsOrigin), extraction: extraction,
            maxCollectionChunks: try value(S.maxCollectionChunks), llm: try value(S.llm),
            retrieval: try EngineSettings.retrievalOptions(flags: flags, environment: environment),
            queryRewriting: try EngineSettings.queryRewriting(flags: flags, environment: environment),
            vectorFormat: try value(S.vectorFormat), vectorStorage: try value(S.vectorStorage),
            encoderPrecision: try value(S.encoderPrecision),
            logFormat: try value(S.logFormat), logLevel: try value(S.logLevel),
            maxRequestHistoryMessages: try value(S.maxHistoryMessages), maxRequestHistoryBytes: try value(S.maxHistoryBytes),
            metricsCacheInterval: try value(S.metricsCache),
            connectionTimeouts: ConnectionTimeouts(
                idle: try value(S.idleTimeout), header: try value(S.headerTimeout), body: try value(S.bodyTimeout)),
            maxConcurrentUploads: try value(S.maxConcurrentUploads), uploadQueueLength: try value(S.uploadQueue),
            authFailuresPerMinute: try value(S.authFailureLimit), trustedProxies: try value(S.trustedProxies),
            forwardedHeader: try value(S.forwardedHeader),
            ingestion: IngestionConfiguration(
                role: try value(S.role), uploadMode: try value(S.uploadMode), jobLease: try value(S.jobLease),
                workerConcurrency: try value(S.workerConcurrency), maxJobAttempts: try value(S.jobAttempts),
                indexWait: try value(S.indexWait)),
            pageRendering: PageRenderLimits(
                defaultWidth: try value(S.pageImageWidth), minWidth: try value(S.pageImageMinWidth),
                maxWidth: try value(S.pageImageMaxWidth), maxPixels: try value(S.pageImageMaxPixels),
                maxPageCharacters: try value(S.pageImageMaxCharacters), timeout: try value(S.pageImageTimeout),
                concurrency: try value(S.maxConcurrentRenders),
                maxWaiting: try value(S.renderQueue), cacheBytes: try value(S.pageCacheBytes)))
        ocr = try EngineSettings.ocrOptions(flags: flags, environment: environment)
        cache = try Self.cacheOptions(flags: flags, environment: environment)
        var redis = try Self.redisConfiguration(flags: flags, environment: environment, readFile: readFile)
        if let reply = redis?.maxReplyBytes { redis?.maxReplyBytes = max(reply, cache.maxEntryBytes + (64 << 10)) }
        self.redis = redis
        try validate()
    }

    /// Checks every field against its setting's range (for configurations built in code; the reader already has),
    /// the extraction limits the server does not set, and that the two ports differ.
    ///
    /// - Throws: ``ServerConfigurationError`` naming the flag and variable of the first field out of range.
    public func validate() throws(ServerConfigurationError) {
        typealias S = ServerSettings
        try S.host.check(host)
        try S.databaseMaxConnections.check(databaseMaxConnections)
        try S.databaseWait.check(databaseWait)
        try S.port.check(port)
        try S.metricsPort.check(metricsPort)
        try S.reloadInterval.check(reloadInterval)
        try S.maxUploadBytes.check(maxUploadBytes)
        try S.maxFormParts.check(maxFormParts)
        try S.maxPartHeaderBytes.check(maxPartHeaderBytes)
        try S.maxPages.check(extraction.maxPages)
        try S.maxCharacters.check(extraction.maxCharacters)
        try S.maxCharactersPerByte.check(extraction.maxCharactersPerByte)
        try S.minCharacterAllowance.check(extraction.minimumCharacterAllowance)
        try S.maxCollectionChunks.check(maxCollectionChunks)
        try S.rateLimit.check(rateLimitPerMinute)
        try S.rateBurst.check(rateLimitBurst)
        try S.maxConcurrentLLM.check(maxConcurrentAnswers)
        try S.llmQueue.check(answerQueueLength)
        try S.requestTimeout.check(requestTimeout)
        try S.gracePeriod.check(gracePeriod)
        try S.idleTimeout.check(connectionTimeouts.idle)
        try S.headerTimeout.check(connectionTimeouts.header)
        try S.bodyTimeout.check(connectionTimeouts.body)
        try S.maxConcurrentUploads.check(maxConcurrentUploads)
        try S.uploadQueue.check(uploadQueueLength)
        try S.maxHistoryMessages.check(maxRequestHistoryMessages)
        try S.maxHistoryBytes.check(maxRequestHistoryBytes)
        try S.authFailureLimit.check(authFailuresPerMinute)
        try S.metricsCache.check(metricsCacheInterval)
        try S.jobLease.check(ingestion.jobLease)
        try S.workerConcurrency.check(ingestion.workerConcurrency)
        try S.jobAttempts.check(ingestion.maxJobAttempts)
        try S.indexWait.check(ingestion.indexWait)
        try S.pageImageWidth.check(pageRendering.defaultWidth)
        try S.pageImageMinWidth.check(pageRendering.minWidth)
        try S.pageImageMaxWidth.check(pageRendering.maxWidth)
        try S.pageImageMaxPixels.check(pageRendering.maxPixels)
        try S.pageImageMaxCharacters.check(pageRendering.maxPageCharacters)
        try S.pageImageTimeout.check(pageRendering.timeout)
        try S.maxConcurrentRenders.check(pageRendering.concurrency)
        try S.renderQueue.check(pageRendering.maxWaiting)
        try S.pageCacheBytes.check(pageRendering.cacheBytes)
        try S.ocrLanguages.check(ocr.languages)
        try S.ocrDPI.check(ocr.dpi)
        try S.ocrMaxPages.check(ocr.maxPagesPerDocument)
        try S.ocrPageTimeout.check(ocr.pageTimeout)
        try S.ocrMinConfidence.check(ocr.minimumConfidence)
        try validateRedis()
        do {
            try pageRendering.validate()
        } catch {
            let names = [
                "defaultWidth": S.pageImageWidth, "minWidth": S.pageImageMinWidth, "maxWidth": S.pageImageMaxWidth,
                "maxPixels": S.pageImageMaxPixels,
            ]
            let setting = names[error.field].map { " (\($0.name(from: .flag)))" } ?? ""
            throw ServerConfigurationError("the page image limit \(error.field)\(setting) \(error.rule)")
        }
        if readOnly, ingestion.role == .worker {
            throw ServerConfigurationError(
                "--role worker (RAG_ROLE) processes uploads into the collection, which --read-only (RAG_READ_ONLY) forbids")
        }
        try S.corsOrigin.check(corsOrigin)
        try S.fusion.check(retrieval.fusion)
        try S.pageFusion.check(retrieval.pageFusion)
        try S.neighbours.check(retrieval.neighbourChunks)
        try S.minScore.check(retrieval.minimumScore)
        try S.queryRewrites.check(queryRewriting.reformulations)
        for (key, name) in apiKeys where key.count < 8 || name.isEmpty {
            throw ServerConfigurationError("API key '\(name)' is shorter than 8 characters")
        }
        do {
            try extraction.validate()
        } catch {
            throw ServerConfigurationError("the extraction limit \(error.field) \(error.rule)")
        }
        if port != 0 && port == metricsPort {
            throw SettingError(
                flag: S.metricsPort.flag, variable: S.metricsPort.variable,
                "\(S.metricsPort.name(from: .flag)) must differ from \(S.port.name(from: .flag)), not both \(port)")
        }
    }
}

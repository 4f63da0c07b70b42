import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOFoundationEssentialsCompat
import Prometheus
import RAGCore

/// Everything `rag-server` can be told. `rag-server --help` and docs/configuration.md list the flags and
/// environment variables that set each field.
public struct ServerConfiguration: Sendable {
    /// The collection directory.
    public var collectionDirectory: URL
    public var host: String
    /// The API and chat page port. Default 8501.
    public var port: Int
    /// The port for `/metrics`, `/healthz` and `/readyz`, never behind API keys. Default 8502; 0 disables it.
    public var metricsPort: Int
    /// Serving replicas over a collection written by an ingestion job: uploads and deletes are refused and the
    /// collection is reloaded when a new version appears.
    public var readOnly: Bool
    /// How often a read-only server looks for a new collection version.
    public var reloadInterval: Duration
    /// API keys by name; empty means the API is open.
    public var apiKeys: [String: String]
    /// Largest request body (uploads included), in bytes. Default 64 MiB.
    public var maxUploadBytes: Int
    /// Most parts in one `multipart/form-data` upload; a form with more is refused with 413 `too_many_parts` as soon
    /// as the part after the last allowed one begins. Default 16: an upload is one file part plus perhaps a few
    /// fields, and a bound this small makes a form of many tiny parts cost next to nothing.
    public var maxFormParts: Int
    /// Most bytes of headers in one part of a `multipart/form-data` upload (everything between the part's delimiter
    /// and its body); more is refused with 413 `part_header_too_large`. Default 8192.
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

    public init(
        collectionDirectory: URL, host: String = "0.0.0.0", port: Int = 8501, metricsPort: Int = 8502,
        readOnly: Bool = false, reloadInterval: Duration = .seconds(10), apiKeys: [String: String] = [:],
        maxUploadBytes: Int = 64 << 20, maxFormParts: Int = 16, maxPartHeaderBytes: Int = 8 << 10, rateLimitPerMinute: Int = 120, rateLimitBurst: Int = 30,
        maxConcurrentAnswers: Int = 8, answerQueueLength: Int = 32, requestTimeout: Duration = .seconds(120),
        gracePeriod: Duration = .seconds(25), corsOrigin: String? = nil, servedModelName: String = "pdf-chatbot",
        maxRequestHistoryMessages: Int = 256, maxRequestHistoryBytes: Int = 1 << 20, metricsCacheInterval: Duration = .seconds(1)
    ) {
        self.collectionDirectory = collectionDirectory
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
        self.servedModelName = servedModelName
        self.maxRequestHistoryMessages = maxRequestHistoryMessages
        self.maxRequestHistoryBytes = maxRequestHistoryBytes
        self.metricsCacheInterval = metricsCacheInterval
    }

    /// Checks the values that have no sensible meaning below 1 (`maxFormParts`, `maxPartHeaderBytes`), naming
    /// the flag and environment variable of the first one that is out of range.
    public func validate() throws {
        let positive: [(value: Int, flag: String, variable: String)] = [
            (maxFormParts, "--max-form-parts", "RAG_MAX_FORM_PARTS"),
            (maxPartHeaderBytes, "--max-part-header-bytes", "RAG_MAX_PART_HEADER_BYTES"),
        ]
        for setting in positive where setting.value < 1 {
            throw ServerConfigurationError("\(setting.flag) (\(setting.variable)) must be a positive integer, not \(setting.value)")
        }
    }

    /// The bounds on an uploaded `multipart/form-data` body.
    var multipartLimits: MultipartLimits {
        MultipartLimits(maxParts: maxFormParts, maxHeaderBytes: maxPartHeaderBytes)
    }

    /// Parses API keys: `name:key` entries separated by commas or new lines (blank lines and `#` comments are
    /// skipped). A bare key gets the name `key1`, `key2`, ...
    public static func parseAPIKeys(_ text: String) throws -> [String: String] {
        var keys: [String: String] = [:]
        var unnamed = 0
        for entry in text.split(whereSeparator: { $0 == "," || $0 == "\n" }) {
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

/// A configuration value that cannot be used.
public struct ServerConfigurationError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

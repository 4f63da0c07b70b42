import Foundation

/// How to reach an OpenAI-compatible server: OpenAI itself, or Ollama, vLLM, llama.cpp's server, LiteLLM...
///
/// `fromEnvironment` reads the official SDKs' variables, so existing set-ups work unchanged:
///
/// | variable | field | default |
/// | --- | --- | --- |
/// | `OPENAI_API_KEY` | `apiKey` | none |
/// | `OPENAI_API_KEY_FILE` | `apiKey`, read from this file (a mounted secret) | none |
/// | `OPENAI_BASE_URL` | `baseURL` | `https://api.openai.com/v1` |
/// | `OPENAI_ORG_ID` | `organization` (`OpenAI-Organization` header) | none |
/// | `OPENAI_PROJECT_ID` | `project` (`OpenAI-Project` header) | none |
/// | `RAG_LLM_MODEL` | `chatModel` | `gpt-4o-mini` |
/// | `RAG_EMBEDDING_MODEL` | `embeddingModel` | `text-embedding-3-small` |
/// | `RAG_EMBEDDING_DIMENSION` | `embeddingDimension` | known for OpenAI's models, else asked of the server |
/// | `RAG_LLM_CONNECT_TIMEOUT`, `RAG_LLM_TIMEOUT`, `RAG_LLM_IDLE_TIMEOUT` | `timeouts` (seconds) | 10, 300, 60 |
/// | `RAG_LLM_MAX_ATTEMPTS` | `retry.maxAttempts` | 4 |
/// | `RAG_LLM_TEMPERATURE` | `temperature` | the server's default |
/// | `RAG_LLM_MAX_TOKENS` | `maxTokens` | the server's default |
///
/// A language model is configured when `OPENAI_API_KEY` (or its file) or `OPENAI_BASE_URL` is set; a local
/// server such as Ollama needs no key.
public struct OpenAIConfiguration: Sendable, CustomStringConvertible {
    public static let defaultBaseURL = "https://api.openai.com/v1"

    /// The API root, ending in `/v1` for most servers (`http://localhost:11434/v1` for Ollama).
    public var baseURL: String
    /// Sent as `Authorization: Bearer …`; never logged or put in an error message.
    public var apiKey: String?
    public var chatModel: String
    public var embeddingModel: String
    /// The embedding model's vector length, when known in advance.
    public var embeddingDimension: Int?
    public var organization: String?
    public var project: String?
    /// Extra headers sent with every request (a gateway's tenant header, say).
    public var extraHeaders: [String: String]
    public var timeouts: HTTPTimeouts
    public var retry: RetryPolicy
    /// Largest response body accepted, in bytes. Default 16 MiB.
    public var maxResponseBytes: Int
    public var temperature: Double?
    public var maxTokens: Int?
    /// Texts per embeddings request. Default 64.
    public var embeddingBatchSize: Int

    public init(
        baseURL: String = OpenAIConfiguration.defaultBaseURL, apiKey: String? = nil, chatModel: String = "gpt-4o-mini",
        embeddingModel: String = "text-embedding-3-small", embeddingDimension: Int? = nil, organization: String? = nil,
        project: String? = nil, extraHeaders: [String: String] = [:], timeouts: HTTPTimeouts = HTTPTimeouts(),
        retry: RetryPolicy = RetryPolicy(), maxResponseBytes: Int = 16 << 20, temperature: Double? = nil,
        maxTokens: Int? = nil, embeddingBatchSize: Int = 64
    ) {
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.chatModel = chatModel
        self.embeddingModel = embeddingModel
        self.embeddingDimension = embeddingDimension
        self.organization = organization
        self.project = project
        self.extraHeaders = extraHeaders
        self.timeouts = timeouts
        self.retry = retry
        self.maxResponseBytes = maxResponseBytes
        self.temperature = temperature
        self.maxTokens = maxTokens
        self.embeddingBatchSize = max(1, embeddingBatchSize)
    }

    /// The configuration the environment describes, or `nil` when it names no language model (neither an API
    /// key nor a base URL).
    public static func fromEnvironment(_ environment: [String: String]) throws(LLMError) -> OpenAIConfiguration? {
        func value(_ key: String) -> String? {
            guard let value = environment[key]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else { return nil }
            return value
        }
        // Each number is finite and at most a bound, so that converting it (to an Int, to a Duration) cannot trap.
        func number(_ key: String, atMost limit: Double) throws(LLMError) -> Double? {
            guard let text = value(key) else { return nil }
            guard let number = Double(text), number.isFinite, (0...limit).contains(number) else {
                throw LLMError(.configuration, "\(key) must be a number from 0 to \(Int(limit)), not '\(text)'")
            }
            return number
        }
        var apiKey = value("OPENAI_API_KEY")
        if apiKey == nil, let path = value("OPENAI_API_KEY_FILE") {
            do {
                apiKey = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            } catch {
                throw LLMError(.configuration, "cannot read the API key file named by OPENAI_API_KEY_FILE (\(path))")
            }
        }
        let baseURL = value("OPENAI_BASE_URL")
        guard apiKey != nil || baseURL != nil else { return nil }
        var configuration = OpenAIConfiguration(baseURL: baseURL ?? defaultBaseURL, apiKey: apiKey)
        configuration.organization = value("OPENAI_ORG_ID")
        configuration.project = value("OPENAI_PROJECT_ID")
        if let model = value("RAG_LLM_MODEL") { configuration.chatModel = model }
        if let model = value("RAG_EMBEDDING_MODEL") { configuration.embeddingModel = model }
        if let dimension = try number("RAG_EMBEDDING_DIMENSION", atMost: 65_536) { configuration.embeddingDimension = Int(dimension) }
        if let seconds = try number("RAG_LLM_CONNECT_TIMEOUT", atMost: 86_400) { configuration.timeouts.connect = .seconds(seconds) }
        if let seconds = try number("RAG_LLM_TIMEOUT", atMost: 86_400) { configuration.timeouts.total = .seconds(seconds) }
        if let seconds = try number("RAG_LLM_IDLE_TIMEOUT", atMost: 86_400) { configuration.timeouts.idle = .seconds(seconds) }
        if let attempts = try number("RAG_LLM_MAX_ATTEMPTS", atMost: 100) { configuration.retry.maxAttempts = max(1, Int(attempts)) }
        configuration.temperature = try number("RAG_LLM_TEMPERATURE", atMost: 2)
        configuration.maxTokens = try number("RAG_LLM_MAX_TOKENS", atMost: 10_000_000).map { Int($0) }
        try configuration.validate()
        return configuration
    }

    /// Checks that the base URL is an http(s) URL.
    public func validate() throws(LLMError) {
        guard let url = URL(string: baseURL), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), url.host != nil else {
            throw LLMError(.configuration, "the base URL '\(baseURL)' is not an http(s) URL (OPENAI_BASE_URL)")
        }
    }

    /// The endpoint URL for `path` (`chat/completions`, `embeddings`, `models`).
    func endpoint(_ path: String) -> String {
        (baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL) + "/" + path
    }

    /// The headers of every request.
    var headers: [(String, String)] {
        var headers = [("Content-Type", "application/json"), ("Accept", "application/json, text/event-stream")]
        if let apiKey { headers.append(("Authorization", "Bearer \(apiKey)")) }
        if let organization { headers.append(("OpenAI-Organization", organization)) }
        if let project { headers.append(("OpenAI-Project", project)) }
        headers += extraHeaders.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        return headers
    }

    /// Removes the API key from a text that may echo it (a server's error message).
    func redact(_ text: String) -> String {
        guard let apiKey, apiKey.count >= 4 else { return text }
        return text.replacingOccurrences(of: apiKey, with: "[redacted]")
    }

    /// Describes the configuration without the API key.
    public var description: String {
        "OpenAIConfiguration(baseURL: \(baseURL), chatModel: \(chatModel), embeddingModel: \(embeddingModel), apiKey: \(apiKey == nil ? "none" : "set"))"
    }
}

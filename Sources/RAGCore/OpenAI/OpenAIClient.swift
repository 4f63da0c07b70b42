import Foundation

/// Chat completions from an OpenAI-compatible server, whole or streamed (Server-Sent Events), over libcurl.
///
/// Transient failures (connection errors, HTTP 408, 429, 500, 502, 503, 504) are retried with exponential
/// backoff and jitter, honouring `Retry-After`, within `RetryPolicy.maxAttempts` and `totalDeadline`; a stream
/// is never retried once text has reached the caller. Errors are `LLMError`s that say what to do and never
/// contain the API key. Cancelling the calling task aborts the transfer.
///
/// ```swift
/// let client = try OpenAIClient(configuration: OpenAIConfiguration(apiKey: key))
/// for try await event in client.stream(CompletionRequest(messages: [.user("Hi")])) {
///     if case .delta(let text) = event { print(text, terminator: "") }
/// }
/// ```
public struct OpenAIClient: LLMClient {
    public let configuration: OpenAIConfiguration

    public var cacheIdentity: String {
        "openai:\(configuration.baseURL):\(configuration.chatModel):\(configuration.temperature.map { "\($0)" } ?? "-"):\(configuration.maxTokens.map { "\($0)" } ?? "-")"
    }

    public init(configuration: OpenAIConfiguration) throws(LLMError) {
        try configuration.validate()
        self.configuration = configuration
    }

    public var model: String { configuration.chatModel }

    public func complete(_ request: CompletionRequest) async throws -> Completion {
        let body = requestBody(request, stream: false, includeUsage: false)
        let data = try await OpenAIHTTP(configuration: configuration).post("chat/completions", body: body)
        guard let completion = OpenAIWire.decode(OpenAIWire.ChatCompletion.self, from: data), let choice = completion.choices.first
        else {
            throw LLMError(.malformedResponse, "the chat completion response from \(CurlLoop.origin(configuration.baseURL)) is not the expected JSON")
        }
        let text = choice.message.content ?? ""
        let usage = Self.usage(completion.usage) ?? Self.estimatedUsage(request, text)
        return Completion(text: text, usage: usage, model: completion.model ?? model)
    }

    public func stream(_ request: CompletionRequest) -> AsyncThrowingStream<CompletionEvent, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    try await streamWithRetries(request, continuation)
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: OpenAIHTTP.cancellationAware(error))
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    private func streamWithRetries(
        _ request: CompletionRequest, _ continuation: AsyncThrowingStream<CompletionEvent, any Error>.Continuation
    ) async throws {
        let http = OpenAIHTTP(configuration: configuration)
        var includeUsage = true
        var delivered = false
        try await http.withRetries {
            do {
                try await streamOnce(request, includeUsage: includeUsage, continuation, delivered: &delivered)
            } catch let error as LLMError where !delivered && includeUsage && error.status == 400
                && error.message.contains("stream_options")
            {
                // Some servers do not know `stream_options`: ask again without it (usage is then estimated).
                includeUsage = false
                try await streamOnce(request, includeUsage: false, continuation, delivered: &delivered)
            }
        } shouldRetry: { _ in !delivered }
    }

    private func streamOnce(
        _ request: CompletionRequest, includeUsage: Bool,
        _ continuation: AsyncThrowingStream<CompletionEvent, any Error>.Continuation, delivered: inout Bool
    ) async throws {
        let http = OpenAIHTTP(configuration: configuration)
        let events = CurlTransport.shared.send(http.request("chat/completions", body: requestBody(request, stream: true, includeUsage: includeUsage)))
        var parser = SSEParser()
        var status = 0
        var headers: [String: String] = [:]
        var plainBody = Data()
        var isEventStream = true
        var usage: TokenUsage? = nil
        var text = ""
        var sawDone = false
        var sawFinish = false
        for try await event in events {
            switch event {
            case .head(let code, let fields):
                (status, headers) = (code, fields)
                isEventStream = fields["content-type"]?.contains("text/event-stream") ?? true
            case .body(let data):
                guard (200..<300).contains(status), isEventStream else {
                    plainBody.append(data)
                    continue
                }
                let parsed: [ServerSentEvent]
                do { parsed = try parser.feed(data) } catch {
                    throw LLMError(.malformedResponse, "the event stream from \(CurlLoop.origin(configuration.baseURL)) is malformed: \(error)")
                }
                for sse in parsed where !sawDone {
                    if sse.data == "[DONE]" {
                        sawDone = true
                        continue
                    }
                    let data = Data(sse.data.utf8)
                    guard let chunk = OpenAIWire.decode(OpenAIWire.ChatCompletionChunk.self, from: data), chunk.error == nil else {
                        if let failure = OpenAIWire.decode(OpenAIWire.ErrorResponse.self, from: data) {
                            throw http.error(status: 200, headers: [:], body: OpenAIWire.encode(failure))
                        }
                        throw LLMError(.malformedResponse, "the event stream from \(CurlLoop.origin(configuration.baseURL)) carried an event that is not JSON")
                    }
                    if let reported = Self.usage(chunk.usage) { usage = reported }
                    guard let choice = chunk.choices?.first else { continue }
                    if let delta = choice.delta.content, !delta.isEmpty {
                        delivered = true
                        text += delta
                        continuation.yield(.delta(delta))
                    }
                    if let reason = choice.finish_reason, !reason.isEmpty { sawFinish = true }
                }
            }
        }
        try Task.checkCancellation()
        guard (200..<300).contains(status) else { throw http.error(status: status, headers: headers, body: plainBody) }
        if !isEventStream {
            // The server ignored `stream: true` and answered with one JSON completion.
            guard let completion = OpenAIWire.decode(OpenAIWire.ChatCompletion.self, from: plainBody),
                let choice = completion.choices.first
            else { throw LLMError(.malformedResponse, "the chat completion response from \(CurlLoop.origin(configuration.baseURL)) is not the expected JSON") }
            let content = choice.message.content ?? ""
            if !content.isEmpty { delivered = true; continuation.yield(.delta(content)) }
            continuation.yield(.usage(Self.usage(completion.usage) ?? Self.estimatedUsage(request, content)))
            return
        }
        guard sawDone || sawFinish else {
            throw LLMError(.malformedResponse, "the answer stream from \(CurlLoop.origin(configuration.baseURL)) ended before the answer was complete")
        }
        continuation.yield(.usage(usage ?? Self.estimatedUsage(request, text)))
    }

    /// The JSON body of a chat completion request, as sent to `/chat/completions`.
    public func requestBody(_ request: CompletionRequest, stream: Bool, includeUsage: Bool) -> Data {
        OpenAIWire.encode(OpenAIWire.ChatRequest(
            model: configuration.chatModel,
            messages: request.messages.map { OpenAIWire.Message(role: $0.role.rawValue, content: $0.content) },
            stream: stream,
            stream_options: stream && includeUsage ? OpenAIWire.StreamOptions(include_usage: true) : nil,
            temperature: request.temperature ?? configuration.temperature,
            max_tokens: request.maxTokens ?? configuration.maxTokens))
    }

    static func usage(_ usage: OpenAIWire.Usage?) -> TokenUsage? {
        guard let usage else { return nil }
        return TokenUsage(promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens ?? 0, isEstimated: false)
    }

    static func estimatedUsage(_ request: CompletionRequest, _ text: String) -> TokenUsage {
        TokenUsage(promptTokens: TokenEstimator.estimate(request.messages), completionTokens: TokenEstimator.estimate(text), isEstimated: true)
    }
}

/// Requests, retries and error mapping shared by the chat client and the embedder.
struct OpenAIHTTP: Sendable {
    let configuration: OpenAIConfiguration

    func request(_ path: String, body: Data) -> HTTPRequest {
        HTTPRequest(
            url: configuration.endpoint(path), method: "POST", headers: configuration.headers, body: body,
            timeouts: configuration.timeouts, maxResponseBytes: configuration.maxResponseBytes)
    }

    /// POSTs JSON and returns the 2xx response body, retrying transient failures.
    func post(_ path: String, body: Data) async throws -> Data {
        do {
            return try await withRetries {
                let response = try await CurlTransport.shared.data(request(path, body: body))
                try Task.checkCancellation()
                guard (200..<300).contains(response.status) else {
                    throw error(status: response.status, headers: response.headers, body: response.body)
                }
                return response.body
            }
        } catch {
            throw OpenAIHTTP.cancellationAware(error)
        }
    }

    /// Runs `operation`, retrying retryable `LLMError`s as `configuration.retry` allows (and `shouldRetry` agrees).
    func withRetries<T>(_ operation: () async throws -> T, shouldRetry: (LLMError) -> Bool = { _ in true }) async throws -> T {
        let policy = configuration.retry
        let start = ContinuousClock.now
        var attempt = 1
        while true {
            do {
                return try await operation()
            } catch let error as LLMError {
                guard error.isRetryable, shouldRetry(error), attempt < policy.maxAttempts else { throw error }
                let delay = policy.delay(beforeRetry: attempt, retryAfter: error.retryAfter, random: Double.random(in: 0..<1))
                guard ContinuousClock.now - start + delay < policy.totalDeadline else { throw error }
                try await Task.sleep(for: delay)
                attempt += 1
            }
        }
    }

    /// Turns task cancellation into `LLMError.cancelled`.
    static func cancellationAware(_ error: any Error) -> any Error {
        if error is CancellationError { return LLMError(.cancelled, "the request was cancelled") }
        return error
    }

    /// The `LLMError` for a non-2xx response.
    func error(status: Int, headers: [String: String], body: Data) -> LLMError {
        let details = OpenAIWire.decode(OpenAIWire.ErrorResponse.self, from: body)?.error
        let serverMessage = configuration.redact(
            details?.message ?? String(decoding: body.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        let code = details?.code ?? ""
        let origin = CurlLoop.origin(configuration.baseURL)
        let said = serverMessage.isEmpty ? "" : ": \(serverMessage)"
        switch status {
        case 401, 403:
            return LLMError(
                .authentication,
                "\(origin) refused the API key (HTTP \(status))\(said); check OPENAI_API_KEY (or OPENAI_API_KEY_FILE)",
                status: status)
        case 429:
            let wait = OpenAIHTTP.retryAfter(headers)
            let hint = wait.map { "; retry after \(Int($0.seconds.rounded(.up))) s" } ?? ""
            return LLMError(.rateLimited, "\(origin) is rate limiting requests (HTTP 429)\(said)\(hint)", status: status, retryAfter: wait)
        case 408:
            return LLMError(.timeout, "\(origin) timed out waiting for the request (HTTP 408)\(said)", status: status, timeout: .total)
        case 400 where code == "context_length_exceeded" || serverMessage.contains("context length") || serverMessage.contains("maximum context"):
            return LLMError(
                .contextLengthExceeded,
                "the prompt is longer than the model's context window\(said); lower maxPromptTokens or the number of passages",
                status: status)
        case 500...599:
            return LLMError(.server, "\(origin) failed with HTTP \(status)\(said)", status: status)
        case 200:
            return LLMError(.server, "\(origin) reported an error in the stream\(said)", status: nil)
        default:
            return LLMError(.invalidRequest, "\(origin) rejected the request (HTTP \(status))\(said)", status: status)
        }
    }

    /// `retry-after-ms` or `retry-after` (seconds or an HTTP date).
    static func retryAfter(_ headers: [String: String]) -> Duration? {
        if let milliseconds = headers["retry-after-ms"].flatMap(Double.init) { return .milliseconds(Int64(milliseconds)) }
        guard let value = headers["retry-after"] else { return nil }
        if let seconds = Double(value) { return .milliseconds(Int64(seconds * 1000)) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return .milliseconds(Int64(max(0, date.timeIntervalSinceNow) * 1000))
    }
}

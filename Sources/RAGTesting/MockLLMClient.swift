import Synchronization

/// A scripted `LLMClient` for tests: answers with queued replies (or a default), records every request,
/// and fails on demand.
///
/// ```swift
/// let llm = MockLLMClient(replies: ["Paris is the capital [1]."])
/// let engine = try await Engine(llm: llm)
/// _ = try await engine.ask("What is the capital?")
/// #expect(llm.requests.count == 1)
/// ```
public final class MockLLMClient: LLMClient {
    /// What the mock does for one call.
    public enum Reply: Sendable, ExpressibleByStringLiteral {
        /// Answer with this text (streamed in `chunkSize`-character deltas).
        case text(String)
        /// Fail with this error.
        case failure(any Error & Sendable)
        /// Stream these deltas, then fail with the error (a stream that breaks mid-way).
        case partial([String], any Error & Sendable)

        public init(stringLiteral value: String) { self = .text(value) }
    }

    /// The error thrown by `fail(...)` replies created without one.
    public struct Failure: Error, Sendable, Hashable, CustomStringConvertible {
        public var message: String
        public init(_ message: String) { self.message = message }
        public var description: String { message }
    }

    private struct State {
        var replies: [Reply]
        var requests: [CompletionRequest] = []
    }

    public let model: String
    /// Used when the queue of replies is empty.
    public let defaultReply: Reply
    /// Characters per streamed delta.
    public let chunkSize: Int
    /// Pause before each delta (to test slow models); zero by default.
    public let delay: Duration
    /// Usage reported with every answer; `nil` makes the mock report none (as some servers do).
    public let usage: TokenUsage?
    /// Whether `requests` keeps every request (true by default; a load test turns it off, as it grows without bound).
    public let recordsRequests: Bool
    private let state: Mutex<State>

    public init(
        replies: [Reply] = [], defaultReply: Reply = "This is a mock answer [1].", model: String = "mock",
        chunkSize: Int = 4, delay: Duration = .zero,
        usage: TokenUsage? = TokenUsage(promptTokens: 100, completionTokens: 10, isEstimated: false),
        recordsRequests: Bool = true
    ) {
        self.state = Mutex(State(replies: replies))
        self.defaultReply = defaultReply
        self.model = model
        self.chunkSize = max(1, chunkSize)
        self.delay = delay
        self.usage = usage
        self.recordsRequests = recordsRequests
    }

    /// Every request received so far, in order (none when `recordsRequests` is false).
    public var requests: [CompletionRequest] { state.withLock { $0.requests } }

    /// Queues more replies.
    public func enqueue(_ replies: Reply...) { state.withLock { $0.replies += replies } }

    private func next(_ request: CompletionRequest) -> Reply {
        state.withLock { state in
            if recordsRequests { state.requests.append(request) }
            return state.replies.isEmpty ? defaultReply : state.replies.removeFirst()
        }
    }

    public func complete(_ request: CompletionRequest) async throws -> Completion {
        switch next(request) {
        case .text(let text):
            if delay > .zero { try await Task.sleep(for: delay) }
            return Completion(text: text, usage: usage ?? TokenUsage(promptTokens: 0, completionTokens: 0, isEstimated: true), model: model)
        case .failure(let error), .partial(_, let error):
            throw error
        }
    }

    public func stream(_ request: CompletionRequest) -> AsyncThrowingStream<CompletionEvent, any Error> {
        let reply = next(request)
        let (chunkSize, delay, usage) = (self.chunkSize, self.delay, self.usage)
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    switch reply {
                    case .text(let text):
                        var rest = Substring(text)
                        while !rest.isEmpty {
                            if delay > .zero { try await Task.sleep(for: delay) }
                            continuation.yield(.delta(String(rest.prefix(chunkSize))))
                            rest = rest.dropFirst(chunkSize)
                        }
                        if let usage { continuation.yield(.usage(usage)) }
                        continuation.finish()
                    case .failure(let error):
                        continuation.finish(throwing: error)
                    case .partial(let deltas, let error):
                        for delta in deltas { continuation.yield(.delta(delta)) }
                        continuation.finish(throwing: error)
                    }
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

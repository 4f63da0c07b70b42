/// One message of a chat conversation.
public struct ChatMessage: Sendable, Hashable, Codable {
    public enum Role: String, Sendable, Hashable, Codable {
        case system, user, assistant
    }

    public var role: Role
    public var content: String

    public init(role: Role, content: String) {
        self.role = role
        self.content = content
    }

    public static func system(_ content: String) -> Self { Self(role: .system, content: content) }
    public static func user(_ content: String) -> Self { Self(role: .user, content: content) }
    public static func assistant(_ content: String) -> Self { Self(role: .assistant, content: content) }
}

/// Token counts of one completion.
public struct TokenUsage: Sendable, Hashable, Codable {
    public var promptTokens: Int
    public var completionTokens: Int
    /// True when the counts are estimates (the model reported none, or there is no model).
    public var isEstimated: Bool

    public init(promptTokens: Int, completionTokens: Int, isEstimated: Bool) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.isEstimated = isEstimated
    }

    public var totalTokens: Int { promptTokens + completionTokens }
}

/// A numbered passage of context, as cited in answers (`[n]`).
public struct ContextPassage: Sendable, Hashable {
    /// The citation number, from 1.
    public var number: Int
    public var hit: SearchHit

    public init(number: Int, hit: SearchHit) {
        self.number = number
        self.hit = hit
    }
}

/// What a language model is asked to do: the assembled messages, plus the question and its passages for clients
/// that work on them directly (the extractive answerer).
public struct CompletionRequest: Sendable {
    public var messages: [ChatMessage]
    /// The (standalone) question being answered.
    public var question: String
    /// The passages placed in the prompt, numbered as the prompt numbers them.
    public var passages: [ContextPassage]
    /// Largest answer, in tokens; `nil` leaves it to the model.
    public var maxTokens: Int?
    public var temperature: Double?

    public init(
        messages: [ChatMessage], question: String = "", passages: [ContextPassage] = [], maxTokens: Int? = nil,
        temperature: Double? = nil
    ) {
        self.messages = messages
        self.question = question
        self.passages = passages
        self.maxTokens = maxTokens
        self.temperature = temperature
    }
}

/// A finished completion.
public struct Completion: Sendable, Hashable {
    public var text: String
    public var usage: TokenUsage
    /// The model that answered.
    public var model: String

    public init(text: String, usage: TokenUsage, model: String) {
        self.text = text
        self.usage = usage
        self.model = model
    }
}

/// One event of a streamed completion: text deltas as they are produced, then the usage once at the end.
public enum CompletionEvent: Sendable, Hashable {
    case delta(String)
    case usage(TokenUsage)
}

/// A language model, or anything that answers like one.
///
/// RAGCore ships `ExtractiveAnswerer` (the offline default: quotes the best sentences of the passages);
/// `RAGTesting` ships `MockLLMClient` for tests.
public protocol LLMClient: Sendable {
    /// The model name, as reported in metrics and answers.
    var model: String { get }
    /// Whether this is a generative language model (false for the extractive answerer).
    var isGenerative: Bool { get }
    /// What the response cache's answer keys name this model by: everything that changes its answers to the same
    /// prompt (by default the client's type and ``model``; the OpenAI client adds its base URL, temperature and
    /// token limit).
    var cacheIdentity: String { get }
    /// Produces the whole answer.
    func complete(_ request: CompletionRequest) async throws -> Completion
    /// Streams the answer: `.delta` events as text is produced, then one `.usage`.
    func stream(_ request: CompletionRequest) -> AsyncThrowingStream<CompletionEvent, any Error>
}

extension LLMClient {
    public var isGenerative: Bool { true }

    public var cacheIdentity: String { "\(type(of: self)):\(model)" }

    /// A stream built from `complete`: the whole answer as one delta, then the usage. For clients that cannot
    /// stream.
    public func streamByCompleting(_ request: CompletionRequest) -> AsyncThrowingStream<CompletionEvent, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    let completion = try await complete(request)
                    continuation.yield(.delta(completion.text))
                    continuation.yield(.usage(completion.usage))
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

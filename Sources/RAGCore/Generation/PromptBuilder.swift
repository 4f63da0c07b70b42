/// Settings for prompt assembly.
public struct PromptOptions: Sendable, Hashable {
    /// The system message. It tells the model to answer from the passages only, cite them as `[n]`, and say so
    /// when they do not answer the question.
    public var systemPrompt: String
    /// The largest prompt, in estimated tokens (`TokenEstimator`). Lowest-ranked passages are dropped first to fit;
    /// then the oldest history. Default 3000.
    public var maxPromptTokens: Int
    /// How many recent history messages any model call receives (the answer prompt and the follow-up rewrite).
    /// Default 6.
    public var maxHistoryMessages: Int
    /// The most history, in estimated tokens (`TokenEstimator`), that any model call receives: the answer prompt
    /// and the follow-up rewrite. The oldest messages are dropped first; when the newest message alone is over the
    /// budget, it is cut to fit (its beginning kept, ending in ``PromptBuilder/cutMarker``) and the older ones are
    /// dropped. Default 1000 (about 4 KB of English text).
    public var maxHistoryTokens: Int

    public init(
        systemPrompt: String = PromptBuilder.defaultSystemPrompt, maxPromptTokens: Int = 3000, maxHistoryMessages: Int = 6,
        maxHistoryTokens: Int = 1000
    ) {
        self.systemPrompt = systemPrompt
        self.maxPromptTokens = maxPromptTokens
        self.maxHistoryMessages = maxHistoryMessages
        self.maxHistoryTokens = maxHistoryTokens
    }
}

/// An assembled prompt and the passages it cites.
public struct Prompt: Sendable, Hashable {
    public var messages: [ChatMessage]
    /// The passages in the prompt, numbered from 1 in rank order.
    public var passages: [ContextPassage]
    /// Passages retrieved but left out to fit the token budget.
    public var droppedPassages: Int
    public var estimatedTokens: Int
}

/// The prompt was over its budget before any passage was added.
public struct PromptError: Error, Sendable, Hashable, CustomStringConvertible {
    public var estimatedTokens: Int
    public var maxPromptTokens: Int
    public var description: String {
        "the question alone needs about \(estimatedTokens) tokens, over the prompt budget of \(maxPromptTokens) (maxPromptTokens); shorten the question or raise the budget"
    }
}

/// Assembles the chat prompt: system message, recent history, then a user message holding the numbered context
/// passages (each labelled with file and page) and the question.
///
/// ```swift
/// let prompt = try PromptBuilder().build(question: "What is X?", hits: hits, history: [])
/// ```
public struct PromptBuilder: Sendable {
    public static let defaultSystemPrompt = """
        You answer questions about the user's documents using only the numbered context passages given with \
        each question. Cite the passages that support each statement by their numbers in square brackets, \
        like [1] or [2][3]. If the passages do not contain the answer, say that you do not know based on these \
        documents, and do not use outside knowledge. Be concise, and answer in the language of the question.
        """

    public var options: PromptOptions

    public init(options: PromptOptions = PromptOptions()) {
        self.options = options
    }

    /// Builds the prompt from hits in rank order (best first), dropping the lowest-ranked passages that do not fit.
    /// The history is first bounded by ``recentHistory(_:budget:)``.
    public func build(question: String, hits: [SearchHit], history: [ChatMessage] = []) throws(PromptError) -> Prompt {
        var recent = recentHistory(history)
        func messages(_ passages: [ContextPassage]) -> [ChatMessage] {
            [.system(options.systemPrompt)] + recent + [.user(userMessage(question: question, passages: passages))]
        }
        // Without passages it must fit; drop the oldest history first.
        while TokenEstimator.estimate(messages([])) > options.maxPromptTokens && !recent.isEmpty {
            recent.removeFirst()
        }
        let bare = TokenEstimator.estimate(messages([]))
        guard bare <= options.maxPromptTokens else {
            throw PromptError(estimatedTokens: bare, maxPromptTokens: options.maxPromptTokens)
        }
        var passages: [ContextPassage] = []
        var total = bare
        for hit in hits {
            let passage = ContextPassage(number: passages.count + 1, hit: hit)
            let cost = TokenEstimator.estimate(PromptBuilder.format(passage)) + 1
            if total + cost > options.maxPromptTokens { break }
            passages.append(passage)
            total += cost
        }
        let final = messages(passages)
        return Prompt(
            messages: final, passages: passages, droppedPassages: hits.count - passages.count,
            estimatedTokens: TokenEstimator.estimate(final))
    }

    /// What ends a history message that was cut to fit the history budget.
    public static let cutMarker = " […]"

    /// The part of `history` a model call receives: at most ``PromptOptions/maxHistoryMessages`` of the most
    /// recent messages, within `budget` estimated tokens (by default ``PromptOptions/maxHistoryTokens``; a
    /// message costs its content's estimate plus 4), oldest dropped first. When the newest message alone is over
    /// the budget, it is cut to fit, its beginning kept and ``cutMarker`` appended, and nothing older is kept.
    ///
    /// Only the last ``PromptOptions/maxHistoryMessages`` messages are looked at, so the cost does not grow with
    /// the length of `history`.
    public func recentHistory(_ history: [ChatMessage], budget: Int? = nil) -> [ChatMessage] {
        var remaining = min(budget ?? options.maxHistoryTokens, options.maxHistoryTokens)
        var kept: [ChatMessage] = []
        for message in history.suffix(max(0, options.maxHistoryMessages)).reversed() {
            let cost = PromptBuilder.messageOverhead + TokenEstimator.estimate(message.content)
            if cost <= remaining {
                kept.append(message)
                remaining -= cost
                continue
            }
            let room = remaining - PromptBuilder.messageOverhead
            if kept.isEmpty, let cut = PromptBuilder.cut(message.content, toTokens: room) {
                kept.append(ChatMessage(role: message.role, content: cut))
            }
            break
        }
        return kept.reversed()
    }

    /// The estimated tokens of a message besides its content (`TokenEstimator.estimate(_: [ChatMessage])`).
    static let messageOverhead = 4

    /// The beginning of `text` plus ``cutMarker``, within `tokens` estimated tokens, cut on a Unicode scalar
    /// boundary; `nil` when not even the marker and one byte fit.
    static func cut(_ text: String, toTokens tokens: Int) -> String? {
        guard tokens < Int.max / 4 else { return text }
        let bytes = tokens * 4 - cutMarker.utf8.count  // estimate(s) = ceil(bytes / 4) <= tokens
        guard bytes > 0 else { return nil }
        let utf8 = text.utf8
        guard bytes < utf8.count else { return text }
        var end = utf8.index(utf8.startIndex, offsetBy: bytes)
        while end > utf8.startIndex, end.samePosition(in: text.unicodeScalars) == nil { end = utf8.index(before: end) }
        guard end > utf8.startIndex else { return nil }
        return String(text[..<end]) + cutMarker
    }

    /// The user message: numbered passages, then the question.
    public func userMessage(question: String, passages: [ContextPassage]) -> String {
        var text = ""
        if passages.isEmpty {
            text += "Context passages: none were found in the documents.\n\n"
        } else {
            text += "Context passages:\n\n"
            for passage in passages { text += PromptBuilder.format(passage) + "\n\n" }
        }
        text += "Question: \(question)"
        return text
    }

    /// `[n] file.pdf, p. 3` followed by the passage text.
    public static func format(_ passage: ContextPassage) -> String {
        let chunk = passage.hit.chunk
        return "[\(passage.number)] \(chunk.fileName), \(chunk.pageLabel)\n\(chunk.text)"
    }
}

/// Query rewriting for retrieval, with a language model: before an answer's passages are searched, one extra model
/// call writes other phrasings of the (standalone) question and, optionally, a short hypothetical passage that would
/// answer it (HyDE); each is searched as well and the rankings are fused with the question's own.
///
/// Off by default (no reformulations, no passage), and only used with a generative model: the extractive answerer
/// never rewrites. Hit scores and the relevance threshold stay those of the question itself (see
/// `Engine.ask(_:history:)`), so rewriting changes which passages are found, never whether an answer is refused.
///
/// | field | default | meaning |
/// | --- | --- | --- |
/// | `reformulations` | 0 | other phrasings of the question the model is asked for, 0 to ``maxReformulations`` |
/// | `hypotheticalAnswer` | `false` | also ask for a short passage that would answer the question, and search it |
///
/// ```swift
/// var configuration = EngineConfiguration()
/// configuration.queryRewriting = QueryRewriting(reformulations: 3, hypotheticalAnswer: true)
/// ```
public struct QueryRewriting: Sendable, Hashable {
    /// The most reformulations that can be asked for.
    public static let maxReformulations = 8
    /// Most completion tokens the call may use per reformulation (a search query is a line).
    public static let tokensPerReformulation = 40
    /// Most completion tokens the call may use for the hypothetical passage.
    public static let passageTokens = 200
    /// The line that starts the hypothetical passage in the model's reply, when reformulations come first.
    public static let passageMarker = "PASSAGE:"

    /// Other phrasings of the question to search, 0 (none) to ``maxReformulations``.
    public var reformulations: Int
    /// Whether the model also writes a short passage that would answer the question (HyDE), searched as well.
    public var hypotheticalAnswer: Bool

    public init(reformulations: Int = 0, hypotheticalAnswer: Bool = false) {
        self.reformulations = reformulations
        self.hypotheticalAnswer = hypotheticalAnswer
    }

    /// Whether anything is asked of the model.
    public var isEnabled: Bool { count > 0 || hypotheticalAnswer }

    /// The reformulations asked for: ``reformulations`` within 0...``maxReformulations`` (the settings refuse
    /// values outside; a configuration built in code is held to them here).
    var count: Int { min(max(reformulations, 0), Self.maxReformulations) }

    /// The call's completion budget: ``tokensPerReformulation`` per reformulation plus ``passageTokens`` for the
    /// passage.
    public var maxTokens: Int {
        count * Self.tokensPerReformulation + (hypotheticalAnswer ? Self.passageTokens : 0)
    }

    /// The instruction of the rewriting call: reformulations one per line, then (when asked for) the marker line and
    /// the passage; with no reformulations, the passage alone.
    public var instruction: String {
        var parts: [String] = []
        if count > 0 {
            parts.append(
                "Rewrite the user's question as \(count) different search \(count == 1 ? "query" : "queries") that could "
                    + "find the answer in a collection of documents: use other words, synonyms, expanded abbreviations and "
                    + "the terms such documents would use. Write one query per line, with no numbering and no other text.")
        }
        if hypotheticalAnswer {
            let passage = "a short passage (at most 100 words) that could answer the question, written as the documents "
                + "would say it; it is only used to search, so plausible details are fine."
            parts.append(
                count > 0
                    ? "Then write a line with only \(Self.passageMarker) and, after it, \(passage)"
                    : "Write \(passage) Answer with the passage only.")
        }
        return parts.joined(separator: " ")
    }

    /// The messages of the rewriting call for `query`.
    public func messages(for query: String) -> [ChatMessage] {
        [.system(instruction), .user("Question: \(query)")]
    }

    /// What a rewriting call gave: the reformulations to search, and the hypothetical passage.
    public struct Rewrite: Sendable, Hashable {
        public var queries: [String]
        public var passage: String?

        public init(queries: [String] = [], passage: String? = nil) {
            self.queries = queries
            self.passage = passage
        }

        /// Nothing usable.
        public var isEmpty: Bool { queries.isEmpty && passage == nil }

        /// Every text to search besides the question: the reformulations, then the passage.
        public var searches: [String] { queries + (passage.map { [$0] } ?? []) }
    }

    /// Reads the model's `reply`, defensively: lines before the ``passageMarker`` line (or every line, without one)
    /// are reformulations, stripped of numbering (`1.`, `2)`), bullets (`-`, `*`, `•`), surrounding quotes and a
    /// `Query:` label; empty lines, preambles ending in `:`, lines equal to `query` or to an earlier line (ignoring
    /// case) are dropped; at most ``reformulations`` are kept. The text after the marker (or the whole reply, when no
    /// reformulations were asked for) is the passage. Each line and the passage are cut to `maxBytes` UTF-8 bytes, on
    /// a character boundary (`EngineConfiguration.maxQuestionBytes`).
    public func parse(_ reply: String, query: String, maxBytes: Int) -> Rewrite {
        var rewrite = Rewrite()
        var lines = reply.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
        var passageLines: [String] = []
        if let marker = lines.firstIndex(where: { Self.isMarker($0) }) {
            let line = lines[marker].trimmingWhitespace()
            let rest = line.dropFirst(Self.passageMarker.count)
            passageLines = [String(rest)] + lines[(marker + 1)...]
            lines = Array(lines[..<marker])
        } else if count == 0 && hypotheticalAnswer {
            passageLines = lines
            lines = []
        }
        if hypotheticalAnswer {
            let passage = Self.cut(passageLines.joined(separator: "\n").trimmingWhitespace(), maxBytes)
            if !passage.isEmpty { rewrite.passage = passage }
        }
        var seen: Set<String> = [query.trimmingWhitespace().lowercased()]
        for line in lines where rewrite.queries.count < count {
            let cleaned = Self.cut(Self.clean(line), maxBytes)
            guard !cleaned.isEmpty, !cleaned.hasSuffix(":"), seen.insert(cleaned.lowercased()).inserted else { continue }
            rewrite.queries.append(cleaned)
        }
        return rewrite
    }

    static func isMarker(_ line: String) -> Bool {
        line.trimmingWhitespace().uppercased().hasPrefix(passageMarker)
    }

    /// A line without its numbering, bullet, `Query:` label and surrounding quotes.
    static func clean(_ line: String) -> String {
        var text = Substring(line.trimmingWhitespace())
        // Numbering: "1.", "2)", "(3)", "4 -".
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        if !digits.isEmpty {
            let after = text.dropFirst(digits.count)
            if let mark = after.first, ".):-".contains(mark) { text = after.dropFirst() }
        } else if text.hasPrefix("("), let close = text.firstIndex(of: ")"),
            text[text.index(after: text.startIndex)..<close].allSatisfy({ $0.isASCII && $0.isNumber })
        {
            text = text[text.index(after: close)...]
        }
        text = Substring(String(text).trimmingWhitespace())
        while let first = text.first, "-*•–".contains(first) { text = Substring(String(text.dropFirst()).trimmingWhitespace()) }
        for label in ["query:", "search query:"] where text.lowercased().hasPrefix(label) {
            text = Substring(String(text.dropFirst(label.count)).trimmingWhitespace())
        }
        let quotes: [(Character, Character)] = [("\"", "\""), ("'", "'"), ("“", "”"), ("«", "»"), ("`", "`")]
        for (open, close) in quotes where text.count >= 2 && text.first == open && text.last == close {
            text = text.dropFirst().dropLast()
            break
        }
        return String(text).trimmingWhitespace()
    }

    /// `text` cut to at most `maxBytes` UTF-8 bytes, on a character boundary.
    static func cut(_ text: String, _ maxBytes: Int) -> String {
        guard text.utf8.count > maxBytes else { return text }
        var result = ""
        var bytes = 0
        for character in text {
            let size = character.utf8.count
            if bytes + size > maxBytes { break }
            result.append(character)
            bytes += size
        }
        return result.trimmingWhitespace()
    }
}

import Foundation

/// The offline default answerer: no language model, it quotes the sentences of the retrieved passages that best
/// match the question, cites each as `[n]`, and says plainly that no language model is configured.
///
/// Sentences are scored by the distinct question words they contain (stop words ignored, plural folded), each
/// weighted by how rare it is among the passages' sentences (IDF), with a small bonus for higher-ranked passages.
/// At most `maxSentences` are quoted, in passage order, and only those scoring at least `minimumRelativeScore` of
/// the best.
public struct ExtractiveAnswerer: LLMClient {
    public var maxSentences: Int
    /// Longest quoted sentence, in characters; longer ones are cut with "…".
    public var maxSentenceLength: Int
    /// A sentence is quoted only if its score is at least this fraction of the best sentence's.
    public var minimumRelativeScore: Double

    public init(maxSentences: Int = 3, maxSentenceLength: Int = 400, minimumRelativeScore: Double = 0.6) {
        self.maxSentences = maxSentences
        self.maxSentenceLength = maxSentenceLength
        self.minimumRelativeScore = minimumRelativeScore
    }

    public var model: String { "extractive" }
    public var isGenerative: Bool { false }

    /// The note appended to every extractive answer.
    public static let notice = "(No language model is configured, so this answer quotes your documents directly. Set OPENAI_API_KEY, or OPENAI_BASE_URL for a local OpenAI-compatible server, to get written answers.)"

    public func complete(_ request: CompletionRequest) async throws -> Completion {
        let text = answer(question: request.question, passages: request.passages)
        let usage = TokenUsage(
            promptTokens: TokenEstimator.estimate(request.messages), completionTokens: TokenEstimator.estimate(text),
            isEstimated: true)
        return Completion(text: text, usage: usage, model: model)
    }

    public func stream(_ request: CompletionRequest) -> AsyncThrowingStream<CompletionEvent, any Error> {
        let text = answer(question: request.question, passages: request.passages)
        let usage = TokenUsage(
            promptTokens: TokenEstimator.estimate(request.messages), completionTokens: TokenEstimator.estimate(text),
            isEstimated: true)
        return AsyncThrowingStream { continuation in
            // Word by word, as a model would stream it.
            var piece = ""
            for character in text {
                piece.append(character)
                if character == " " || character == "\n" {
                    continuation.yield(.delta(piece))
                    piece = ""
                }
            }
            if !piece.isEmpty { continuation.yield(.delta(piece)) }
            continuation.yield(.usage(usage))
            continuation.finish()
        }
    }

    /// The extractive answer text for a question and its numbered passages.
    public func answer(question: String, passages: [ContextPassage]) -> String {
        // Words as the BM25 index sees them (stop words dropped, stemmed): "days" in a question matches "day".
        let analyzer = TextAnalyzer()
        let questionWords = Set(analyzer.terms(in: question))
        struct Candidate {
            var passage: Int
            var position: Int
            var text: String
            var score: Double
        }
        // Each sentence's distinct question words; words found in fewer sentences weigh more (IDF).
        var sentences: [(passage: ContextPassage, rank: Int, position: Int, text: String, words: Set<String>)] = []
        var frequency: [String: Int] = [:]
        for (rank, passage) in passages.enumerated() {
            for (position, sentence) in ExtractiveAnswerer.sentences(passage.hit.chunk.text).enumerated() {
                let seen = Set(analyzer.terms(in: sentence)).intersection(questionWords)
                for word in seen { frequency[word, default: 0] += 1 }
                sentences.append((passage, rank, position, sentence, seen))
            }
        }
        let total = Double(max(1, sentences.count))
        var candidates: [Candidate] = []
        for sentence in sentences where !sentence.words.isEmpty {
            let weight = sentence.words.reduce(0.0) { $0 + log(1 + total / Double(frequency[$1] ?? 1)) }
            let score = weight * (1 + 0.2 / Double(sentence.rank + 1))
            candidates.append(Candidate(passage: sentence.passage.number, position: sentence.position, text: sentence.text, score: score))
        }
        // Quote only sentences that come close to the best one.
        let best = candidates.map(\.score).max() ?? 0
        let chosen = candidates.filter { $0.score >= best * minimumRelativeScore }.sorted { $0.score > $1.score }
            .prefix(maxSentences).sorted { ($0.passage, $0.position) < ($1.passage, $1.position) }
        guard !chosen.isEmpty else {
            return "The documents do not seem to answer this question.\n\n" + ExtractiveAnswerer.notice
        }
        var text = "From your documents:\n"
        for candidate in chosen {
            var sentence = candidate.text
            if sentence.count > maxSentenceLength { sentence = String(sentence.prefix(maxSentenceLength)) + "…" }
            text += "- \"\(sentence)\" [\(candidate.passage)]\n"
        }
        return text + "\n" + ExtractiveAnswerer.notice
    }

    /// Splits text into sentences at `.`, `!` or `?` followed by white space, and at paragraph breaks.
    static func sentences(_ text: String) -> [String] {
        var result: [String] = []
        var current = ""
        var previous: Character = " "
        for character in text {
            if character == "\n" && previous == "\n" {
                let trimmed = current.trimmingWhitespace()
                if !trimmed.isEmpty { result.append(trimmed) }
                current = ""
            } else if character.isWhitespace && (previous == "." || previous == "!" || previous == "?") {
                let trimmed = current.trimmingWhitespace()
                if !trimmed.isEmpty { result.append(trimmed) }
                current = ""
            } else {
                current.append(character)
            }
            previous = character
        }
        let trimmed = current.trimmingWhitespace()
        if !trimmed.isEmpty { result.append(trimmed) }
        return result
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return String(slice)
    }
}

import Foundation

/// The sentence of a cited passage that supports an answer, for showing a citation as a checkable quote.
extension Citation {
    /// Longest quoted sentence, in characters; a longer one is cut with "…".
    public static let maxQuoteLength = 300

    /// The sentence of this passage that best supports `answer` (or, when no sentence shares a word with it, the
    /// question): the one sharing the most distinct words with the answer's text, then with the question, weighted by
    /// how rare each word is among the passage's sentences; the first sentence when none shares any. Words are
    /// compared as the BM25 index sees them (stop words dropped, stemmed). At most ``maxQuoteLength`` characters.
    ///
    /// ```swift
    /// for citation in answer.citations {
    ///     print("[\(citation.number)] \"\(citation.quote(question: answer.question, answer: answer.text))\" (\(citation.label))")
    /// }
    /// ```
    public func quote(question: String, answer: String) -> String {
        let sentences = ExtractiveAnswerer.sentences(snippet)
        guard !sentences.isEmpty else { return Self.shortened(snippet.trimmingWhitespace()) }
        let analyzer = TextAnalyzer()
        let words = sentences.map { Set(analyzer.terms(in: $0)) }
        var frequency: [String: Int] = [:]
        for set in words { for word in set { frequency[word, default: 0] += 1 } }
        // The answer without its [n] markers; the question as a tie-break.
        let answerWords = Set(analyzer.terms(in: answer.replacing(/\[\d+(?:\s*,\s*\d+)*\]/, with: " ")))
        let questionWords = Set(analyzer.terms(in: question))
        let total = Double(sentences.count)
        func weight(_ shared: Set<String>) -> Double {
            shared.reduce(0.0) { $0 + log(1 + total / Double(frequency[$1] ?? 1)) }
        }
        var best = 0
        var bestScore = (answer: 0.0, question: 0.0)
        for (index, set) in words.enumerated() {
            let score = (answer: weight(set.intersection(answerWords)), question: weight(set.intersection(questionWords)))
            if score.answer > bestScore.answer || (score.answer == bestScore.answer && score.question > bestScore.question) {
                best = index
                bestScore = score
            }
        }
        return Self.shortened(sentences[best])
    }

    static func shortened(_ sentence: String) -> String {
        let flat = sentence.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        return flat.count > maxQuoteLength ? String(flat.prefix(maxQuoteLength)) + "…" : flat
    }
}

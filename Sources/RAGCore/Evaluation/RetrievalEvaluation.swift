import Foundation

/// The half of an evaluation set a question belongs to: defaults are tuned on one and reported on the other.
public enum EvaluationSplit: String, Sendable, Hashable, Codable, CaseIterable {
    /// Questions the defaults may be tuned on.
    case tune
    /// Questions held out to report how the tuned defaults do on documents nobody tuned on.
    case test
}

/// One line of an evaluation file: a question and where its answer is.
///
/// ```json
/// {"question": "How do I get a running total of a vector?", "file": "octave.pdf", "pages": [412], "paraphrased": true, "split": "tune"}
/// ```
///
/// A question without `file` or with empty `pages` has no answer in the documents: it measures whether the
/// engine says so (`RetrievalOptions.minimumScore`) instead of citing weak matches.
public struct EvaluationQuestion: Sendable, Hashable, Codable {
    public var question: String
    /// The file name (not a path) of the document that answers it.
    public var file: String?
    /// The 1-based pages that answer it.
    public var pages: [Int]
    /// Whether the question avoids the distinctive words of its page (`nil` when not said).
    public var paraphrased: Bool?
    /// The half of the set it belongs to (`nil` when the file does not split its questions).
    public var split: EvaluationSplit?

    public init(question: String, file: String?, pages: [Int], paraphrased: Bool? = nil, split: EvaluationSplit? = nil) {
        self.question = question
        self.file = file
        self.pages = pages
        self.paraphrased = paraphrased
        self.split = split
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        question = try container.decode(String.self, forKey: .question)
        file = try container.decodeIfPresent(String.self, forKey: .file)
        pages = try container.decodeIfPresent([Int].self, forKey: .pages) ?? []
        paraphrased = try container.decodeIfPresent(Bool.self, forKey: .paraphrased)
        if let name = try container.decodeIfPresent(String.self, forKey: .split) {
            guard let split = EvaluationSplit(rawValue: name) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .split, in: container, debugDescription: "\"split\" is \"tune\" or \"test\", not \"\(name)\"")
            }
            self.split = split
        }
    }

    /// Whether the documents answer the question.
    public var isAnswerable: Bool { file != nil && !pages.isEmpty }

    /// Whether `chunk` is from the answer's file and shares a page with it.
    public func isRelevant(_ chunk: Chunk) -> Bool {
        guard let file, chunk.fileName == file else { return false }
        return pages.contains { chunk.pageStart <= $0 && $0 <= chunk.pageEnd }
    }

    /// Reads a JSON Lines file; blank lines and lines starting with `#` are skipped.
    ///
    /// - Throws: `EvaluationError` naming the file and line of the first bad line.
    public static func load(contentsOf url: URL) throws(EvaluationError) -> [EvaluationQuestion] {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw EvaluationError("\(url.path): cannot read: \(error.localizedDescription)")
        }
        var questions: [EvaluationQuestion] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#") else { continue }
            let question: EvaluationQuestion
            do { question = try JSONDecoder().decode(EvaluationQuestion.self, from: Data(trimmed.utf8)) } catch {
                throw EvaluationError(
                    "\(url.path):\(number + 1): not a question object {\"question\": …, \"file\": …, \"pages\": […]}: \(EvaluationError.describe(error))")
            }
            guard !question.question.trimmingWhitespace().isEmpty else {
                throw EvaluationError("\(url.path):\(number + 1): the question is empty")
            }
            guard question.pages.allSatisfy({ $0 >= 1 }) else {
                throw EvaluationError("\(url.path):\(number + 1): pages are 1-based")
            }
            questions.append(question)
        }
        return questions
    }
}

extension EvaluationQuestion {
    /// Checks that `questions` are split by document, as a fair tuning / test split must be: every question has a
    /// split, and all the questions on one file are in the same half.
    ///
    /// - Throws: `EvaluationError` naming the first question without a split, or a file found in both halves.
    public static func checkSplit(_ questions: [EvaluationQuestion]) throws(EvaluationError) {
        if let unsplit = questions.first(where: { $0.split == nil }) {
            throw EvaluationError("the question \"\(unsplit.question)\" has no \"split\" (\"tune\" or \"test\")")
        }
        var halves: [String: EvaluationSplit] = [:]
        for question in questions {
            guard let file = question.file, let split = question.split else { continue }
            if let other = halves[file], other != split {
                throw EvaluationError("\(file) has questions in both the tune and the test split: the set is split by document")
            }
            halves[file] = split
        }
    }
}

/// A bad evaluation file.
public struct EvaluationError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "missing \"\(key.stringValue)\""
        case DecodingError.dataCorrupted(let context) where !context.codingPath.isEmpty: context.debugDescription
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "wrong type at \"\(context.codingPath.map(\.stringValue).joined(separator: "."))\""
        default: "invalid JSON"
        }
    }
}

/// Rank-based retrieval quality over a set of answerable questions.
public struct RetrievalScores: Sendable, Hashable, Codable {
    public var questions: Int
    /// Fraction of questions with a relevant passage first.
    public var recallAt1: Double
    /// Fraction with a relevant passage in the first 5.
    public var recallAt5: Double
    /// Fraction with a relevant passage in the first 10.
    public var recallAt10: Double
    /// Mean of 1 / rank of the first relevant passage (0 when none is in the first 10).
    public var mrrAt10: Double

    /// The scores for questions whose first relevant passage had these 1-based ranks (`nil`: not found).
    public init(firstRelevantRanks ranks: [Int?]) {
        questions = ranks.count
        let count = Double(max(1, ranks.count))
        func recall(_ k: Int) -> Double { Double(ranks.filter { ($0 ?? .max) <= k }.count) / count }
        recallAt1 = recall(1)
        recallAt5 = recall(5)
        recallAt10 = recall(10)
        mrrAt10 = ranks.reduce(0) { sum, rank in sum + (rank.map { $0 <= 10 ? 1 / Double($0) : 0 } ?? 0) } / count
    }

    enum CodingKeys: String, CodingKey {
        case questions
        case recallAt1 = "recall@1"
        case recallAt5 = "recall@5"
        case recallAt10 = "recall@10"
        case mrrAt10 = "mrr@10"
    }
}

/// How well a similarity threshold separates questions the documents answer from those they do not, from the
/// best cosine similarity among the passages retrieved for each.
public struct ThresholdAnalysis: Sendable, Hashable, Codable {
    /// Best similarity per answerable question, ascending.
    public var answerable: [Float]
    /// Best similarity per unanswerable question, ascending.
    public var unanswerable: [Float]

    public init(answerable: [Float], unanswerable: [Float]) {
        self.answerable = answerable.sorted()
        self.unanswerable = unanswerable.sorted()
    }

    /// Fraction of answerable questions still answered at `threshold`.
    public func kept(at threshold: Float) -> Double {
        answerable.isEmpty ? 1 : Double(answerable.filter { $0 >= threshold }.count) / Double(answerable.count)
    }

    /// Fraction of unanswerable questions refused at `threshold`.
    public func refused(at threshold: Float) -> Double {
        unanswerable.isEmpty ? 0 : Double(unanswerable.filter { $0 < threshold }.count) / Double(unanswerable.count)
    }

    /// The highest threshold, rounded down to 0.01, that still answers at least `keep` of the answerable
    /// questions (all of them by default): it refuses as many unanswerable ones as possible at that cost.
    public func threshold(keeping keep: Double = 1) -> Float? {
        guard !answerable.isEmpty else { return nil }
        let allowedMisses = Int((Double(answerable.count) * (1 - keep)).rounded(.down))
        return (answerable[min(allowedMisses, answerable.count - 1)] * 100).rounded(.down) / 100
    }

    static func median(_ sorted: [Float]) -> Float? {
        guard !sorted.isEmpty else { return nil }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    public var answerableMedian: Float? { ThresholdAnalysis.median(answerable) }
    public var unanswerableMedian: Float? { ThresholdAnalysis.median(unanswerable) }
}

/// How passages are found for a query.
///
/// | field | default | meaning |
/// | --- | --- | --- |
/// | `mode` | `.hybrid` | `.vector` (embeddings), `.lexical` (BM25) or `.hybrid` (both, fused) |
/// | `fusion` | `.automatic` | how hybrid mode combines the two rankings: the embedder's measured weight |
/// | `candidates` | 50 | hits taken from each retriever before fusing (at least the `k` asked for) |
/// | `pageFusion` | `.weighted(0.3)` | one hit per page, ranked by its best chunk plus a share of the page's other chunks |
/// | `neighbourChunks` | 1 | for answers: chunks before and after each hit, on the same pages, merged into its passage |
/// | `minimumScore` | `.automatic` | for answers: below this cosine similarity the engine says the documents do not answer |
///
/// The defaults were chosen by measurement on the evaluation set: see `docs/retrieval.md`.
public struct RetrievalOptions: Sendable, Hashable {
    public enum Mode: String, Sendable, Hashable, CaseIterable {
        /// Cosine similarity of embeddings.
        case vector
        /// BM25 over the words of the chunks.
        case lexical
        /// Both rankings, combined by `fusion`.
        case hybrid
    }

    /// How two rankings become one.
    public enum Fusion: Sendable, Hashable, CustomStringConvertible {
        /// `.weighted` with the embedder's measured `RetrievalCalibration.vectorWeight` (0.5 when unmeasured).
        case automatic
        /// Reciprocal rank fusion: each hit scores `Σ 1 / (k + rank)` over the rankings it appears in.
        case reciprocalRank(k: Int)
        /// Each ranking's scores min-max normalised over its candidates, then
        /// `vectorWeight · vector + (1 − vectorWeight) · lexical`.
        case weighted(vectorWeight: Float)

        public var description: String {
            switch self {
            case .automatic: "auto"
            case .reciprocalRank(let k): "rrf:\(k)"
            case .weighted(let weight): "weighted:\(weight)"
            }
        }

        /// The largest `K` of `rrf:K` that ``init(_:)`` accepts. Scores are `1 / (K + rank)`: far beyond the usual 60,
        /// every hit scores alike, and near `Int.max` the sum would overflow.
        public static let maxRankConstant = 1_000_000

        /// Parses `auto`, `rrf`, `rrf:K` (K from 0 to ``maxRankConstant``), `weighted` or `weighted:W` (W between 0
        /// and 1).
        public init?(_ text: String) {
            let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
            switch parts.first?.lowercased() {
            case "auto" where parts.count == 1:
                self = .automatic
            case "rrf":
                guard parts.count == 1 else {
                    guard let k = Int(parts[1]), (0...Self.maxRankConstant).contains(k) else { return nil }
                    self = .reciprocalRank(k: k)
                    return
                }
                self = .reciprocalRank(k: 60)
            case "weighted":
                guard parts.count == 1 else {
                    guard let weight = Float(parts[1]), (0...1).contains(weight) else { return nil }
                    self = .weighted(vectorWeight: weight)
                    return
                }
                self = .weighted(vectorWeight: 0.5)
            default:
                return nil
            }
        }
    }

    /// How the chunks of one page combine. Citations are per page, so by default a page takes one place in the
    /// results, however many of its chunks match.
    public enum PageFusion: Sendable, Hashable, CustomStringConvertible {
        /// Chunks ranked one by one: one page may take several places.
        case off
        /// One hit per page (the page a chunk starts on): the page's best chunk, ranked by that chunk's score plus
        /// `weight` times the (non-negative) scores of the page's other candidate chunks. The hit's `score` stays the
        /// best chunk's own, so the relevance threshold means the same with or without it.
        case weighted(Float)

        public var description: String {
            switch self {
            case .off: "off"
            case .weighted(let weight): "\(weight)"
            }
        }

        /// Parses `off` or a weight from 0 to 1.
        public init?(_ text: String) {
            if text.lowercased() == "off" {
                self = .off
                return
            }
            guard let weight = Float(text), (0...1).contains(weight) else { return nil }
            self = .weighted(weight)
        }
    }

    /// When an answer is refused for lack of relevant passages.
    public enum ScoreThreshold: Sendable, Hashable {
        /// The embedder's measured `RetrievalCalibration.minimumScore` (MiniLM: 0.40; none for the hashed embedder).
        case automatic
        /// Always answer from the best passages found.
        case disabled
        /// Refuse when no retrieved passage has at least this cosine similarity to the question.
        case value(Float)

        /// Parses `auto`, `off` (or `none`) or a cosine similarity, a number from -1 to 1.
        public init?(_ text: String) {
            switch text.lowercased() {
            case "auto": self = .automatic
            case "off", "none": self = .disabled
            default:
                guard let value = Float(text), (-1...1).contains(value) else { return nil }
                self = .value(value)
            }
        }
    }

    public var mode: Mode
    public var fusion: Fusion
    public var candidates: Int
    public var pageFusion: PageFusion
    public var neighbourChunks: Int
    public var minimumScore: ScoreThreshold

    public init(
        mode: Mode = .hybrid, fusion: Fusion = .automatic, candidates: Int = 50, pageFusion: PageFusion = .weighted(0.3),
        neighbourChunks: Int = 1, minimumScore: ScoreThreshold = .automatic
    ) {
        self.mode = mode
        self.fusion = fusion
        self.candidates = candidates
        self.pageFusion = pageFusion
        self.neighbourChunks = neighbourChunks
        self.minimumScore = minimumScore
    }
}

extension RetrievalOptions {
    /// These options with `.automatic` settings replaced by what was measured for `calibration`'s embedder.
    public func resolved(for calibration: RetrievalCalibration?) -> RetrievalOptions {
        var options = self
        if fusion == .automatic { options.fusion = .weighted(vectorWeight: calibration?.vectorWeight ?? 0.5) }
        if minimumScore == .automatic { options.minimumScore = calibration?.minimumScore.map { .value($0) } ?? .disabled }
        return options
    }
}

/// Combines rankings of rows into one.
enum RankFusion {
    /// The fused ranking of `vector` and `lexical` hits (each best first), best first.
    static func fuse(vector: [VectorIndex.Hit], lexical: [VectorIndex.Hit], fusion: RetrievalOptions.Fusion) -> [VectorIndex.Hit] {
        var scores: [Int: Float] = [:]
        switch fusion {
        case .automatic:
            return fuse(vector: vector, lexical: lexical, fusion: .weighted(vectorWeight: 0.5))
        case .reciprocalRank(let k):
            for (rank, hit) in vector.enumerated() { scores[hit.row, default: 0] += 1 / Float(k + rank + 1) }
            for (rank, hit) in lexical.enumerated() { scores[hit.row, default: 0] += 1 / Float(k + rank + 1) }
        case .weighted(let weight):
            for (row, score) in normalized(vector) { scores[row, default: 0] += weight * score }
            for (row, score) in normalized(lexical) { scores[row, default: 0] += (1 - weight) * score }
        }
        return scores.map { VectorIndex.Hit(row: $0.key, score: $0.value) }
            .sorted { $0.score > $1.score || ($0.score == $1.score && $0.row < $1.row) }
    }

    /// `ranked` (best first) with one hit per page: the best chunk of each page (the page its chunk starts on, as
    /// `page` gives it), scored `best + weight · Σ max(0, other)` over the page's other hits, best first.
    static func fusePages<Page: Hashable>(_ ranked: [VectorIndex.Hit], weight: Float, page: (Int) -> Page) -> [VectorIndex.Hit] {
        var fused: [VectorIndex.Hit] = []
        var position: [Page: Int] = [:]
        for hit in ranked {
            let key = page(hit.row)
            if let index = position[key] {
                fused[index].score += weight * max(0, hit.score)
            } else {
                position[key] = fused.count
                fused.append(hit)
            }
        }
        return fused.enumerated().sorted {
            $0.element.score > $1.element.score || ($0.element.score == $1.element.score && $0.offset < $1.offset)
        }.map(\.element)
    }

    /// Any number of rankings (each best first) fused by reciprocal rank fusion, each weighing the same: a row scores
    /// `Σ 1 / (k + rank)` over the rankings it appears in. Best first; a tie goes to the row the first ranking (the
    /// question's own) placed higher, then to the lower row.
    static func reciprocalRank(_ rankings: [[VectorIndex.Hit]], k: Int) -> [VectorIndex.Hit] {
        var scores: [Int: Float] = [:]
        for ranking in rankings {
            for (rank, hit) in ranking.enumerated() { scores[hit.row, default: 0] += 1 / Float(k + rank + 1) }
        }
        var first: [Int: Int] = [:]
        for (rank, hit) in (rankings.first ?? []).enumerated() where first[hit.row] == nil { first[hit.row] = rank }
        return scores.map { VectorIndex.Hit(row: $0.key, score: $0.value) }
            .sorted { a, b in
                if a.score != b.score { return a.score > b.score }
                let (rankA, rankB) = (first[a.row] ?? Int.max, first[b.row] ?? Int.max)
                return rankA != rankB ? rankA < rankB : a.row < b.row
            }
    }

    /// Scores mapped to 0...1 by min-max over the list (all 1 when they are equal).
    static func normalized(_ hits: [VectorIndex.Hit]) -> [(Int, Float)] {
        guard let high = hits.map(\.score).max(), let low = hits.map(\.score).min() else { return [] }
        let span = high - low
        return hits.map { ($0.row, span > 0 ? ($0.score - low) / span : 1) }
    }
}

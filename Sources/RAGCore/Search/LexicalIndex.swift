/// A BM25 index over the chunks of a collection, row `i` being the chunk at row `i` of the vector index.
///
/// Postings are kept per term (row, term frequency), rows ascending; a query adds up the BM25 weight of each of
/// its distinct terms over their postings, then selects the top `k`. Okapi BM25 with `k1 = 1.2`, `b = 0.75` and
/// the non-negative idf `ln(1 + (N − df + 0.5) / (df + 0.5))`.
///
/// A value type with copy-on-write storage, like `VectorIndex`.
///
/// ```swift
/// var index = LexicalIndex()
/// index.add(["The printer is configured with lpadmin.", "Paper sizes"])
/// index.search("how to configure a printer", k: 5)   // [Hit(row: 0, score: …)]
/// ```
public struct LexicalIndex: Sendable {
    /// BM25's term-frequency saturation and length normalisation.
    public struct Parameters: Sendable, Hashable {
        public var k1: Float
        public var b: Float
        public init(k1: Float = 1.2, b: Float = 0.75) {
            self.k1 = k1
            self.b = b
        }
    }

    struct Posting: Sendable, Hashable {
        var row: UInt32
        var frequency: UInt32
    }

    public var parameters: Parameters
    public let analyzer: TextAnalyzer
    /// Term → position in `terms` and `postings`.
    private(set) var termIDs: [String: Int] = [:]
    private(set) var terms: [String] = []
    private(set) var postings: [[Posting]] = []
    /// Terms per row.
    private(set) var lengths: [UInt32] = []
    private(set) var totalLength: UInt64 = 0

    public init(parameters: Parameters = Parameters(), analyzer: TextAnalyzer = TextAnalyzer()) {
        self.parameters = parameters
        self.analyzer = analyzer
    }

    /// Builds the index of `texts`, one row each.
    public init(texts: [String], parameters: Parameters = Parameters()) {
        self.init(parameters: parameters)
        add(texts)
    }

    /// Rows in the index.
    public var count: Int { lengths.count }

    /// Distinct terms with at least one posting.
    public var termCount: Int { postings.lazy.filter { !$0.isEmpty }.count }

    /// Appends one row per text.
    public mutating func add(_ texts: [String]) {
        for text in texts {
            let row = UInt32(lengths.count)
            let terms = analyzer.terms(in: text)
            var frequencies: [String: UInt32] = [:]
            for term in terms { frequencies[term, default: 0] += 1 }
            for (term, frequency) in frequencies {
                let id = termID(term)
                postings[id].append(Posting(row: row, frequency: frequency))
            }
            lengths.append(UInt32(terms.count))
            totalLength += UInt64(terms.count)
        }
    }

    private mutating func termID(_ term: String) -> Int {
        if let id = termIDs[term] { return id }
        let id = terms.count
        termIDs[term] = id
        terms.append(term)
        postings.append([])
        return id
    }

    /// Removes the rows for which `shouldRemove` is true; later rows move up, as in `VectorIndex.removeRows`.
    public mutating func removeRows(where shouldRemove: (Int) -> Bool) {
        var newRow = [Int](repeating: -1, count: lengths.count)
        var next = 0
        var kept: [UInt32] = []
        kept.reserveCapacity(lengths.count)
        for row in 0..<lengths.count where !shouldRemove(row) {
            newRow[row] = next
            next += 1
            kept.append(lengths[row])
        }
        guard kept.count != lengths.count else { return }
        for id in postings.indices {
            postings[id] = postings[id].compactMap { posting in
                let row = newRow[Int(posting.row)]
                return row < 0 ? nil : Posting(row: UInt32(row), frequency: posting.frequency)
            }
        }
        lengths = kept
        totalLength = kept.reduce(0) { $0 + UInt64($1) }
    }

    /// The `k` rows with the highest BM25 score for `query`, best first; rows that share no term with the query
    /// are never returned.
    public func search(_ query: String, k: Int, allowed: ((Int) -> Bool)? = nil) -> [VectorIndex.Hit] {
        guard k > 0, !lengths.isEmpty else { return [] }
        let queryTerms = Set(analyzer.terms(in: query)).compactMap { termIDs[$0] }.filter { !postings[$0].isEmpty }
        guard !queryTerms.isEmpty else { return [] }
        let rows = Float(lengths.count)
        let averageLength = max(1, Float(totalLength) / rows)
        let k1 = parameters.k1
        let b = parameters.b
        var scores = [Float](repeating: 0, count: lengths.count)
        var touched: [Int] = []
        for id in queryTerms {
            let list = postings[id]
            let documentFrequency = Float(list.count)
            let idf = logf(1 + (rows - documentFrequency + 0.5) / (documentFrequency + 0.5))
            for posting in list {
                let row = Int(posting.row)
                let tf = Float(posting.frequency)
                let norm = k1 * (1 - b + b * Float(lengths[row]) / averageLength)
                if scores[row] == 0 { touched.append(row) }
                scores[row] += idf * tf * (k1 + 1) / (tf + norm)
            }
        }
        var top = TopK(k: k)
        for row in touched.sorted() where allowed?(row) ?? true { top.consider(row: row, score: scores[row]) }
        return top.best
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: Persistence

extension LexicalIndex {
    /// Writes the index: analyzer version, BM25 parameters, row lengths, then the terms that have postings with
    /// their postings (row, frequency).
    func encode(into out: inout BinaryWriter) {
        out.u32(TextAnalyzer.version)
        out.u32(parameters.k1.bitPattern)
        out.u32(parameters.b.bitPattern)
        out.u64(UInt64(lengths.count))
        for length in lengths { out.u32(length) }
        let used = postings.indices.filter { !postings[$0].isEmpty }
        out.u32(UInt32(used.count))
        for id in used {
            out.string(terms[id])
            out.u32(UInt32(postings[id].count))
            for posting in postings[id] {
                out.u32(posting.row)
                out.u32(posting.frequency)
            }
        }
    }

    /// Reads what `encode` wrote. Returns `nil` when the analyzer version differs (the caller rebuilds the index
    /// from the texts); throws when the bytes are inconsistent.
    static func decode(from reader: inout BinaryReader, rows: Int) throws(BinaryReader.Malformed) -> LexicalIndex? {
        func damaged(_ what: String) -> BinaryReader.Malformed { BinaryReader.Malformed(what: "lexical index: \(what)") }
        let version = try reader.u32()
        let parameters = Parameters(k1: Float(bitPattern: try reader.u32()), b: Float(bitPattern: try reader.u32()))
        guard parameters.k1.isFinite, parameters.b.isFinite else {
            throw damaged("BM25 parameters are not finite")
        }
        guard try reader.u64() == UInt64(rows) else { throw damaged("row count differs from the chunk count") }
        let rowCount = try reader.count(rows, elementSize: 4, "lexical index rows")
        var index = LexicalIndex(parameters: parameters)
        index.lengths.reserveCapacity(rowCount)
        for _ in 0..<rowCount { index.lengths.append(try reader.u32()) }
        index.totalLength = index.lengths.reduce(0) { $0 + UInt64($1) }  // at most 2^32 rows of < 2^32: no overflow
        // A term takes at least its length and its posting count.
        let termCount = try reader.count(try reader.u32(), elementSize: 8, "lexical index term count")
        index.terms.reserveCapacity(termCount)
        index.postings.reserveCapacity(termCount)
        for id in 0..<termCount {
            let term = try reader.string("lexical index term")
            guard index.termIDs[term] == nil else { throw damaged("a term appears twice") }
            let count = try reader.count(try reader.u32(), elementSize: 8, "lexical index posting count")
            guard count <= rowCount else { throw damaged("more postings than rows") }
            var list: [Posting] = []
            list.reserveCapacity(count)
            for _ in 0..<count {
                let posting = Posting(row: try reader.u32(), frequency: try reader.u32())
                guard Int(posting.row) < rowCount else { throw damaged("a posting refers to a missing row") }
                guard list.last.map({ $0.row < posting.row }) ?? true else { throw damaged("postings out of order") }
                list.append(posting)
            }
            index.termIDs[term] = id
            index.terms.append(term)
            index.postings.append(list)
        }
        return version == TextAnalyzer.version ? index : nil
    }
}

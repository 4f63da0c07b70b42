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

// MARK: Per-document statistics

/// The BM25 statistics of one document's chunks: how many terms each chunk has, and for each distinct term the
/// chunks it occurs in and how often. What a store keeps per document, so that opening a collection merges these
/// instead of analysing every chunk's text again, and what a writer computes before it commits a document.
public struct DocumentTerms: Sendable, Hashable {
    /// One posting of a term: the chunk (its ordinal in the document) and the term's frequency in it.
    public struct Posting: Sendable, Hashable {
        public var ordinal: UInt32
        public var frequency: UInt32
        public init(ordinal: UInt32, frequency: UInt32) {
            self.ordinal = ordinal
            self.frequency = frequency
        }
    }

    /// Terms per chunk, in chunk order.
    public private(set) var lengths: [UInt32]
    /// The distinct terms, in order of first appearance.
    public private(set) var terms: [String]
    /// Each term's postings, ordinals ascending.
    public private(set) var postings: [[Posting]]

    public init(lengths: [UInt32], terms: [String], postings: [[Posting]]) {
        precondition(terms.count == postings.count, "one posting list per term")
        self.lengths = lengths
        self.terms = terms
        self.postings = postings
    }

    /// Analyses `texts` (a document's chunks, in order) as `analyzer` reads them for BM25. Terms in order of first
    /// appearance.
    public init(texts: [String], analyzer: TextAnalyzer = TextAnalyzer()) {
        var lengths: [UInt32] = []
        lengths.reserveCapacity(texts.count)
        var ids: [String: Int] = [:]
        var names: [String] = []
        var postings: [[Posting]] = []
        for (ordinal, text) in texts.enumerated() {
            let terms = analyzer.terms(in: text)
            var frequencies: [String: UInt32] = [:]
            var order: [String] = []
            for term in terms {
                if frequencies[term] == nil { order.append(term) }
                frequencies[term, default: 0] += 1
            }
            for term in order {
                let id: Int
                if let known = ids[term] {
                    id = known
                } else {
                    id = names.count
                    ids[term] = id
                    names.append(term)
                    postings.append([])
                }
                postings[id].append(Posting(ordinal: UInt32(ordinal), frequency: frequencies[term]!))
            }
            lengths.append(UInt32(terms.count))
        }
        self.lengths = lengths
        self.terms = names
        self.postings = postings
    }
}

extension LexicalIndex {
    /// Appends one document's rows from its statistics (as `add(_:)` would from its chunk texts, without analysing
    /// them again).
    public mutating func add(_ document: DocumentTerms) {
        let first = UInt32(lengths.count)
        for (term, list) in zip(document.terms, document.postings) {
            let id = termID(term)
            for posting in list { postings[id].append(Posting(row: first + posting.ordinal, frequency: posting.frequency)) }
        }
        lengths.append(contentsOf: document.lengths)
        totalLength += document.lengths.reduce(0) { $0 + UInt64($1) }
    }

    /// Builds an index from a store's tables without analysing any text: the term table (`terms[i]` is term number
    /// `i`), then each document's rows in row order with `appendDocument`. Checks what it is given, since it comes
    /// from disk: a duplicate term, a term number out of range, a posting out of order or past the document's rows
    /// is `Malformed`, never a crash.
    struct Builder {
        struct Malformed: Error, CustomStringConvertible {
            var description: String
        }

        private(set) var index: LexicalIndex

        init(terms: [String], parameters: Parameters = Parameters()) throws(Malformed) {
            var index = LexicalIndex(parameters: parameters)
            index.termIDs.reserveCapacity(terms.count)
            for (id, term) in terms.enumerated() {
                guard index.termIDs.updateValue(id, forKey: term) == nil else { throw Malformed(description: "a term appears twice") }
            }
            index.terms = terms
            index.postings = Array(repeating: [], count: terms.count)
            self.index = index
        }

        /// Appends a document of `lengths.count` rows; `postings` yields (term number, ordinal, frequency), for each
        /// term its ordinals strictly ascending.
        mutating func appendDocument(
            lengths: UnsafeBufferPointer<UInt32>, postings: (_ next: (Int, UInt32, UInt32) throws(Malformed) -> Void) throws(Malformed) -> Void
        ) throws(Malformed) {
            let first = index.lengths.count
            let rows = lengths.count
            guard UInt64(first) + UInt64(rows) <= UInt64(UInt32.max) else { throw Malformed(description: "too many rows") }
            var index = self.index
            self.index = LexicalIndex()  // keeps `index` uniquely referenced while it grows
            defer { self.index = index }
            try postings { (term: Int, ordinal: UInt32, frequency: UInt32) throws(Malformed) in
                guard term >= 0, term < index.postings.count else { throw Malformed(description: "a posting names a missing term") }
                guard Int(ordinal) < rows else { throw Malformed(description: "a posting refers to a missing row") }
                if let previous = index.postings[term].last, previous.row >= UInt32(first) + ordinal {
                    throw Malformed(description: "postings out of order")
                }
                index.postings[term].append(Posting(row: UInt32(first) + ordinal, frequency: frequency))
            }
            index.lengths.append(contentsOf: lengths)
            index.totalLength += lengths.reduce(0) { $0 + UInt64($1) }
        }
    }
}

extension LexicalIndex {
    /// The index split into per-document statistics, documents being consecutive runs of `rowCounts` rows (which must
    /// add up to `count`): what `add(_ document:)` puts back together. One pass over the postings.
    public func documentTerms(rowCounts: [Int]) -> [DocumentTerms] {
        precondition(rowCounts.reduce(0, +) == lengths.count, "the documents' rows must be the index's rows")
        var starts: [Int] = []
        var start = 0
        for rows in rowCounts {
            starts.append(start)
            start += rows
        }
        var documentOfRow = [Int32](repeating: 0, count: lengths.count)
        for (document, rows) in rowCounts.enumerated() where rows > 0 {
            for row in starts[document]..<starts[document] + rows { documentOfRow[row] = Int32(document) }
        }
        // Per document: its terms in order of first appearance (by term id here) and their postings.
        var termsOf = [[Int]](repeating: [], count: rowCounts.count)
        var postingsOf = [[[DocumentTerms.Posting]]](repeating: [], count: rowCounts.count)
        for id in postings.indices {
            var lastDocument = -1
            for posting in postings[id] {
                let document = Int(documentOfRow[Int(posting.row)])
                if document != lastDocument {
                    termsOf[document].append(id)
                    postingsOf[document].append([])
                    lastDocument = document
                }
                let ordinal = UInt32(Int(posting.row) - starts[document])
                postingsOf[document][postingsOf[document].count - 1].append(
                    DocumentTerms.Posting(ordinal: ordinal, frequency: posting.frequency))
            }
        }
        return rowCounts.indices.map { document in
            DocumentTerms(
                lengths: Array(lengths[starts[document]..<starts[document] + rowCounts[document]]),
                terms: termsOf[document].map { terms[$0] }, postings: postingsOf[document])
        }
    }
}

/// Search over a collection snapshot: vector, lexical (BM25) and hybrid retrieval, and the widening of hits into
/// passages for an answer. The indexes themselves are `VectorIndex` and `LexicalIndex`; the snapshot they belong to
/// is `DocumentCollection` (Storage/).
extension DocumentCollection {
    /// The `k` chunks most similar to `vector`, best first, optionally only from `documentIDs`.
    public func search(vector: [Float], k: Int, documentIDs: Set<DocumentID>? = nil) -> [SearchHit] {
        let allowed = rowFilter(documentIDs)
        return vectorSearch(vector, k: k, allowed: allowed).enumerated().map { rank, hit in
            SearchHit(chunk: chunks[hit.row], score: hit.score, rank: rank + 1)
        }
    }

    /// Batch form of `search(vector:k:documentIDs:)`: one BLAS matrix product for all queries, or one pass of the
    /// compact index.
    public func search(vectors: [[Float]], k: Int, documentIDs: Set<DocumentID>? = nil) -> [[SearchHit]] {
        vectorSearch(batch: vectors, k: k, allowed: rowFilter(documentIDs)).map { hits in
            hits.enumerated().map { SearchHit(chunk: chunks[$0.element.row], score: $0.element.score, rank: $0.offset + 1) }
        }
    }

    /// The `k` rows most similar to `vector`: the compact index's best candidates rescored from the stored vectors
    /// when the collection keeps one, else the stored vectors alone.
    func vectorSearch(_ vector: [Float], k: Int, allowed: ((Int) -> Bool)?) -> [VectorIndex.Hit] {
        guard let compactIndex else { return vectors.search(vector, k: k, allowed: allowed) }
        return compactIndex.search(vector, k: k, exact: vectors, allowed: allowed)
    }

    func vectorSearch(batch queries: [[Float]], k: Int, allowed: ((Int) -> Bool)?) -> [[VectorIndex.Hit]] {
        guard let compactIndex else { return vectors.search(batch: queries, k: k, allowed: allowed) }
        return compactIndex.search(batch: queries, k: k, exact: vectors, allowed: allowed)
    }

    /// The `k` chunks with the highest BM25 score for `query`, best first (`score` is the BM25 score).
    public func lexicalSearch(_ query: String, k: Int, documentIDs: Set<DocumentID>? = nil) -> [SearchHit] {
        lexicalIndex.search(query, k: k, allowed: rowFilter(documentIDs)).enumerated().map { rank, hit in
            SearchHit(chunk: chunks[hit.row], score: hit.score, rank: rank + 1, lexicalScore: hit.score)
        }
    }

    /// The `k` best chunks by `options.mode`: `vector` is the embedding of `query` (unused in lexical mode).
    /// In vector and hybrid modes `score` is the chunk's cosine similarity to the query, whatever its rank.
    /// With `options.pageFusion` on, each page appears once, as its best chunk, ranked by its page's fused score
    /// over the best `options.candidates` chunks (`score` stays the chunk's own).
    public func search(
        query: String, vector: [Float], k: Int, options: RetrievalOptions, documentIDs: Set<DocumentID>? = nil
    ) -> [SearchHit] {
        let allowed = rowFilter(documentIDs)
        let pool = max(k, options.candidates)
        func byPage(_ ranked: [VectorIndex.Hit]) -> [VectorIndex.Hit] { pageFused(ranked, options.pageFusion) }
        switch options.mode {
        case .vector where options.pageFusion == .off:
            return search(vector: vector, k: k, documentIDs: documentIDs)
        case .lexical where options.pageFusion == .off:
            return lexicalSearch(query, k: k, documentIDs: documentIDs)
        case .vector, .lexical:
            let ranked = options.mode == .vector
                ? vectorSearch(vector, k: pool, allowed: allowed) : lexicalIndex.search(query, k: pool, allowed: allowed)
            let own = Dictionary(ranked.map { ($0.row, $0.score) }, uniquingKeysWith: { first, _ in first })
            return byPage(ranked).prefix(k).enumerated().map { rank, hit in
                let score = own[hit.row]!
                return SearchHit(chunk: chunks[hit.row], score: score, rank: rank + 1, lexicalScore: options.mode == .lexical ? score : nil)
            }
        case .hybrid:
            let byVector = vectorSearch(vector, k: pool, allowed: allowed)
            let byWords = lexicalIndex.search(query, k: pool, allowed: allowed)
            let cosine = Dictionary(byVector.map { ($0.row, $0.score) }, uniquingKeysWith: { first, _ in first })
            let bm25 = Dictionary(byWords.map { ($0.row, $0.score) }, uniquingKeysWith: { first, _ in first })
            var unit: [Float]?  // the unit query, made only if a hit came from BM25 alone (the vector search made its own)
            return byPage(RankFusion.fuse(vector: byVector, lexical: byWords, fusion: options.fusion)).prefix(k).enumerated().map { rank, hit in
                let score = cosine[hit.row] ?? {
                    if unit == nil { unit = VectorIndex.normalized(vector) }
                    return vectors.similarity(unit!, row: hit.row)
                }()
                return SearchHit(chunk: chunks[hit.row], score: score, rank: rank + 1, lexicalScore: bm25[hit.row])
            }
        }
    }

    /// The `k` best chunks for several searches of one question, fused: `queries[0]` is the question itself, the
    /// others its rewrites (reformulations, a hypothetical answer passage); `vectors` are their embeddings, in the
    /// same order (unused in lexical mode). Each query is ranked as `search(query:vector:k:options:documentIDs:)`
    /// ranks it, to a depth of `max(k, options.candidates)`, and the rankings are fused by reciprocal rank fusion
    /// (`Σ 1 / (60 + rank)`), the question's own ranking weighted as much as any rewrite's. With
    /// `options.pageFusion` on, each ranking is fused by page first, and a page appears once in the result.
    ///
    /// A hit's `score` is what a search for `queries[0]` alone gives it, whichever query found it: in vector and
    /// hybrid modes its cosine similarity to the question, so the relevance threshold means the same with rewrites;
    /// in lexical mode the question's BM25 score (0 when the question's own words did not find it). `lexicalScore` is
    /// the question's BM25 score when the question's own ranking had it.
    public func search(
        queries: [String], vectors: [[Float]], k: Int, options: RetrievalOptions, documentIDs: Set<DocumentID>? = nil
    ) -> [SearchHit] {
        precondition(!queries.isEmpty, "at least the question itself")
        precondition(options.mode == .lexical || vectors.count == queries.count, "one vector per query")
        let allowed = rowFilter(documentIDs)
        let depth = max(k, options.candidates)
        let byVector = options.mode == .lexical ? [] : vectorSearch(batch: vectors, k: depth, allowed: allowed)
        var rankings: [[VectorIndex.Hit]] = []
        var questionWords: [Int: Float] = [:]
        for (position, query) in queries.enumerated() {
            let ranking: [VectorIndex.Hit]
            switch options.mode {
            case .vector:
                ranking = byVector[position]
            case .lexical:
                ranking = lexicalIndex.search(query, k: depth, allowed: allowed)
                if position == 0 { questionWords = Dictionary(ranking.map { ($0.row, $0.score) }, uniquingKeysWith: { first, _ in first }) }
            case .hybrid:
                let words = lexicalIndex.search(query, k: depth, allowed: allowed)
                if position == 0 { questionWords = Dictionary(words.map { ($0.row, $0.score) }, uniquingKeysWith: { first, _ in first }) }
                ranking = Array(RankFusion.fuse(vector: byVector[position], lexical: words, fusion: options.fusion).prefix(depth))
            }
            rankings.append(pageFused(ranking, options.pageFusion))
        }
        // Each ranking has one hit per page; two queries may still pick different chunks of a page: keep the first.
        var fused = RankFusion.reciprocalRank(rankings, k: 60)
        if options.pageFusion != .off { fused = pageFused(fused, .weighted(0)) }
        fused = Array(fused.prefix(k))
        let unit = options.mode == .lexical ? [] : VectorIndex.normalized(vectors[0])
        return fused.enumerated().map { rank, hit in
            let score = options.mode == .lexical ? questionWords[hit.row] ?? 0 : self.vectors.similarity(unit, row: hit.row)
            return SearchHit(chunk: chunks[hit.row], score: score, rank: rank + 1, lexicalScore: questionWords[hit.row])
        }
    }

    /// `ranked` with one hit per page, as `fusion` says (unchanged when it is off).
    func pageFused(_ ranked: [VectorIndex.Hit], _ fusion: RetrievalOptions.PageFusion) -> [VectorIndex.Hit] {
        guard case .weighted(let weight) = fusion else { return ranked }
        struct Page: Hashable {
            var document: DocumentID
            var page: Int
        }
        return RankFusion.fusePages(ranked, weight: weight) { Page(document: chunks[$0].documentID, page: chunks[$0].pageStart) }
    }

    /// The passages for an answer: each hit widened by up to `neighbours` chunks before and after it that share a
    /// page with it; widened hits that then overlap, or touch and share a page, merged into one passage, in the
    /// order of their best hit. The repeated overlap between consecutive chunks appears once.
    /// With `neighbours` 0 the hits are returned unchanged.
    public func passages(for hits: [SearchHit], neighbours: Int) -> [SearchHit] {
        guard neighbours > 0 else { return hits }
        struct Span {
            var hit: SearchHit
            var rows: ClosedRange<Int>?
        }
        var spans: [Span] = []
        for hit in hits {
            guard let range = rowRanges[hit.chunk.documentID], range.contains(range.lowerBound + hit.chunk.ordinal),
                chunks[range.lowerBound + hit.chunk.ordinal].id == hit.chunk.id
            else {
                spans.append(Span(hit: hit, rows: nil))  // not from this snapshot: keep as it is
                continue
            }
            let row = range.lowerBound + hit.chunk.ordinal
            func samePages(_ other: Int) -> Bool { chunks[other].sharesPage(with: hit.chunk) }
            var low = row
            while low > range.lowerBound, row - low < neighbours, samePages(low - 1) { low -= 1 }
            var high = row
            while high + 1 < range.upperBound, high - row < neighbours, samePages(high + 1) { high += 1 }
            // Spans that share a chunk merge; spans that only touch merge when they share a page.
            func joins(_ span: Span) -> Bool {
                guard span.hit.chunk.documentID == hit.chunk.documentID, let rows = span.rows else { return false }
                if low <= rows.upperBound && high >= rows.lowerBound { return true }
                guard low == rows.upperBound + 1 || high + 1 == rows.lowerBound else { return false }
                let pages = (chunks[rows.lowerBound].pageStart, chunks[rows.upperBound].pageEnd)
                return chunks[low].pageStart <= pages.1 && chunks[high].pageEnd >= pages.0
            }
            if let position = spans.firstIndex(where: joins) {
                let rows = spans[position].rows!
                spans[position].rows = min(rows.lowerBound, low)...max(rows.upperBound, high)
            } else {
                spans.append(Span(hit: hit, rows: low...high))
            }
        }
        return spans.enumerated().map { rank, span in
            var hit = span.hit
            hit.rank = rank + 1
            if let rows = span.rows {
                // The passage keeps its hit's identity: a citation names (and its page image highlights) the chunk
                // that matched, with the text around it.
                let merged = DocumentCollection.merge(chunks[rows])
                hit.chunk.text = merged.text
                hit.chunk.pageStart = merged.pageStart
                hit.chunk.pageEnd = merged.pageEnd
            }
            return hit
        }
    }

    /// Consecutive chunks of one document as one chunk: pages from the first to the last, text joined without the
    /// overlap that each chunk repeats from the one before.
    static func merge(_ run: ArraySlice<Chunk>) -> Chunk {
        guard var merged = run.first, run.count > 1 else { return run.first! }
        let minimumOverlap = 16  // shorter matches ("." against ".") are coincidences, not the repeated overlap
        var text = Array(merged.text.utf8)
        for chunk in run.dropFirst() {
            let next = Array(chunk.text.utf8)
            var overlap = min(text.count, next.count)
            while overlap >= minimumOverlap && !text[(text.count - overlap)...].elementsEqual(next[..<overlap]) { overlap -= 1 }
            if overlap < minimumOverlap { overlap = 0 }
            if overlap == 0 { text.append(UInt8(ascii: "\n")) }
            text.append(contentsOf: next[overlap...])
            merged.pageStart = min(merged.pageStart, chunk.pageStart)
            merged.pageEnd = max(merged.pageEnd, chunk.pageEnd)
        }
        merged.text = String(decoding: text, as: UTF8.self)
        return merged
    }

    func rowFilter(_ documentIDs: Set<DocumentID>?) -> ((Int) -> Bool)? {
        guard let documentIDs else { return nil }
        let chunks = self.chunks
        return { documentIDs.contains(chunks[$0].documentID) }
    }
}

/// A retrieved chunk with its score and its 1-based rank.
public struct SearchHit: Sendable, Hashable {
    public var chunk: Chunk
    /// The cosine similarity of the chunk to the query (vector and hybrid retrieval), or its BM25 score (lexical
    /// retrieval).
    public var score: Float
    public var rank: Int
    /// The chunk's BM25 score, when the lexical retriever found it.
    public var lexicalScore: Float?

    public init(chunk: Chunk, score: Float, rank: Int, lexicalScore: Float? = nil) {
        self.chunk = chunk
        self.score = score
        self.rank = rank
        self.lexicalScore = lexicalScore
    }
}

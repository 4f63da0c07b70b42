/// Turns texts into vectors for similarity search.
///
/// A collection remembers the `identifier` and `dimension` of the embedder that built it and refuses
/// queries from any other, since vectors from different models are not comparable.
public protocol Embedder: Sendable {
    /// Names the model and its settings, e.g. `hashing-v1-d512`. Stored with a collection.
    var identifier: String { get }
    /// The length of every vector this embedder returns.
    var dimension: Int { get }
    /// Embeds a batch of texts, returning one vector per text, in order.
    func embed(_ texts: [String]) async throws -> [[Float]]
    /// What the evaluation measured for this model (`docs/retrieval.md`): the automatic relevance threshold and
    /// hybrid fusion weight. `nil`, the default, when it has not been measured: then the engine always answers from
    /// the best passages, and hybrid search weighs embeddings and BM25 equally.
    var calibration: RetrievalCalibration? { get }
}

extension Embedder {
    public var calibration: RetrievalCalibration? { nil }
}

/// Retrieval settings measured for one embedder with `rag eval`, used where `RetrievalOptions` says `.automatic`.
public struct RetrievalCalibration: Sendable, Hashable {
    /// The cosine similarity below which a passage does not answer a question, or `nil` when the model's
    /// similarities do not separate answerable from unanswerable questions.
    public var minimumScore: Float?
    /// The weight of the embeddings in hybrid fusion (BM25 gets the rest).
    public var vectorWeight: Float

    public init(minimumScore: Float?, vectorWeight: Float) {
        self.minimumScore = minimumScore
        self.vectorWeight = vectorWeight
    }
}

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
}

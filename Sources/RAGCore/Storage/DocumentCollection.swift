/// An immutable-by-default snapshot of a collection: documents, their chunks and the vector index, row `i` of
/// the index belonging to `chunks[i]`. Mutations make a new value (copy-on-write), so readers keep a consistent
/// snapshot while a writer prepares the next one.
public struct DocumentCollection: Sendable {
    /// The `Embedder.identifier` that produced every vector here.
    public private(set) var embedderID: String
    public private(set) var documents: [DocumentRecord]
    public private(set) var chunks: [Chunk]
    public private(set) var index: VectorIndex
    /// Increases by one with every save, so that writers can tell whether the file changed under them.
    public internal(set) var generation: UInt64

    /// An empty collection for vectors from `embedderID` of length `dimension`.
    public init(embedderID: String, dimension: Int) {
        self.embedderID = embedderID
        self.documents = []
        self.chunks = []
        self.index = VectorIndex(dimension: dimension)
        self.generation = 0
    }

    init(embedderID: String, documents: [DocumentRecord], chunks: [Chunk], index: VectorIndex, generation: UInt64) {
        self.embedderID = embedderID
        self.documents = documents
        self.chunks = chunks
        self.index = index
        self.generation = generation
    }

    public var dimension: Int { index.dimension }

    /// The record of the document with this id, if the collection has it.
    public func document(_ id: DocumentID) -> DocumentRecord? { documents.first { $0.id == id } }

    /// Finds documents by id, id prefix, or file name.
    public func documents(matching reference: String) -> [DocumentRecord] {
        if let exact = documents.first(where: { $0.id.rawValue == reference }) { return [exact] }
        let byName = documents.filter { $0.fileName == reference }
        if !byName.isEmpty { return byName }
        return reference.count >= 4 ? documents.filter { $0.id.rawValue.hasPrefix(reference) } : []
    }

    /// Adds a document with its chunks and their vectors (one per chunk). A document already present is
    /// replaced.
    public mutating func add(_ record: DocumentRecord, chunks newChunks: [Chunk], vectors: [[Float]]) {
        precondition(newChunks.count == vectors.count, "one vector per chunk")
        remove(record.id)
        documents.append(record)
        chunks.append(contentsOf: newChunks)
        index.add(vectors)
    }

    /// Removes a document, its chunks and its vectors. Returns whether it was present.
    @discardableResult
    public mutating func remove(_ id: DocumentID) -> Bool {
        guard let position = documents.firstIndex(where: { $0.id == id }) else { return false }
        documents.remove(at: position)
        let doomed = chunks.map { $0.documentID == id }
        index.removeRows { doomed[$0] }
        chunks.removeAll { $0.documentID == id }
        return true
    }

    /// The `k` chunks most similar to `vector`, best first, optionally only from `documentIDs`.
    public func search(vector: [Float], k: Int, documentIDs: Set<DocumentID>? = nil) -> [SearchHit] {
        let allowed = rowFilter(documentIDs)
        return index.search(vector, k: k, allowed: allowed).enumerated().map { rank, hit in
            SearchHit(chunk: chunks[hit.row], score: hit.score, rank: rank + 1)
        }
    }

    /// Batch form of `search(vector:k:documentIDs:)`, one BLAS matrix product for all queries.
    public func search(vectors: [[Float]], k: Int, documentIDs: Set<DocumentID>? = nil) -> [[SearchHit]] {
        index.search(batch: vectors, k: k, allowed: rowFilter(documentIDs)).map { hits in
            hits.enumerated().map { SearchHit(chunk: chunks[$0.element.row], score: $0.element.score, rank: $0.offset + 1) }
        }
    }

    private func rowFilter(_ documentIDs: Set<DocumentID>?) -> ((Int) -> Bool)? {
        guard let documentIDs else { return nil }
        let chunks = self.chunks
        return { documentIDs.contains(chunks[$0].documentID) }
    }
}

/// A retrieved chunk with its cosine similarity to the query and its 1-based rank.
public struct SearchHit: Sendable, Hashable {
    public var chunk: Chunk
    public var score: Float
    public var rank: Int

    public init(chunk: Chunk, score: Float, rank: Int) {
        self.chunk = chunk
        self.score = score
        self.rank = rank
    }
}

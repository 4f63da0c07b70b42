/// An immutable-by-default snapshot of a collection: documents, their chunks, the vector index and the lexical
/// (BM25) index, row `i` of both indexes belonging to `chunks[i]`. A document's chunks are consecutive rows, in
/// order. Mutations make a new value (copy-on-write), so readers keep a consistent
/// snapshot while a writer prepares the next one.
public struct DocumentCollection: Sendable {
    /// The `Embedder.identifier` that produced every vector here.
    public private(set) var embedderID: String
    public private(set) var documents: [DocumentRecord]
    public private(set) var chunks: [Chunk]
    /// Every chunk's vector as the collection stores it (fp32, fp16 or int8: ``StoredVectors``, the collection's
    /// `--vector-storage`): what a compact scan rescores its candidates from.
    public private(set) var vectors: StoredVectors
    /// The compact copy of `vectors` that vector search reads first, when the collection keeps one
    /// (``setVectorFormat(_:)``): results are rescored from `vectors`, so they are the same as without it.
    public private(set) var compactIndex: CompactVectorIndex?
    public private(set) var lexicalIndex: LexicalIndex
    /// The rows of each document's chunks.
    private(set) var rowRanges: [DocumentID: Range<Int>]
    /// The version of the store that this snapshot reflects: the sequence number of the newest change applied to
    /// it (the `index_version`), 0 for a collection that has none yet.
    public internal(set) var generation: UInt64

    /// An empty collection for vectors from `embedderID` of length `dimension`, stored as `storage`.
    public init(embedderID: String, dimension: Int, storage: VectorFormat = .f32) {
        self.embedderID = embedderID
        self.documents = []
        self.chunks = []
        self.vectors = StoredVectors(format: storage, dimension: dimension)
        self.lexicalIndex = LexicalIndex()
        self.rowRanges = [:]
        self.generation = 0
    }

    /// A collection read from disk; `lexicalIndex` is rebuilt from the chunk texts when `nil` (an older file, or
    /// one written with another `TextAnalyzer.version`).
    init(
        embedderID: String, documents: [DocumentRecord], chunks: [Chunk], vectors: StoredVectors, lexicalIndex: LexicalIndex?,
        generation: UInt64
    ) {
        self.embedderID = embedderID
        self.documents = documents
        self.chunks = chunks
        self.vectors = vectors
        self.lexicalIndex = lexicalIndex ?? LexicalIndex(texts: Chunk.lexicalTexts(chunks))
        self.rowRanges = DocumentCollection.rowRanges(of: chunks)
        self.generation = generation
    }

    private static func rowRanges(of chunks: [Chunk]) -> [DocumentID: Range<Int>] {
        var ranges: [DocumentID: Range<Int>] = [:]
        var start = 0
        for row in chunks.indices where row + 1 == chunks.count || chunks[row + 1].documentID != chunks[row].documentID {
            ranges[chunks[row].documentID] = start..<row + 1
            start = row + 1
        }
        return ranges
    }

    public var dimension: Int { vectors.dimension }

    /// The format the collection stores its vectors in (`--vector-storage`).
    public var storageFormat: VectorFormat { vectors.format }

    /// Takes `format` as the storage of a collection that has no vectors yet (one whose store has chosen another
    /// format than this process would have), without a scan copy. Nothing happens once it has vectors.
    mutating func adoptStorage(_ format: VectorFormat) {
        guard vectors.count == 0, format != storageFormat else { return }
        vectors = StoredVectors(format: format, dimension: dimension)
        compactIndex = nil
    }

    /// The format vector search scans: the stored vectors' own, or a compact copy kept beside them.
    public var vectorFormat: VectorFormat { compactIndex?.format ?? vectors.format }

    /// The format a scan of `format` reads over vectors stored as ``storageFormat``: a copy is only worth keeping when
    /// it is smaller than the stored vectors (int8 beside fp32 or fp16, fp16 beside fp32); otherwise the stored
    /// vectors are scanned themselves.
    public func scanFormat(for format: VectorFormat) -> VectorFormat {
        format.bytesPerVector(dimension: dimension) < storageFormat.bytesPerVector(dimension: dimension) ? format : storageFormat
    }

    /// Scans `format` from now on (``scanFormat(for:)``): builds the compact copy of the vectors (every row encoded
    /// once), or drops it. Nothing happens when the collection already scans that format.
    public mutating func setVectorFormat(_ format: VectorFormat) {
        let scanned = scanFormat(for: format)
        guard scanned != vectorFormat else { return }
        guard scanned != storageFormat else {
            compactIndex = nil
            return
        }
        var copy = CompactVectorIndex(format: scanned, dimension: dimension, reservingRows: vectors.count)
        vectors.forEachBatch { copy.add(normalizedRows: $0) }
        compactIndex = copy
    }

    /// Encodes the rows from `first` on into the compact index, if there is one.
    private mutating func addCompactRows(from first: Int) {
        guard compactIndex != nil, first < vectors.count else { return }
        if vectors.format == .f32 {
            let dimension = self.dimension
            vectors.f32.storage.withUnsafeBufferPointer { rows in
                compactIndex!.add(normalizedRows: UnsafeBufferPointer(rebasing: rows[(first * dimension)...]))
            }
        } else {
            vectors.rows(first..<vectors.count).withUnsafeBufferPointer { compactIndex!.add(normalizedRows: $0) }
        }
    }

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
        rowRanges[record.id] = chunks.count..<chunks.count + newChunks.count
        chunks.append(contentsOf: newChunks)
        addCompactRows(from: self.vectors.add(vectors))
        lexicalIndex.add(Chunk.lexicalTexts(newChunks))
    }

    /// Adds a document as a store keeps it: its chunks, their L2-normalised vectors (row-major, one row per chunk) and
    /// their BM25 statistics. A document already present is replaced.
    public mutating func add(_ record: DocumentRecord, chunks newChunks: [Chunk], normalizedVectors: [Float], terms: DocumentTerms) {
        precondition(newChunks.count * dimension == normalizedVectors.count, "one vector per chunk")
        precondition(newChunks.count == terms.lengths.count, "one length per chunk")
        remove(record.id)
        documents.append(record)
        rowRanges[record.id] = chunks.count..<chunks.count + newChunks.count
        chunks.append(contentsOf: newChunks)
        addCompactRows(from: vectors.add(normalizedRows: normalizedVectors))
        lexicalIndex.add(terms)
    }

    /// Removes a document, its chunks and its vectors. Returns whether it was present.
    @discardableResult
    public mutating func remove(_ id: DocumentID) -> Bool {
        guard let position = documents.firstIndex(where: { $0.id == id }) else { return false }
        documents.remove(at: position)
        let doomed = chunks.map { $0.documentID == id }
        vectors.removeRows { doomed[$0] }
        compactIndex?.removeRows { doomed[$0] }
        lexicalIndex.removeRows { doomed[$0] }
        chunks.removeAll { $0.documentID == id }
        rowRanges = DocumentCollection.rowRanges(of: chunks)
        return true
    }
}

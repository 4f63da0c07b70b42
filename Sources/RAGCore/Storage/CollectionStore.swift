import Foundation

/// Where a collection's truth is kept: its documents, their chunks, vectors and BM25 statistics, and a change log
/// whose sequence numbers are the collection's versions (its `index_version`).
///
/// Every process keeps the searchable collection in memory (`DocumentCollection`): it loads a snapshot when it
/// opens the collection, and then applies the changes after the version it has, in order, whoever made them, so
/// that it never reloads the whole collection for one change. Writes are one transaction each in the store, which
/// serialises writers across processes.
///
/// The engine knows the store only through this protocol, so that the same engine runs on SQLite
/// (`SQLiteCollectionStore`, embedded: one file in the collection directory), on PostgreSQL
/// (`PostgresCollectionStore`, shared by many processes and machines), and in
/// memory (`MemoryCollectionStore`, the twin for a collection without a directory and for tests).
///
/// ```swift
/// let store = SQLiteCollectionStore(directory: URL(fileURLWithPath: "docs-index"))
/// guard let snapshot = try await store.loadSnapshot() else { return }   // nil: no collection yet
/// var collection = snapshot.collection
/// for change in try await store.changes(after: snapshot.version, limit: 100) { collection.apply(change) }
/// ```
package protocol CollectionStore: Sendable {
    /// Where the collection is, for logs and errors' `path`: a directory or a database name, never a secret.
    var location: String { get }

    /// The embedder id and dimension the collection was built with, or `nil` when there is no collection yet. Cheap:
    /// reads no document.
    func header() async throws(CollectionError) -> CollectionHeader?

    /// The whole collection as of one version, or `nil` when there is no collection yet. A store that finds data in
    /// an older form (a collection file of an earlier release) migrates it first, when it may write.
    func loadSnapshot() async throws(CollectionError) -> CollectionSnapshot?

    /// The newest version: the sequence number of the last change, 0 when there has been none. Cheap: what a
    /// follower asks every few seconds.
    func currentVersion() async throws(CollectionError) -> UInt64

    /// Adds a prepared document in one transaction: refuses it when a document with the same content hash is there
    /// (returning that one), checks `maxChunks` (0: unlimited) against the chunks the collection holds once the
    /// earlier versions from the same source path are gone, removes those, inserts the document, and appends the
    /// removals and the addition to the change log. Nothing changes unless it returns `.added`.
    ///
    /// - Parameter header: the collection's embedder; a collection without one yet takes it, a collection with
    ///   another one refuses the document (`embedderMismatch`).
    func add(_ document: StoredDocument, header: CollectionHeader, maxChunks: Int) async throws(CollectionError) -> AddOutcome

    /// Re-encodes every stored vector in `format` in one transaction, records it as the collection's
    /// ``CollectionHeader/vectorStorage`` and appends a `storage` change (followers then load the collection whole).
    /// Returns that change's version, or `nil` when there is no collection or it is already stored as `format`.
    /// Going to a smaller format loses precision for good: going back re-encodes the rounded values.
    func convertVectors(to format: VectorFormat) async throws(CollectionError) -> UInt64?

    /// Removes a document in one transaction and appends the removal to the change log. Returns `nil` when the
    /// collection has no such document.
    func remove(_ id: DocumentID) async throws(CollectionError) -> RemoveOutcome?

    /// Up to `limit` changes after `version`, oldest first, with what applying them needs.
    func changes(after version: UInt64, limit: Int) async throws(CollectionError) -> [CollectionChange]

    /// The original bytes of document `id` (a PDF's, to render its pages), or `nil` when the store has none: no such
    /// document, a text document, or a document added before the store kept sources (schema version 3), which must be
    /// ingested again. Reads one row; snapshots and changes never carry the bytes.
    func source(of id: DocumentID) async throws(CollectionError) -> Data?

    /// Signals that the collection changed (see the default in the extension: `nil`, no signals).
    func changeSignals() -> AsyncStream<UInt64>?

    /// Releases the store's resources (a database's connection pool); the default does nothing. (Not `close()`: that
    /// would hide the C library's `close(2)` inside the stores' own methods.)
    func shutdown() async
}

/// Which embedder built a collection (its vectors are `dimension` floats from `embedderID`), and how it stores them.
public struct CollectionHeader: Sendable, Hashable {
    public var embedderID: String
    public var dimension: Int
    /// The format of the stored vectors (`--vector-storage`): chosen when the collection is created (a collection
    /// that predates the choice is fp32), changed only by ``CollectionStore/convertVectors(to:)``.
    public var vectorStorage: VectorFormat

    public init(embedderID: String, dimension: Int, vectorStorage: VectorFormat = .f32) {
        self.embedderID = embedderID
        self.dimension = dimension
        self.vectorStorage = vectorStorage
    }

    /// Whether vectors of `other`'s embedder fit this collection (its storage aside).
    public func sameEmbedder(as other: CollectionHeader) -> Bool {
        embedderID == other.embedderID && dimension == other.dimension
    }
}

/// A collection as loaded from a store: the searchable snapshot and the version it reflects (also its
/// `generation`).
package struct CollectionSnapshot: Sendable {
    package var collection: DocumentCollection
    /// The newest change the snapshot holds; 0 for a collection read from a file of an earlier release that was not
    /// migrated (a read-only opener may not migrate).
    package var version: UInt64
    /// Whether the snapshot was read from a collection file of an earlier release rather than from the store.
    package var isLegacy: Bool

    package init(collection: DocumentCollection, version: UInt64, isLegacy: Bool = false) {
        self.collection = collection
        self.version = version
        self.isLegacy = isLegacy
    }
}

/// A document as a store keeps it: its record, its chunks in order, their L2-normalised vectors (row-major, one row
/// of `dimension` floats per chunk), their BM25 statistics and, for a PDF, its original bytes.
package struct StoredDocument: Sendable {
    package var record: DocumentRecord
    package var chunks: [Chunk]
    package var vectors: [Float]
    package var terms: DocumentTerms
    /// The original bytes (a PDF's), saved with the document so that any process can render its pages; read back
    /// only by `CollectionStore.source(of:)`: `nil` in snapshots and changes.
    package var source: Data?

    package init(record: DocumentRecord, chunks: [Chunk], vectors: [Float], terms: DocumentTerms, source: Data? = nil) {
        self.record = record
        self.chunks = chunks
        self.vectors = vectors
        self.terms = terms
        self.source = source
    }
}

/// What `CollectionStore.add` did.
package enum AddOutcome: Sendable {
    /// The document was added, after removing `replaced` (earlier versions from its source path). Its transaction
    /// appended the changes `firstChange...version`: the removals, then the addition.
    case added(replaced: [DocumentID], firstChange: UInt64, version: UInt64)
    /// A document with the same content is in the collection: nothing changed.
    case unchanged(DocumentRecord)
    /// Adding it would pass the chunk limit: the collection holds `chunks` chunks (not counting the earlier versions
    /// it would replace). Nothing changed.
    case overQuota(chunks: Int)
}

/// What `CollectionStore.remove` did: removed `record`, as change `version`.
package struct RemoveOutcome: Sendable {
    package var record: DocumentRecord
    package var version: UInt64
}

/// One entry of the change log.
package struct CollectionChange: Sendable {
    package enum Kind: Sendable {
        /// A document was added. `nil` when it has been removed since (a later change in the log removes it), so
        /// that there is nothing to add.
        case added(StoredDocument?)
        case removed
        /// Every vector was re-encoded in this format (``CollectionStore/convertVectors(to:)``): the collection is
        /// to be loaded whole.
        case storage(VectorFormat)
    }

    /// The change's sequence number: the collection's version once it is applied.
    package var version: UInt64
    package var documentID: DocumentID
    package var kind: Kind

    package init(version: UInt64, documentID: DocumentID, kind: Kind) {
        self.version = version
        self.documentID = documentID
        self.kind = kind
    }
}

extension DocumentCollection {
    /// Applies one change of the log: adds the document (replacing one of the same id) or removes it, and takes the
    /// change's version as `generation`.
    package mutating func apply(_ change: CollectionChange) {
        switch change.kind {
        case .added(let document?):
            add(document.record, chunks: document.chunks, normalizedVectors: document.vectors, terms: document.terms)
        case .added(nil):
            break  // removed again later in the log
        case .removed:
            remove(change.documentID)
        case .storage:
            preconditionFailure("a change of the vectors' storage is applied by loading the collection whole")
        }
        generation = change.version
    }
}

extension CollectionStore {
    /// Signals that the collection changed, for a store whose database can push them (PostgreSQL's `NOTIFY`): each
    /// element is the new version, or 0 for "changes may have been missed, look now". `nil` for a store that cannot
    /// (SQLite, memory): followers then only poll. Signals are hints, never the truth: a follower still polls
    /// `currentVersion()` and catches up from the change log.
    package func changeSignals() -> AsyncStream<UInt64>? { nil }

    /// Releases what the store holds (a database's connections); any later use fails. Nothing for SQLite and memory.
    package func shutdown() async {}
}

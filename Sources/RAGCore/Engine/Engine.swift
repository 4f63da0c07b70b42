import Foundation
import Logging
import Prometheus
import Synchronization

/// The RAG engine: ingest documents, search them, and answer questions with citations to file and page.
///
/// ```swift
/// import RAGCore
///
/// let engine = try Engine(configuration: EngineConfiguration(collectionDirectory: URL(fileURLWithPath: "docs-index")))
/// let report = await engine.ingest(paths: ["handbook.pdf"])
/// let answer = try await engine.ask("How many vacation days do I get?")
/// print(answer.text)
/// for citation in answer.citations { print("[\(citation.number)] \(citation.label)") }
/// ```
///
/// Reads (search, ask) work on an immutable snapshot of the collection and never wait for ingestion; writes
/// (ingest, remove) are serialised, saved atomically, and swapped in when complete. Ingestion embeds outside the
/// write lock and saves each document on its own.
///
/// The façade is split by job: this file holds the state, opening and reloading; `Engine+Ingest.swift` ingestion and
/// removal; `Engine+Writes.swift` the write protocol; `Engine+Answer.swift` search and answers.
public final class Engine: Sendable {
    public let configuration: EngineConfiguration
    public let embedder: any Embedder
    public let llm: any LLMClient
    public let metrics: RAGMetrics
    public let logger: Logger
    let store: CollectionStore?
    let current: Mutex<DocumentCollection>
    /// Serialises writers within this process, first come first served; a writer whose task is cancelled while it
    /// waits leaves the queue without writing.
    let writes = AsyncSemaphore(permits: 1)

    /// Opens (or starts) the collection in `configuration.collectionDirectory`. A writable engine also removes the
    /// temporary files that interrupted saves left there, if no other writer holds the collection's lock.
    ///
    /// - Throws: `CollectionError` when the collection is damaged, of an unknown version, or was built by a
    ///   different embedder than `embedder`.
    public init(
        configuration: EngineConfiguration = EngineConfiguration(), embedder: any Embedder = HashingEmbedder(),
        llm: any LLMClient = ExtractiveAnswerer(), metrics: RAGMetrics = RAGMetrics(),
        logger: Logger = Logger(label: "rag.engine")
    ) throws(CollectionError) {
        self.configuration = configuration
        self.embedder = embedder
        self.llm = llm
        self.metrics = metrics
        metrics.observe(BlockingPool.shared)
        self.logger = logger
        self.store = configuration.collectionDirectory.map { CollectionStore(directory: $0) }
        var collection = DocumentCollection(embedderID: embedder.identifier, dimension: embedder.dimension)
        if let store, let loaded = try store.load() {
            try Engine.checkCompatible(loaded, with: embedder, path: store.fileURL.path)
            collection = loaded
        }
        self.current = Mutex(collection)
        removeOrphanedTemporaryFilesIfUnlocked()
        publishSize(collection)
        metrics.prepare(model: llm.model)
        metrics.questionsUnanswered.increment(by: Int64(0))
    }

    static func checkCompatible(_ collection: DocumentCollection, with embedder: any Embedder, path: String) throws(CollectionError) {
        guard collection.embedderID == embedder.identifier, collection.dimension == embedder.dimension else {
            throw CollectionError(
                .embedderMismatch,
                "the collection was built with embedder \(collection.embedderID) (\(collection.dimension) dimensions) but \(embedder.identifier) (\(embedder.dimension) dimensions) is in use; use the same embedder or ingest into a new collection",
                path: path)
        }
    }

    /// Reloads the collection from disk when another process (an ingestion job) has saved a newer version.
    /// Returns whether a new version was loaded. Readers keep their snapshot until it is swapped in.
    @discardableResult
    public func reloadIfChanged() async throws -> Bool {
        guard let store, let onDisk = store.generationOnDisk(), onDisk != collection.generation else { return false }
        let loaded = try await Engine.offload { () throws(CollectionError) in try store.load() }
        guard let loaded else { return false }
        try Engine.checkCompatible(loaded, with: embedder, path: store.fileURL.path)
        current.withLock { $0 = loaded }
        publishSize(loaded)
        logger.info("reloaded the collection", metadata: ["rag.collection.generation": "\(loaded.generation)"])
        return true
    }

    /// Waits until writes in progress have been saved (for a graceful shutdown).
    public func flush() async {
        _ = try? await writes.withPermit {}
    }

    func publishSize(_ collection: DocumentCollection) {
        metrics.setCollectionSize(documents: collection.documents.count, chunks: collection.chunks.count)
        if let last = collection.documents.map(\.ingestedAt).max() { metrics.setLastIngest(last) }
    }

    /// The current snapshot of the collection.
    public var collection: DocumentCollection { current.withLock { $0 } }

    func finish(_ operation: RAGMetrics.Operation, outcome: String, started: ContinuousClock.Instant) {
        metrics.requests(operation, outcome: outcome).increment()
        metrics.requestLatency(operation).record(Engine.seconds(since: started))
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }

    /// Runs blocking work (PDF parsing, large BLAS calls, file I/O) on `BlockingPool.shared`, off Swift's
    /// cooperative pool.
    static func offload<T: Sendable, Failure: Error>(_ body: @escaping @Sendable () throws(Failure) -> T) async throws(Failure) -> T {
        try await BlockingPool.shared.run(body)
    }
}


import Foundation
import Logging
import Prometheus
import Synchronization

/// The RAG engine: ingest documents, search them, and answer questions with citations to file and page.
///
/// ```swift
/// import RAGCore
///
/// let engine = try await Engine(configuration: EngineConfiguration(collectionDirectory: URL(fileURLWithPath: "docs-index")))
/// let report = await engine.ingest(paths: ["handbook.pdf"])
/// let answer = try await engine.ask("How many vacation days do I get?")
/// print(answer.text)
/// for citation in answer.citations { print("[\(citation.number)] \(citation.label)") }
/// ```
///
/// The collection's truth is its store (`CollectionStore`: a SQLite database in `collectionDirectory`, or memory
/// without one); the engine keeps the searchable collection in memory, loaded when it opens and then kept current
/// by applying the store's change log: its own writes and other processes' (`follow()`), one change at a time, never
/// by reloading the whole collection. Reads (search, ask) work on an immutable snapshot and never wait for a write;
/// writes (ingest, remove) are one store transaction each, applied to the snapshot once committed. Ingestion embeds
/// outside any lock and commits each document on its own.
///
/// The façade is split by job: this file holds the state, opening and following; `Engine+Ingest.swift` ingestion and
/// removal; `Engine+Writes.swift` the write protocol; `Engine+Answer.swift` search and answers.
public final class Engine: Sendable {
    public let configuration: EngineConfiguration
    public let embedder: any Embedder
    public let llm: any LLMClient
    public let metrics: RAGMetrics
    public let logger: Logger
    let store: any CollectionStore
    /// The snapshot, whose `generation` is the newest change of the store applied to it.
    let current: Mutex<DocumentCollection>
    /// Whether `current` was read from a collection file of an earlier release that the store had not migrated (a
    /// read-only engine's): once the store has a database, following loads it whole, once.
    let legacySnapshot: Mutex<Bool>
    /// Serialises this engine's writes and the applying of changes, first come first served; a writer whose task is
    /// cancelled while it waits leaves the queue without writing.
    let writes = AsyncSemaphore(permits: 1)
    let status = Mutex(StoreStatus())
    /// Renders pages for citations, with its own concurrency limit and cache.
    let pageRenderer: PageRenderer
    /// The response cache shared with other processes (`Engine+Cache.swift`), or `nil`.
    public let cache: (any ResponseCache)?
    /// The last collection version's cache scope (``cacheScope(_:)``).
    let cacheScopes = Mutex<(generation: UInt64, digest: String)?>(nil)
    /// What answers depend on besides the collection and the question (``answerFingerprint(configuration:embedder:llm:)``).
    let answerFingerprint: String

    /// Opens the collection in `configuration.databaseURL` (PostgreSQL, shared), else in
    /// `configuration.collectionDirectory` (a SQLite database, `collection.db`; a collection file of an earlier release
    /// is migrated into it first, unless `readOnly`), else an empty collection in memory. Call ``close()`` when done
    /// with an engine on a database, to release its connections.
    ///
    /// - Parameter cache: a response cache shared with other processes (``RedisResponseCache``, or
    ///   ``MemoryResponseCache`` for one process): question embeddings, retrieval results and whole answers to
    ///   questions without history, used as `configuration.cache` says. `nil`, nothing is cached.
    /// - Throws: `CollectionError` when the collection is damaged, of an unknown version, or was built by a
    ///   different embedder than `embedder`.
    public convenience init(
        configuration: EngineConfiguration = EngineConfiguration(), embedder: any Embedder = HashingEmbedder(),
        llm: any LLMClient = ExtractiveAnswerer(), metrics: RAGMetrics = RAGMetrics(),
        logger: Logger = Logger(label: "rag.engine"), cache: (any ResponseCache)? = nil
    ) async throws(CollectionError) {
        let store = try await Engine.makeStore(configuration, logger: logger)
        do {
            try await self.init(
                configuration: configuration, store: store, embedder: embedder, llm: llm, metrics: metrics, logger: logger, cache: cache)
        } catch {
            await store.shutdown()
            throw error
        }
    }

    /// The store `configuration` names: PostgreSQL when it has a database URL, else SQLite in its collection
    /// directory, else memory.
    package static func makeStore(_ configuration: EngineConfiguration, logger: Logger) async throws(CollectionError) -> any CollectionStore {
        if let url = configuration.databaseURL {
            return try await PostgresCollectionStore(
                url: url, maxConnections: configuration.databaseMaxConnections, connectionWait: configuration.databaseWait, logger: logger)
        }
        if let directory = configuration.collectionDirectory {
            return SQLiteCollectionStore(directory: directory, readOnly: configuration.readOnly)
        }
        return MemoryCollectionStore()
    }

    /// Releases the store's resources: a database's connection pool and its change listener (nothing for SQLite or
    /// memory). Waits for writes in progress first. The engine must not be used afterwards.
    public func close() async {
        await flush()
        await store.shutdown()
    }

    /// Signals that the collection changed, pushed by the store (PostgreSQL's notifications): the new version, or 0
    /// for "look now". `nil` when the store cannot push them; then only polling (``follow()``) finds changes.
    /// Signals are hints: call ``follow()`` on each, and still every few seconds.
    public func changeSignals() -> AsyncStream<UInt64>? { store.changeSignals() }

    /// Where the collection is, for logs: a directory, `memory`, or the database URL without its password.
    public var collectionLocation: String { store.location }

    /// Opens the collection in `store`.
    package init(
        configuration: EngineConfiguration, store: any CollectionStore, embedder: any Embedder, llm: any LLMClient = ExtractiveAnswerer(),
        metrics: RAGMetrics = RAGMetrics(), logger: Logger = Logger(label: "rag.engine"), cache: (any ResponseCache)? = nil
    ) async throws(CollectionError) {
        self.configuration = configuration
        self.cache = cache
        self.answerFingerprint = Engine.answerFingerprint(configuration: configuration, embedder: embedder, llm: llm)
        if cache != nil { metrics.prepareCache() }
        self.embedder = embedder
        self.llm = llm
        self.metrics = metrics
        metrics.observe(BlockingPool.shared)
        self.logger = logger
        self.store = store
        self.pageRenderer = PageRenderer(limits: configuration.pageRendering)
        var collection = DocumentCollection(embedderID: embedder.identifier, dimension: embedder.dimension, storage: configuration.vectorStorage)
        var legacy = false
        if let snapshot = try await store.loadSnapshot() {
            try Engine.checkCompatible(snapshot.collection, with: embedder, path: store.location)
            collection = snapshot.collection
            legacy = snapshot.isLegacy
        }
        collection.setVectorFormat(configuration.vectorFormat.format(rows: collection.chunks.count))
        self.current = Mutex(collection)
        self.legacySnapshot = Mutex(legacy)
        publishSize(collection)
        metrics.prepare(model: llm.model)
        metrics.questionsUnanswered.increment(by: Int64(0))
        metrics.collectionChangesApplied.increment(by: Int64(0))
        metrics.databaseErrors(operation: "follow").increment(by: Int64(0))
        metrics.setQueueDepth(QueueDepth(queued: 0, processing: 0))
        for outcome in ["ready", "failed", "retried"] { metrics.ingestJobs(outcome: outcome).increment(by: Int64(0)) }
        for outcome in RAGMetrics.pageRenderOutcomes { metrics.pageRenders(outcome: outcome).increment(by: Int64(0)) }
        noteStore(reachable: true, newest: collection.generation)
    }

    static func checkCompatible(_ collection: DocumentCollection, with embedder: any Embedder, path: String) throws(CollectionError) {
        guard collection.embedderID == embedder.identifier, collection.dimension == embedder.dimension else {
            throw CollectionError(
                .embedderMismatch,
                "the collection was built with embedder \(collection.embedderID) (\(collection.dimension) dimensions) but \(embedder.identifier) (\(embedder.dimension) dimensions) is in use; use the same embedder or ingest into a new collection",
                path: path)
        }
    }

    /// Applies the changes that other processes (an ingestion job, another server) committed since this engine's
    /// version, in order, to the in-memory collection, without reloading it. Returns how many changes were applied.
    /// Cheap when nothing changed: one look at the store's newest version. Readers keep their snapshot meanwhile.
    @discardableResult
    public func follow() async throws(CollectionError) -> Int {
        let newest: UInt64
        do {
            newest = try await store.currentVersion()
            noteStore(reachable: true, newest: newest)
        } catch {
            noteStore(reachable: false, error: error)
            throw error
        }
        guard newest != collection.generation || legacySnapshot.withLock({ $0 }) else { return 0 }
        do {
            return try await writes.withPermit { try await applyChanges(upTo: nil) }
        } catch let error as CollectionError {
            throw error
        } catch {
            return 0  // cancelled while waiting for a write to finish
        }
    }

    /// Applies the store's changes after the snapshot's version, up to `last` (all when `nil`), in batches. Call it
    /// holding `writes`. Reloads the whole collection only when the store is not the one the snapshot came from: a
    /// collection file of an earlier release migrated meanwhile, or a version older than the snapshot's (a database
    /// replaced by a backup).
    func applyChanges(upTo last: UInt64?) async throws(CollectionError) -> Int {
        let newest = try await store.currentVersion()
        if legacySnapshot.withLock({ $0 }) ? newest > 0 : newest < collection.generation {
            return try await reloadWhole(reason: "the store is not the one the snapshot came from")
        }
        var applied = 0
        while true {
            let version = collection.generation
            if let last, version >= last { break }
            var batch = try await store.changes(after: version, limit: 64)
            if let last { batch.removeAll { $0.version > last } }
            guard !batch.isEmpty else { break }
            try await adoptStoredFormatIfEmpty()
            if batch.contains(where: { if case .storage = $0.kind { true } else { false } }) {
                // Every vector was re-encoded: the collection is loaded whole, as of the newest version.
                return applied + (try await reloadWhole(reason: "its vectors' storage changed"))
            }
            let dimension = collection.dimension
            for change in batch {
                guard case .added(let document?) = change.kind else { continue }
                guard document.vectors.count == document.chunks.count * dimension, document.terms.lengths.count == document.chunks.count
                else {
                    throw CollectionError(
                        .corrupt, "the collection is damaged (a document's vectors do not fit the collection's dimension)",
                        path: store.location)
                }
            }
            let removes = batch.contains { if case .removed = $0.kind { true } else { false } }
            updateSnapshot(removes: removes) { collection in
                for change in batch { collection.apply(change) }
            }
            applied += batch.count
            metrics.collectionChangesApplied.increment(by: Int64(batch.count))
        }
        if applied > 0 {
            let collection = self.collection
            publishSize(collection)
            logger.info(
                "applied changes to the collection",
                metadata: ["rag.collection.version": "\(collection.generation)", "rag.collection.changes": "\(applied)"])
        }
        return applied
    }

    /// Loads the collection whole and swaps it in (call it holding `writes`); returns how many documents it has.
    func reloadWhole(reason: String) async throws(CollectionError) -> Int {
        guard let snapshot = try await store.loadSnapshot(), !snapshot.isLegacy else { return 0 }
        try Engine.checkCompatible(snapshot.collection, with: embedder, path: store.location)
        var loaded = snapshot.collection
        loaded.setVectorFormat(configuration.vectorFormat.format(rows: loaded.chunks.count))
        current.withLock { [loaded] in $0 = loaded }
        legacySnapshot.withLock { $0 = false }
        publishSize(loaded)
        logger.info(
            "loaded the collection whole",
            metadata: ["rag.collection.version": "\(snapshot.version)", "rag.collection.reason": "\(reason)",
                       "rag.vector_storage": "\(loaded.storageFormat.rawValue)"])
        return snapshot.collection.documents.count
    }

    /// Changes the in-memory collection; call it holding `writes`, which keeps every other change out meanwhile.
    /// Additions are applied in place, under the snapshot's lock: appending a document's rows is short, and the
    /// storage is copied only if a reader holds the snapshot at that moment. Removals rebuild the indexes whatever
    /// happens (a removal from 1M chunks takes seconds), so they are applied to a copy outside the lock, which is
    /// swapped in at the end, and readers never wait for them.
    @discardableResult
    func updateSnapshot(removes: Bool, _ body: (inout DocumentCollection) -> Void) -> DocumentCollection {
        let format = configuration.vectorFormat
        guard removes else {
            let updated = current.withLock { collection in
                body(&collection)
                return collection
            }
            // Changing the format (auto crossing its threshold) encodes every row, seconds at a million: that is done
            // on a copy outside the lock and swapped in, like a removal. No other change can come meanwhile.
            let wanted = format.format(rows: updated.chunks.count)
            guard wanted != updated.vectorFormat else { return updated }
            var next = updated
            next.setVectorFormat(wanted)
            let published = next
            current.withLock { $0 = published }
            return published
        }
        var next = collection
        body(&next)
        next.setVectorFormat(format.format(rows: next.chunks.count))
        let published = next
        current.withLock { $0 = published }
        return published
    }

    /// Waits until writes in progress have been committed (for a graceful shutdown).
    public func flush() async {
        _ = try? await writes.withPermit {}
    }

    func publishSize(_ collection: DocumentCollection) {
        metrics.setCollectionSize(documents: collection.documents.count, chunks: collection.chunks.count)
        metrics.setVectorIndexBytes(stored: collection.vectors, compact: collection.compactIndex)
        metrics.setCollectionVersion(collection.generation)
        if let last = collection.documents.map(\.ingestedAt).max() { metrics.setLastIngest(last) }
    }

    /// The current snapshot of the collection.
    public var collection: DocumentCollection { current.withLock { $0 } }

    /// Whether the store answered the last time `follow()` asked it, and the newest version it had: what `/readyz`
    /// reports and `rag_database_up` and `rag_collection_newest_version` publish.
    public var storeStatus: StoreStatus { status.withLock { $0 } }

    /// Records what the store last answered (`follow()`, the ingestion worker).
    public func noteStore(reachable: Bool, newest: UInt64? = nil, error: (any Error)? = nil) {
        let updated = status.withLock { status in
            status.reachable = reachable
            if let newest { status.newestVersion = max(newest, collection.generation) }
            status.lastError = error.map { ($0 as? CollectionError)?.message ?? "\($0)" }
            return status
        }
        metrics.setDatabaseUp(reachable)
        metrics.setNewestCollectionVersion(updated.newestVersion)
        if !reachable { metrics.databaseErrors(operation: "follow").increment() }
    }

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


/// What the collection's store last answered.
public struct StoreStatus: Sendable, Hashable {
    /// Whether it answered.
    public var reachable = true
    /// The newest version it had (at least the engine's own).
    public var newestVersion: UInt64 = 0
    /// Why it did not answer, without any path or secret.
    public var lastError: String?

    public init() {}
}

import Foundation
import Prometheus
import Synchronization

/// The response cache (``ResponseCache``, Redis in `rag-server`): what is cached, under which keys, and how a cached
/// value becomes hits or an answer again.
///
/// Keys are SHA-256 digests of everything the value depends on, so that no entry is ever served for another
/// collection version or configuration:
/// - **embedding** (`e:`): the embedder's identifier and the query.
/// - **retrieval** (`r:`): the collection's *scope* (its version and a digest of its documents: id, content hash,
///   chunk count and ingestion time, so two separate collections at the same version never share entries), the
///   retrieval options, `k`, the document filter and the query.
/// - **answer** (`a:`): the scope, the *answer fingerprint* (this build's version, the embedder, the language model
///   and its settings, the retrieval, prompt and rewriting options, the number of passages) and the question. Only
///   questions without history are cached whole.
///
/// A value that does not decode or no longer fits the collection counts as an `error` lookup and is recomputed.
extension Engine {
    /// Key prefix and format version of every entry; bump it when a value's encoding changes.
    static let cacheFormat = "v1"

    /// The cache to consult for `layer` when a request says `use`, or `nil`: no cache, the cache turned off, or a
    /// request that bypasses it (counted as a `skipped` lookup of `layer`).
    func caching(_ use: CacheUse, layer: ResponseCacheLayer) -> (any ResponseCache)? {
        guard let cache, configuration.cache.isEnabled else { return nil }
        guard use != .bypass else {
            countSkippedLookup(layer)
            return nil
        }
        return cache
    }

    /// Counts a lookup of `layer` skipped on purpose (`"cache": false`, a question with history) in
    /// `rag_cache_requests_total{outcome="skipped"}`, when there is a cache to skip.
    func countSkippedLookup(_ layer: ResponseCacheLayer) {
        guard cache != nil, configuration.cache.isEnabled else { return }
        metrics.cacheLookups(layer: layer, outcome: .skipped).increment()
    }

    /// The answer to `question` from the cache, or `nil` (a miss, an error, no cache, or a question with history,
    /// which is never cached whole and not looked up). Counts the lookup in `rag_cache_requests_total{layer="answer"}`.
    public func cachedAnswer(_ question: String, history: [ChatMessage] = []) async -> Answer? {
        guard history.isEmpty else { return nil }
        return await lookUpAnswer(question).answer
    }

    /// ``cachedAnswer(_:history:)`` for a question without history, and what the lookup found: `hit`, `miss`,
    /// `error` (the cache could not be asked, or held what the engine cannot read), or `skipped` (no cache, the
    /// cache turned off, an empty collection or a question the engine refuses).
    package func lookUpAnswer(_ question: String) async -> (answer: Answer?, outcome: ResponseCacheOutcome) {
        guard let cache = caching(.use, layer: .answer) else { return (nil, .skipped) }
        let start = ContinuousClock.now
        let snapshot = collection
        guard !snapshot.chunks.isEmpty, (try? validate(question)) != nil else { return (nil, .skipped) }
        let key = answerKey(question, snapshot: snapshot)
        switch await cache.value(for: key) {
        case .miss:
            metrics.cacheLookups(layer: .answer, outcome: .miss).increment()
            return (nil, .miss)
        case .error:
            metrics.cacheLookups(layer: .answer, outcome: .error).increment()
            return (nil, .error)
        case .hit(let bytes):
            metrics.cacheBytes(direction: "read").increment(by: Int64(bytes.count))
            guard var answer = try? CacheCodec.decodeAnswer(bytes) else {
                metrics.cacheLookups(layer: .answer, outcome: .error).increment()
                return (nil, .error)
            }
            metrics.cacheLookups(layer: .answer, outcome: .hit).increment()
            answer.timings = Timings(total: Engine.seconds(since: start))
            finish(.ask, outcome: "success", started: start)
            return (answer, .hit)
        }
    }

    /// Stores a freshly computed answer under its key.
    func storeAnswer(_ answer: Answer, key: String, in cache: any ResponseCache) async {
        await store(CacheCodec.encode(answer), key: key, ttl: configuration.cache.ttl, in: cache)
    }

    /// The cached hits of one retrieval, resolved against `snapshot` (whose scope is in the key), or `nil`.
    func cachedHits(key: String, snapshot: DocumentCollection, in cache: any ResponseCache) async -> [SearchHit]? {
        guard let bytes = await lookUp(key, layer: .retrieval, in: cache) else { return nil }
        guard let stored = try? CacheCodec.decodeHits(bytes),
            let hits = try? stored.map({ hit throws -> SearchHit in
                guard let rows = snapshot.rowRanges[DocumentID(rawValue: hit.document)], hit.ordinal >= 0, hit.ordinal < rows.count else {
                    throw CacheCodec.Malformed()
                }
                let chunk = snapshot.chunks[rows.lowerBound + hit.ordinal]
                guard chunk.ordinal == hit.ordinal else { throw CacheCodec.Malformed() }
                return SearchHit(chunk: chunk, score: hit.score, rank: hit.rank, lexicalScore: hit.lexicalScore)
            })
        else {
            metrics.cacheLookups(layer: .retrieval, outcome: .error).increment()
            return nil
        }
        metrics.cacheLookups(layer: .retrieval, outcome: .hit).increment()
        return hits
    }

    func storeHits(_ hits: [SearchHit], key: String, in cache: any ResponseCache) async {
        let stored = hits.map {
            CacheCodec.StoredHit(document: $0.chunk.documentID.rawValue, ordinal: $0.chunk.ordinal, score: $0.score, rank: $0.rank, lexicalScore: $0.lexicalScore)
        }
        await store(CacheCodec.encode(stored), key: key, ttl: configuration.cache.ttl, in: cache)
    }

    /// A query's embedding from the cache (the embedder's dimension of fp32 in this host's byte order, which is
    /// little-endian on every platform the engine builds for), or `nil`.
    func cachedEmbedding(_ query: String, in cache: any ResponseCache) async -> [Float]? {
        guard let bytes = await lookUp(embeddingKey(query), layer: .embedding, in: cache) else { return nil }
        guard bytes.count == embedder.dimension * MemoryLayout<Float>.size else {
            metrics.cacheLookups(layer: .embedding, outcome: .error).increment()
            return nil
        }
        metrics.cacheLookups(layer: .embedding, outcome: .hit).increment()
        return [Float](unsafeUninitializedCapacity: embedder.dimension) { buffer, count in
            bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(buffer).copyMemory(from: $0) }
            count = embedder.dimension
        }
    }

    func storeEmbedding(_ vector: [Float], query: String, in cache: any ResponseCache) async {
        let bytes = vector.withUnsafeBytes { Array($0) }
        await store(bytes, key: embeddingKey(query), ttl: configuration.cache.embeddingTTL, in: cache)
    }

    // MARK: Keys

    func answerKey(_ question: String, snapshot: DocumentCollection) -> String {
        Self.key("a", [cacheScope(snapshot), answerFingerprint, question])
    }

    func retrievalKey(_ query: String, k: Int, documents: Set<DocumentID>?, options: RetrievalOptions, snapshot: DocumentCollection) -> String {
        let filter = documents.map { $0.map(\.rawValue).sorted().joined(separator: "\u{1F}") } ?? "*"
        return Self.key("r", [cacheScope(snapshot), String(reflecting: options), String(k), filter, query])
    }

    func embeddingKey(_ query: String) -> String {
        Self.key("e", [embedder.identifier, String(embedder.dimension), query])
    }

    /// `<layer>:<format>:<hex SHA-256 of the parts, each length-prefixed>`.
    static func key(_ layer: String, _ parts: [String]) -> String {
        var digest = SHA256()
        for part in parts {
            digest.update(Array("\(part.utf8.count):".utf8))
            digest.update(Array(part.utf8))
        }
        return "\(layer):\(cacheFormat):\(SHA256.hexString(digest.finalize()))"
    }

    /// The collection version and a digest of its documents, computed once per version.
    func cacheScope(_ snapshot: DocumentCollection) -> String {
        if let scope = cacheScopes.withLock({ $0 }), scope.generation == snapshot.generation { return scope.digest }
        var digest = SHA256()
        digest.update(Array("\(snapshot.embedderID)\n\(snapshot.generation)\n".utf8))
        for record in snapshot.documents.sorted(by: { $0.id.rawValue < $1.id.rawValue }) {
            digest.update(Array("\(record.id.rawValue) \(record.contentHash) \(record.chunkCount) \(record.ingestedAt.timeIntervalSince1970.bitPattern)\n".utf8))
        }
        let scope = "\(snapshot.generation)-\(SHA256.hexString(digest.finalize()))"
        cacheScopes.withLock { $0 = (snapshot.generation, scope) }
        return scope
    }

    /// Everything besides the collection and the question that an answer depends on, as the hex SHA-256 of its
    /// parts (hashed once, when the engine opens, so that a lookup hashes only the scope, this and the question).
    static func answerFingerprint(configuration: EngineConfiguration, embedder: any Embedder, llm: any LLMClient) -> String {
        let parts = [
            BuildInfo.version, embedder.identifier, llm.cacheIdentity, String(reflecting: configuration.retrieval),
            String(reflecting: configuration.prompt), String(reflecting: configuration.queryRewriting),
            String(configuration.searchResults), String(configuration.condenseFollowUps),
        ]
        return SHA256.hex(parts.joined(separator: "\n"))
    }

    // MARK: Lookups

    /// The bytes under `key`, or `nil`; counts misses and errors (hits are counted once decoded).
    private func lookUp(_ key: String, layer: ResponseCacheLayer, in cache: any ResponseCache) async -> [UInt8]? {
        switch await cache.value(for: key) {
        case .hit(let bytes):
            metrics.cacheBytes(direction: "read").increment(by: Int64(bytes.count))
            return bytes
        case .miss:
            metrics.cacheLookups(layer: layer, outcome: .miss).increment()
        case .error:
            metrics.cacheLookups(layer: layer, outcome: .error).increment()
        }
        return nil
    }

    private func store(_ bytes: [UInt8], key: String, ttl: Duration, in cache: any ResponseCache) async {
        guard bytes.count <= configuration.cache.maxEntryBytes else { return }
        if await cache.store(bytes, for: key, ttl: ttl) {
            metrics.cacheBytes(direction: "written").increment(by: Int64(bytes.count))
        }
    }
}

extension Citation {
    init(number: Int, documentID: DocumentID, fileName: String, page: Int, pageEnd: Int, chunkIndex: Int, snippet: String, score: Float) {
        self.number = number
        self.documentID = documentID
        self.fileName = fileName
        self.page = page
        self.pageEnd = pageEnd
        self.chunkIndex = chunkIndex
        self.snippet = snippet
        self.score = score
    }
}

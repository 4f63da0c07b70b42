import Foundation
import Prometheus
import Synchronization

/// The one metrics registry of the engine: the CLI and the server record into it and render it as
/// Prometheus text (`/metrics`, `rag --metrics-file`).
///
/// Names follow Prometheus conventions: `rag_` prefix, base units (seconds), counters end in `_total`,
/// label values come from small fixed sets. Families are rendered sorted by name, so the output is stable.
///
/// ```swift
/// let metrics = RAGMetrics()
/// let engine = try await Engine(configuration: config, metrics: metrics)
/// print(metrics.render())
/// ```
public final class RAGMetrics: Sendable {
    /// The underlying swift-prometheus registry; register your own metrics here to have them rendered too.
    public let registry: PrometheusCollectorRegistry
    /// The pool whose state each rendering reports, and the finished-job count already reported.
    private let observedPool = Mutex<(pool: BlockingPool, reported: Int)?>(nil)

    /// Operations that count as requests.
    public enum Operation: String, Sendable, CaseIterable {
        case ask, search, ingest, remove
    }

    /// Buckets for request latency, in seconds (5 ms to 2 min).
    public static let latencyBuckets: [Double] = [
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
    ]
    /// Buckets for fast internal steps (retrieval, embedding), in seconds (100 µs to 10 s).
    public static let stepBuckets: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10]
    static let tokenBuckets: [Double] = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768]
    /// Every `reason` label of `rag_ingest_errors_total`: `DocumentError` codes, failed or unreadable pages, storage.
    public static let ingestErrorReasons = [
        "not_a_pdf", "unsupported_type", "encrypted", "wrong_password", "no_pages", "damaged", "too_large",
        "too_many_pages", "too_much_text", "too_much_text_for_size", "unreadable", "page_failed", "unmappable_text",
        "collection_quota", "storage", "rejected", "other",
    ]
    /// Every `reason` label of `rag_documents_refused_total`: the limits a document can be refused by
    /// (`DocumentError` codes of the extraction limits, and the collection quota).
    public static let refusalReasons = [
        "too_large", "too_many_pages", "too_much_text", "too_much_text_for_size", "collection_quota",
    ]
    /// Every `type` label of `rag_llm_errors_total` (the `LLMError` codes, plus `other`).
    public static let llmErrorTypes = [
        "authentication", "rate_limited", "timeout", "server", "context_length_exceeded", "malformed_response",
        "cancelled", "connection", "invalid_request", "configuration", "response_too_large", "other",
    ]

    /// Creates the model's series at zero, so that rates and alerts see them before the first call.
    public func prepare(model: String) {
        for type in Self.llmErrorTypes { llmErrors(type: type, model: model).increment(by: Int64(0)) }
        for kind in ["prompt", "completion"] { tokens(kind: kind, model: model).increment(by: Int64(0)) }
        estimatedUsage(model: model).increment(by: Int64(0))
        _ = llmLatency(model: model)
        _ = timeToFirstToken(model: model)
        prepareQueryRewriting(model: model)
    }

    static let sourceBuckets: [Double] = [0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20]

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        // Create the families and known label sets up front, so dashboards see zeros rather than gaps, and keep
        // the handles that every answer records into (see `MetricHandles`).
        requestCounters = Dictionary(uniqueKeysWithValues: Operation.allCases.map { operation in
            (operation, ["success", "error"].map { Self.makeRequests(registry, operation, outcome: $0) })
        })
        requestLatencies = Dictionary(uniqueKeysWithValues: Operation.allCases.map { ($0, Self.makeRequestLatency(registry, $0)) })
        for counters in requestCounters.values { for counter in counters { counter.increment(by: Int64(0)) } }
        retrievalLatency = registry.makeValueHistogram(
            descriptor: Self.named("rag_retrieval_duration_seconds", "Time to retrieve passages for a query (embedding plus vector search) in seconds."),
            buckets: Self.stepBuckets)
        embeddingLatency = registry.makeValueHistogram(
            descriptor: Self.named("rag_embedding_duration_seconds", "Time of one embedder call in seconds."), buckets: Self.stepBuckets)
        sourcesMatched = registry.makeValueHistogram(
            descriptor: Self.named("rag_sources_matched", "Number of document passages used to answer each question."), buckets: Self.sourceBuckets)
        promptLength = registry.makeValueHistogram(
            descriptor: Self.named("rag_prompt_length_tokens", "Size of each assembled prompt in (estimated) tokens."), buckets: Self.tokenBuckets)
        responseLength = registry.makeValueHistogram(
            descriptor: Self.named("rag_response_length_tokens", "Size of each answer in tokens."), buckets: Self.tokenBuckets)
        for reason in Self.ingestErrorReasons { ingestErrors(reason: reason).increment(by: Int64(0)) }
        for reason in Self.refusalReasons { documentsRefused(reason: reason).increment(by: Int64(0)) }
        pagesIngested.increment(by: Int64(0))
        chunksIngested.increment(by: Int64(0))
        documentsIngested.increment(by: Int64(0))
        documentsRecovered.increment(by: Int64(0))
        for outcome in OCRPageResult.Outcome.allCases { ocrPages(outcome: outcome).increment(by: Int64(0)) }
    }

    private let requestCounters: [Operation: [Counter]]  // [success, error]
    private let requestLatencies: [Operation: ValueHistogram]
    private let llmLatencies = MetricHandles<String, ValueHistogram>()
    private let firstTokenLatencies = MetricHandles<String, ValueHistogram>()
    private let tokenCounters = MetricHandles<LabelPair, Counter>()  // kind, model
    private let estimatedUsageCounters = MetricHandles<String, Counter>()
    private let llmErrorCounters = MetricHandles<LabelPair, Counter>()  // type, model
    /// The response cache's and the Redis client's handles (`RAGMetrics+Cache.swift`), by `layer/outcome`, command or
    /// operation.
    let cacheLookupCounters = MetricHandles<String, Counter>()
    let redisCommandLatencies = MetricHandles<String, ValueHistogram>()
    let redisErrorCounters = MetricHandles<String, Counter>()

    /// Two label values, as a `MetricHandles` key.
    private struct LabelPair: Hashable, Sendable {
        var first: String
        var second: String
    }

    // MARK: Requests

    /// `rag_requests_total{operation, outcome}`.
    public func requests(_ operation: Operation, outcome: String) -> Counter {
        switch outcome {
        case "success": requestCounters[operation]![0]
        case "error": requestCounters[operation]![1]
        default: Self.makeRequests(registry, operation, outcome: outcome)
        }
    }

    private static func makeRequests(_ registry: PrometheusCollectorRegistry, _ operation: Operation, outcome: String) -> Counter {
        registry.makeCounter(descriptor: Self.named("rag_requests_total", "Engine requests by operation (ask, search, ingest, remove) and outcome (success, error)."), labels: [("operation", operation.rawValue), ("outcome", outcome)])
    }

    /// `rag_request_duration_seconds{operation}`: whole-request latency, for percentiles.
    public func requestLatency(_ operation: Operation) -> ValueHistogram { requestLatencies[operation]! }

    private static func makeRequestLatency(_ registry: PrometheusCollectorRegistry, _ operation: Operation) -> ValueHistogram {
        registry.makeValueHistogram(descriptor: Self.named("rag_request_duration_seconds", "Latency of engine requests in seconds, by operation."), labels: [("operation", operation.rawValue)],
            buckets: Self.latencyBuckets)
    }

    // MARK: Steps

    /// `rag_retrieval_duration_seconds`: query embedding plus vector search.
    public let retrievalLatency: ValueHistogram

    /// `rag_embedding_duration_seconds`: one embedder call (a batch at ingestion, one query at search).
    public let embeddingLatency: ValueHistogram

    /// `rag_llm_duration_seconds{model}`: a whole LLM answer.
    public func llmLatency(model: String) -> ValueHistogram {
        llmLatencies.get(model) { model in registry.makeValueHistogram(descriptor: Self.named("rag_llm_duration_seconds", "Time for the language model (or extractive answerer) to produce an answer in seconds."), labels: [("model", model)], buckets: Self.latencyBuckets) }
    }

    /// `rag_llm_time_to_first_token_seconds{model}`: from request to the first streamed token.
    public func timeToFirstToken(model: String) -> ValueHistogram {
        firstTokenLatencies.get(model) { model in registry.makeValueHistogram(descriptor: Self.named("rag_llm_time_to_first_token_seconds", "Time from sending a prompt to receiving the first answer token in seconds."), labels: [("model", model)], buckets: Self.latencyBuckets) }
    }

    /// `rag_llm_tokens_total{kind, model}`: `kind` is `prompt` or `completion`.
    public func tokens(kind: String, model: String) -> Counter {
        tokenCounters.get(LabelPair(first: kind, second: model)) { key in
            registry.makeCounter(descriptor: Self.named("rag_llm_tokens_total", "Language model tokens by kind (prompt, completion) and model; estimated when the model reports none."), labels: [("kind", key.first), ("model", key.second)])
        }
    }

    /// `rag_llm_usage_estimated_total{model}`: calls whose token counts were estimated, not reported.
    public func estimatedUsage(model: String) -> Counter {
        estimatedUsageCounters.get(model) { model in
            registry.makeCounter(descriptor: Self.named("rag_llm_usage_estimated_total", "Language model calls whose token counts were estimated because the model reported none."), labels: [("model", model)])
        }
    }

    /// `rag_llm_errors_total{type, model}`.
    public func llmErrors(type: String, model: String) -> Counter {
        llmErrorCounters.get(LabelPair(first: type, second: model)) { key in
            registry.makeCounter(descriptor: Self.named("rag_llm_errors_total", "Language model call failures by error type and model."), labels: [("type", key.first), ("model", key.second)])
        }
    }

    // MARK: Answers

    /// `rag_sources_matched`: passages placed in the prompt per question.
    public let sourcesMatched: ValueHistogram

    /// `rag_prompt_length_tokens`: estimated prompt size per question.
    public let promptLength: ValueHistogram

    /// `rag_response_length_tokens`: answer size per question.
    public let responseLength: ValueHistogram

    // MARK: Ingestion

    /// `rag_ingested_documents_total`.
    public var documentsIngested: Counter {
        registry.makeCounter(descriptor: Self.named("rag_ingested_documents_total", "Documents added to the collection."))
    }

    /// `rag_ingested_pages_total`.
    public var pagesIngested: Counter {
        registry.makeCounter(descriptor: Self.named("rag_ingested_pages_total", "Pages of text extracted and indexed."))
    }

    /// `rag_ingested_chunks_total`.
    public var chunksIngested: Counter {
        registry.makeCounter(descriptor: Self.named("rag_ingested_chunks_total", "Chunks embedded and added to the index."))
    }

    /// `rag_documents_recovered_total`: damaged PDFs (cut off, concatenated, line feeds turned into CR LF) that
    /// the loader's recovery read, each with a `recovered` warning. Their unreadable pages are counted in
    /// `rag_ingest_errors_total{reason="page_failed"}` as usual.
    public var documentsRecovered: Counter {
        registry.makeCounter(descriptor: Self.named("rag_documents_recovered_total", "Damaged PDFs added after the loader recovered what could be read (cut off, concatenated, line feeds turned into CR LF)."))
    }

    /// `rag_ingest_errors_total{reason}`: files or pages that could not be ingested, by reason.
    public func ingestErrors(reason: String) -> Counter {
        registry.makeCounter(descriptor: Self.named("rag_ingest_errors_total", "Files or pages that could not be ingested, by reason."), labels: [("reason", reason)])
    }

    /// `rag_documents_refused_total{reason}`: documents refused by a limit (``refusalReasons``: the extraction
    /// limits on bytes, pages, characters and characters per byte, and the collection quota). Each is also counted
    /// in `rag_ingest_errors_total`; this counter tells a limit doing its job (or set too low) from broken files.
    public func documentsRefused(reason: String) -> Counter {
        registry.makeCounter(descriptor: Self.named("rag_documents_refused_total", "Documents refused by a limit (size, pages, text, text per byte, collection quota), by reason."), labels: [("reason", reason)])
    }

    /// `rag_collection_documents` and `rag_collection_chunks`: the collection's current size.
    public func setCollectionSize(documents: Int, chunks: Int) {
        registry.makeGauge(descriptor: Self.named("rag_collection_documents", "Documents in the collection.")).set(Double(documents))
        registry.makeGauge(descriptor: Self.named("rag_collection_chunks", "Chunks in the collection's index.")).set(Double(chunks))
    }

    /// `rag_vector_index_bytes{format}`: memory the collection's vectors take, by format: the stored vectors (in the
    /// collection's `--vector-storage` format) and the compact copy search scans, if any (`--vector-format`); 0 for
    /// a format the process does not hold.
    public func setVectorIndexBytes(stored: StoredVectors, compact: CompactVectorIndex?) {
        for format in VectorFormat.allCases {
            let bytes = (stored.format == format ? stored.memoryBytes : 0) + (compact?.format == format ? compact!.memoryBytes : 0)
            registry.makeGauge(
                descriptor: Self.named("rag_vector_index_bytes", "Memory the collection's vectors take, by format: the stored vectors and the compact copy search scans."),
                labels: [("format", format.rawValue)]
            ).set(Double(bytes))
        }
    }

    /// `rag_collection_version`: the sequence number of the newest change of the collection's change log that this
    /// process has applied (its `index_version`); replicas that have followed the log as far show the same.
    public func setCollectionVersion(_ version: UInt64) {
        registry.makeGauge(descriptor: Self.named("rag_collection_version", "Newest change of the collection's change log applied in this process."))
            .set(Double(version))
    }

    /// `rag_collection_changes_applied_total`: changes of the collection's change log applied to the in-memory
    /// collection, this process's own writes and other processes' (followed) alike, one by one; a whole reload
    /// counts nothing here.
    public var collectionChangesApplied: Counter {
        registry.makeCounter(descriptor: Self.named(
            "rag_collection_changes_applied_total", "Changes of the collection's change log applied to the in-memory collection."))
    }

    /// `rag_collection_newest_version`: the newest change of the collection's change log in the store, as this
    /// process last saw it; `rag_collection_newest_version - rag_collection_version` is how far it is behind.
    public func setNewestCollectionVersion(_ version: UInt64) {
        registry.makeGauge(descriptor: Self.named(
            "rag_collection_newest_version", "Newest change of the collection's change log in the store, as this process last saw it."))
            .set(Double(version))
    }

    /// `rag_ingest_queue_depth{state}`: ingestion jobs queued and being processed, across every worker (read from
    /// the store, so every process reports the same: aggregate with `max`).
    public func setQueueDepth(_ depth: QueueDepth) {
        let descriptor = Self.named("rag_ingest_queue_depth", "Ingestion jobs waiting (queued) and being processed, across every worker.")
        registry.makeGauge(descriptor: descriptor, labels: [("state", "queued")]).set(Double(depth.queued))
        registry.makeGauge(descriptor: descriptor, labels: [("state", "processing")]).set(Double(depth.processing))
    }

    /// `rag_ingest_jobs_total{outcome}`: ingestion jobs this process finished: `ready`, `failed` for good, or
    /// `retried` (given back to the queue after a failure that may pass).
    public func ingestJobs(outcome: String) -> Counter {
        registry.makeCounter(
            descriptor: Self.named("rag_ingest_jobs_total", "Ingestion jobs finished by this process, by outcome (ready, failed, retried)."),
            labels: [("outcome", outcome)])
    }

    /// `rag_database_up`: 1 while the collection's store answers, 0 after a failure to reach it.
    public func setDatabaseUp(_ up: Bool) {
        registry.makeGauge(descriptor: Self.named("rag_database_up", "Whether the collection's database answered the last time it was used (1) or not (0)."))
            .set(up ? 1.0 : 0.0)
    }

    /// `rag_database_errors_total{operation}`: failures to read or write the collection's store, by operation
    /// (follow, write, queue).
    public func databaseErrors(operation: String) -> Counter {
        registry.makeCounter(
            descriptor: Self.named("rag_database_errors_total", "Failures to read or write the collection's database, by operation."),
            labels: [("operation", operation)])
    }

    /// A metric name with its help text; the name carries its own unit suffix.
    private static func named(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    /// `rag_collection_last_ingest_timestamp_seconds`: when the newest document was ingested (Unix time), for
    /// alerting when nothing has been ingested for too long.
    public func setLastIngest(_ date: Date) {
        registry.makeGauge(descriptor: Self.named("rag_collection_last_ingest_timestamp_seconds", "Unix time at which the newest document in the collection was ingested."))
            .set(date.timeIntervalSince1970)
    }

    // MARK: Rendering

    /// The registry as Prometheus text exposition format (version 0.0.4), families sorted by name and series
    /// sorted by labels, so that the output is stable between runs.
    public func render() -> String {
        updatePoolMetrics()
        return RAGMetrics.canonicalize(registry.emitToString())
    }

    /// Reports `pool` in every rendering: `rag_blocking_pool_threads`, `rag_blocking_pool_busy_threads`,
    /// `rag_blocking_pool_queued_jobs` and `rag_blocking_pool_jobs_total`. `Engine` observes `BlockingPool.shared`.
    public func observe(_ pool: BlockingPool) {
        observedPool.withLock { $0 = (pool, $0?.reported ?? 0) }
    }

    private func updatePoolMetrics() {
        let sample = observedPool.withLock { observed -> (BlockingPool.Statistics, Int)? in
            guard let (pool, reported) = observed else { return nil }
            let statistics = pool.statistics
            observed = (pool, statistics.completed)
            return (statistics, statistics.completed - reported)
        }
        guard let (statistics, newlyCompleted) = sample else { return }
        registry.makeGauge(descriptor: Self.named("rag_blocking_pool_threads", "Threads of the pool that runs blocking and CPU-heavy work."))
            .set(Double(statistics.threads))
        registry.makeGauge(descriptor: Self.named("rag_blocking_pool_busy_threads", "Threads of the blocking pool running a job now."))
            .set(Double(statistics.busy))
        registry.makeGauge(descriptor: Self.named("rag_blocking_pool_queued_jobs", "Jobs waiting for a thread of the blocking pool."))
            .set(Double(statistics.queued))
        registry.makeCounter(descriptor: Self.named("rag_blocking_pool_jobs_total", "Jobs the blocking pool has finished."))
            .increment(by: Int64(max(0, newlyCompleted)))
    }

    /// Sorts families by name and, within a family, series by their labels (keeping each histogram's buckets,
    /// sum and count together, in order).
    static func canonicalize(_ text: String) -> String {
        var families: [(name: String, header: [Substring], samples: [Substring])] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3)
                let name = parts.count > 2 ? String(parts[2]) : ""
                if families.last?.name != name { families.append((name, [], [])) }
                families[families.count - 1].header.append(line)
            } else if !families.isEmpty {
                families[families.count - 1].samples.append(line)
            }
        }
        func seriesKey(_ sample: Substring) -> String {
            guard let open = sample.firstIndex(of: "{"), let close = sample.lastIndex(of: "}") else { return "" }
            return sample[sample.index(after: open)..<close].split(separator: ",")
                .filter { !$0.hasPrefix("le=") }.joined(separator: ",")
        }
        var out = ""
        for family in families.sorted(by: { $0.name < $1.name }) {
            for line in family.header { out += line + "\n" }
            let keyed = family.samples.enumerated().map { (key: seriesKey($0.element), offset: $0.offset, line: $0.element) }
            for sample in keyed.sorted(by: { ($0.key, $0.offset) < ($1.key, $1.offset) }) { out += sample.line + "\n" }
        }
        return out
    }
}

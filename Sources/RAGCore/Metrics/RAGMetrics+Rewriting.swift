import Prometheus

extension RAGMetrics {
    /// Every `outcome` label of `rag_query_rewrites_total`: `success` (something usable came back), `empty` (the
    /// model's reply held no usable reformulation or passage) and `error` (the call failed; the question was searched
    /// alone).
    public static let queryRewriteOutcomes = ["success", "empty", "error"]

    /// `rag_query_rewrites_total{outcome}`: query rewriting calls (`EngineConfiguration.queryRewriting`) by outcome
    /// (``queryRewriteOutcomes``). Every outcome but `success` means the question was searched alone.
    public func queryRewrites(outcome: String) -> Counter {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(
                metricName: "rag_query_rewrites_total", unitName: "",
                helpText: "Query rewriting calls to the language model by outcome (success, empty, error); all but success search the question alone."),
            labels: [("outcome", outcome)])
    }

    /// `rag_query_rewrite_duration_seconds`: one query rewriting call, from request to parsed reply (failed calls
    /// included): the latency rewriting adds to an answer before its retrieval.
    public var queryRewriteLatency: ValueHistogram {
        registry.makeValueHistogram(
            descriptor: MetricNameDescriptor(
                metricName: "rag_query_rewrite_duration_seconds", unitName: "",
                helpText: "Time of one query rewriting call to the language model in seconds."),
            buckets: Self.latencyBuckets)
    }

    /// `rag_query_rewrite_tokens_total{kind, model}`: the tokens query rewriting cost, by kind (`prompt`,
    /// `completion`). They are also counted in `rag_llm_tokens_total`, which totals every call.
    public func queryRewriteTokens(kind: String, model: String) -> Counter {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(
                metricName: "rag_query_rewrite_tokens_total", unitName: "",
                helpText: "Language model tokens spent on query rewriting by kind (prompt, completion) and model; also counted in rag_llm_tokens_total."),
            labels: [("kind", kind), ("model", model)])
    }

    /// Creates the query rewriting series at zero.
    func prepareQueryRewriting(model: String) {
        for outcome in Self.queryRewriteOutcomes { queryRewrites(outcome: outcome).increment(by: Int64(0)) }
        for kind in ["prompt", "completion"] { queryRewriteTokens(kind: kind, model: model).increment(by: Int64(0)) }
        _ = queryRewriteLatency
    }
}

import Prometheus

extension RAGMetrics {
    /// `rag_embedding_truncated_total{embedder}`: texts cut to the embedder's token limit before embedding
    /// (their end does not contribute to their vector).
    public func embeddingTruncated(embedder: String) -> Counter {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(
                metricName: "rag_embedding_truncated_total", unitName: "",
                helpText: "Texts cut to the embedder's token limit before embedding, by embedder."),
            labels: [("embedder", embedder)])
    }
}

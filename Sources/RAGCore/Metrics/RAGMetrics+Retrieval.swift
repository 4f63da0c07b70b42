import Prometheus

extension RAGMetrics {
    /// `rag_questions_unanswered_total`: questions for which no passage reached the relevance threshold, so the
    /// engine said the documents do not answer instead of citing weak matches (`RetrievalOptions.minimumScore`).
    /// A rising rate means users ask about things the collection does not cover.
    public var questionsUnanswered: Counter {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(
                metricName: "rag_questions_unanswered_total", unitName: "",
                helpText: "Questions answered with 'the documents do not answer this' because no passage reached the relevance threshold."),
            labels: [])
    }
}

import Prometheus

extension RAGMetrics {
    /// Every `outcome` label of `rag_page_renders_total`: `rendered` (drawn now), `cached` (served from the cache),
    /// `refused` (a bound: too many waiting, too large an image) and `error` (the page could not be drawn).
    public static let pageRenderOutcomes = ["rendered", "cached", "refused", "error"]

    /// `rag_page_renders_total{outcome}`: page images asked for citations, by what happened.
    public func pageRenders(outcome: String) -> Counter {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(
                metricName: "rag_page_renders_total", unitName: "",
                helpText: "Page images asked for citations, by outcome: rendered, cached (served from the cache), refused (a limit), error."),
            labels: [("outcome", outcome)])
    }

    /// `rag_page_render_duration_seconds`: time to draw one page image (not counting cache hits).
    public var pageRenderLatency: ValueHistogram {
        registry.makeValueHistogram(
            descriptor: MetricNameDescriptor(
                metricName: "rag_page_render_duration_seconds", unitName: "",
                helpText: "Time to draw one page image for a citation, in seconds (cache hits are not drawn)."),
            buckets: Self.stepBuckets)
    }
}

import Prometheus

extension RAGMetrics {
    /// Buckets for one page's OCR, in seconds: a clean page takes one to a few seconds per core.
    static let ocrBuckets: [Double] = [0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120]

    /// `rag_ocr_pages_total{outcome}`: pages that needed OCR, by what it did (``OCRPageResult/Outcome``: read,
    /// low_confidence, empty, failed, timeout, skipped).
    public func ocrPages(outcome: OCRPageResult.Outcome) -> Counter {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(
                metricName: "rag_ocr_pages_total", unitName: "",
                helpText: "Pages that needed OCR, by outcome: read, low_confidence, empty (nothing found), failed, timeout, skipped (past the page limit)."),
            labels: [("outcome", outcome.rawValue)])
    }

    /// `rag_ocr_duration_seconds{outcome}`: time to render and read one page by OCR.
    public func ocrLatency(outcome: OCRPageResult.Outcome) -> ValueHistogram {
        registry.makeValueHistogram(
            descriptor: MetricNameDescriptor(
                metricName: "rag_ocr_duration_seconds", unitName: "",
                helpText: "Time to render and read one page by OCR, in seconds, by outcome."),
            labels: [("outcome", outcome.rawValue)], buckets: Self.ocrBuckets)
    }
}

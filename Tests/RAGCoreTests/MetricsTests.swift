import Foundation
import Prometheus
import RAGCore
import Testing
import TestSupport

@Suite struct MetricsTests {
    /// A registry with fixed values, so the text is the same on every run.
    static func populated() -> RAGMetrics {
        let metrics = RAGMetrics()
        metrics.requests(.ask, outcome: "success").increment(by: Int64(3))
        metrics.requests(.ask, outcome: "error").increment()
        metrics.requestLatency(.ask).record(0.2)
        metrics.requestLatency(.search).record(0.003)
        metrics.retrievalLatency.record(0.0004)
        metrics.embeddingLatency.record(0.002)
        metrics.llmLatency(model: "extractive").record(0.001)
        metrics.timeToFirstToken(model: "extractive").record(0.0005)
        metrics.tokens(kind: "prompt", model: "extractive").increment(by: Int64(420))
        metrics.tokens(kind: "completion", model: "extractive").increment(by: Int64(37))
        metrics.llmErrors(type: "timeout", model: "gpt-4o-mini").increment()
        metrics.sourcesMatched.record(5.0)
        metrics.promptLength.record(420.0)
        metrics.responseLength.record(37.0)
        metrics.documentsIngested.increment(by: Int64(2))
        metrics.pagesIngested.increment(by: Int64(30))
        metrics.chunksIngested.increment(by: Int64(61))
        metrics.ingestErrors(reason: "encrypted").increment()
        metrics.setCollectionSize(documents: 2, chunks: 61)
        metrics.setCollectionVersion(7)
        metrics.collectionChangesApplied.increment(by: Int64(3))
        return metrics
    }

    @Test func renderingMatchesGoldenAndIsStable() throws {
        let text = Self.populated().render()
        try expectGolden(text, "metrics.prom")
        #expect(text == Self.populated().render())
    }

    @Test func followsPrometheusNamingRules() {
        let text = Self.populated().render()
        for line in text.split(separator: "\n") where line.hasPrefix("# TYPE") {
            let parts = line.split(separator: " ")
            let (name, type) = (parts[2], parts[3])
            #expect(name.hasPrefix("rag_"))
            if type == "counter" { #expect(name.hasSuffix("_total"), "\(name)") }
            if name.contains("duration") { #expect(name.hasSuffix("_seconds"), "\(name)") }
        }
    }

    /// `promtool check metrics` (Debian's `prometheus` package, installed by scripts/setup.sh) accepts the output.
    @Test func promtoolAcceptsTheOutput() throws {
        let promtool = try TestProcess.system("/usr/bin/promtool", "/usr/local/bin/promtool", package: "prometheus")
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("metrics.prom")
        try Self.populated().render().write(to: file, atomically: true, encoding: .utf8)
        let result = try TestProcess.run(promtool, ["check", "metrics"], stdin: file, mergeOutput: true)
        let report = result.text
        #expect(result.status == 0, "promtool: \(report)")
        #expect(report.isEmpty, "promtool: \(report)")
    }
}

import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOFoundationEssentialsCompat
import Prometheus
import RAGCore

/// The server's HTTP metrics, registered in the engine's registry so that `/metrics` renders both.
public struct HTTPMetrics: Sendable {
    public let metrics: RAGMetrics
    private let inFlight: Gauge

    /// - Parameter clients: the client names known up front (the API keys' names), whose series start at zero.
    public init(metrics: RAGMetrics, clients: [String] = ["anonymous"]) {
        self.metrics = metrics
        inFlight = metrics.registry.makeGauge(descriptor: Self.named("rag_http_requests_in_flight", "HTTP requests being handled now."))
        queueRejected.increment(by: Int64(0))
        for client in clients {
            clientCounter(client).increment(by: Int64(0))
            rateLimitedCounter(client).increment(by: Int64(0))
            clientTokens(client, usage: TokenUsage(promptTokens: 0, completionTokens: 0, isEstimated: false))
        }
    }

    static func named(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    static let latencyBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]

    /// Records one finished request. `route` is the route template (`/v1/documents/{id}`), never the raw path.
    func record(route: String, method: String, status: Int, seconds: Double) {
        metrics.registry.makeCounter(
            descriptor: Self.named("rag_http_requests_total", "HTTP requests by route template, method and status code."),
            labels: [("route", route), ("method", method), ("status", String(status))]
        ).increment()
        metrics.registry.makeValueHistogram(
            descriptor: Self.named("rag_http_request_duration_seconds", "HTTP request latency in seconds (to the end of the body), by route template and method."),
            labels: [("route", route), ("method", method)], buckets: Self.latencyBuckets
        ).record(seconds)
    }

    func started() { inFlight.increment() }
    func finished() { inFlight.decrement() }

    /// `rag_client_requests_total{client}`.
    func clientRequest(_ client: String) { clientCounter(client).increment() }

    private func clientCounter(_ client: String) -> Counter {
        metrics.registry.makeCounter(
            descriptor: Self.named("rag_client_requests_total", "API requests by client (the API key's name)."),
            labels: [("client", client)])
    }

    /// `rag_client_tokens_total{client, kind}`.
    func clientTokens(_ client: String, usage: TokenUsage) {
        for (kind, count) in [("prompt", usage.promptTokens), ("completion", usage.completionTokens)] {
            metrics.registry.makeCounter(
                descriptor: Self.named("rag_client_tokens_total", "Language model tokens spent for each client (the API key's name), by kind."),
                labels: [("client", client), ("kind", kind)]
            ).increment(by: Int64(count))
        }
    }

    /// `rag_rate_limited_total{client}`.
    func rateLimited(_ client: String) { rateLimitedCounter(client).increment() }

    private func rateLimitedCounter(_ client: String) -> Counter {
        metrics.registry.makeCounter(
            descriptor: Self.named("rag_rate_limited_total", "Requests refused with 429 by the per-client rate limit."),
            labels: [("client", client)])
    }

    /// `rag_llm_queue_rejected_total`.
    var queueRejected: Counter {
        metrics.registry.makeCounter(descriptor: Self.named("rag_llm_queue_rejected_total", "Questions refused with 503 because every answer slot and queue place was taken."))
    }
}

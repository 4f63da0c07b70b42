import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOFoundationEssentialsCompat
import Prometheus
import RAGCore

/// The server's HTTP metrics, registered in the engine's registry so that `/metrics` renders both.
///
/// Every request records into handles looked up in `MetricHandles` caches, not made anew (see there why).
public struct HTTPMetrics: Sendable {
    public let metrics: RAGMetrics
    private let inFlight: Gauge
    /// `rag_llm_queue_rejected_total`.
    let queueRejected: Counter
    /// `rag_upload_queue_rejected_total`.
    let uploadsRejected: Counter
    /// `rag_http_requests_abandoned_total`.
    let abandoned: Counter
    /// `rag_http_auth_failures_total`.
    let authFailures: Counter
    private let connectionTimeouts: [ConnectionPhase: Counter]
    private let requestCounters = MetricHandles<RequestKey, Counter>()
    private let requestLatencies = MetricHandles<RouteKey, ValueHistogram>()
    private let clientCounters = MetricHandles<String, Counter>()
    private let clientTokenCounters = MetricHandles<String, (prompt: Counter, completion: Counter)>()
    private let rateLimitedCounters = MetricHandles<String, Counter>()

    private struct RouteKey: Hashable, Sendable {
        var route: String
        var method: String
    }

    private struct RequestKey: Hashable, Sendable {
        var route: RouteKey
        var status: Int
    }

    /// - Parameter clients: the client names known up front (the API keys' names), whose series start at zero.
    public init(metrics: RAGMetrics, clients: [String] = ["anonymous"]) {
        self.metrics = metrics
        inFlight = metrics.registry.makeGauge(descriptor: Self.named("rag_http_requests_in_flight", "HTTP requests being handled now."))
        queueRejected = metrics.registry.makeCounter(
            descriptor: Self.named("rag_llm_queue_rejected_total", "Questions refused with 503 because every answer slot and queue place was taken."))
        queueRejected.increment(by: Int64(0))
        uploadsRejected = metrics.registry.makeCounter(
            descriptor: Self.named("rag_upload_queue_rejected_total", "Uploads refused with 503 because every upload slot and queue place was taken."))
        uploadsRejected.increment(by: Int64(0))
        abandoned = metrics.registry.makeCounter(
            descriptor: Self.named(
                "rag_http_requests_abandoned_total", "Requests whose work was stopped because the client closed the connection first (logged as 499)."))
        abandoned.increment(by: Int64(0))
        authFailures = metrics.registry.makeCounter(
            descriptor: Self.named("rag_http_auth_failures_total", "API requests refused with 401 for a missing or wrong API key."))
        authFailures.increment(by: Int64(0))
        var timeouts: [ConnectionPhase: Counter] = [:]
        for phase in ConnectionPhase.allCases {
            let counter = metrics.registry.makeCounter(
                descriptor: Self.named(
                    "rag_http_connections_timed_out_total",
                    "Connections closed because a request's head or body did not arrive in time, by phase (header or body)."),
                labels: [("phase", phase.rawValue)])
            counter.increment(by: Int64(0))
            timeouts[phase] = counter
        }
        connectionTimeouts = timeouts
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
        let registry = metrics.registry
        let routeKey = RouteKey(route: route, method: method)
        requestCounters.get(RequestKey(route: routeKey, status: status)) { key in
            registry.makeCounter(
                descriptor: Self.named("rag_http_requests_total", "HTTP requests by route template, method and status code."),
                labels: [("route", key.route.route), ("method", key.route.method), ("status", String(key.status))])
        }.increment()
        requestLatencies.get(routeKey) { key in
            registry.makeValueHistogram(
                descriptor: Self.named("rag_http_request_duration_seconds", "HTTP request latency in seconds (to the end of the body), by route template and method."),
                labels: [("route", key.route), ("method", key.method)], buckets: Self.latencyBuckets)
        }.record(seconds)
    }

    /// `rag_http_connections_timed_out_total{phase}`.
    func connectionTimedOut(_ phase: ConnectionPhase) { connectionTimeouts[phase]?.increment() }

    func started() { inFlight.increment() }
    func finished() { inFlight.decrement() }

    /// `rag_client_requests_total{client}`.
    func clientRequest(_ client: String) { clientCounter(client).increment() }

    private func clientCounter(_ client: String) -> Counter {
        let registry = metrics.registry
        return clientCounters.get(client) { client in
            registry.makeCounter(
                descriptor: Self.named("rag_client_requests_total", "API requests by client (the API key's name)."),
                labels: [("client", client)])
        }
    }

    /// `rag_client_tokens_total{client, kind}`.
    func clientTokens(_ client: String, usage: TokenUsage) {
        let registry = metrics.registry
        let counters = clientTokenCounters.get(client) { client in
            let make = { (kind: String) in
                registry.makeCounter(
                    descriptor: Self.named("rag_client_tokens_total", "Language model tokens spent for each client (the API key's name), by kind."),
                    labels: [("client", client), ("kind", kind)])
            }
            return (make("prompt"), make("completion"))
        }
        counters.prompt.increment(by: Int64(usage.promptTokens))
        counters.completion.increment(by: Int64(usage.completionTokens))
    }

    /// `rag_rate_limited_total{client}`.
    func rateLimited(_ client: String) { rateLimitedCounter(client).increment() }

    private func rateLimitedCounter(_ client: String) -> Counter {
        let registry = metrics.registry
        return rateLimitedCounters.get(client) { client in
            registry.makeCounter(
                descriptor: Self.named("rag_rate_limited_total", "Requests refused with 429 by the per-client rate limit."),
                labels: [("client", client)])
        }
    }
}

import Foundation
import RAGCore
import RAGServer
import Testing
import TestSupport

/// The rate limiter in Redis, as two replicas see it: one bucket per client for both, peeking takes nothing, and
/// without Redis each falls back to its own bucket.
@Suite(.enabled(if: RedisTestServer.isAvailable, "redis-server is not installed (scripts/setup.sh)"))
struct SharedRateLimiterTests {
    static func limiter(_ client: RedisClient?, perMinute: Int, burst: Int, metrics: RAGMetrics? = nil) -> SharedRateLimiter {
        SharedRateLimiter(local: RateLimiter(perMinute: perMinute, burst: burst), redis: client, name: "auth-failures", metrics: metrics)
    }

    @Test func twoReplicasShareOneBucketAndPeekingTakesNothing() async throws {
        let server = try RedisTestServer()
        let clients = [RedisClient(configuration: try RedisConfiguration(url: server.url)), RedisClient(configuration: try RedisConfiguration(url: server.url))]
        for client in clients { await client.start() }
        defer { for client in clients { Task { await client.shutdown() } } }
        let metrics = RAGMetrics()
        // A burst of 3 and one token a minute: nothing refills while the test runs, however slow the machine.
        let a = Self.limiter(clients[0], perMinute: 1, burst: 3, metrics: metrics)
        let b = Self.limiter(clients[1], perMinute: 1, burst: 3)
        for _ in 0..<5 { #expect(await a.wait("address:10.0.0.1") == nil, "looking takes no token") }
        #expect(await a.acquire("address:10.0.0.1") == nil)
        #expect(await b.acquire("address:10.0.0.1") == nil)
        #expect(await a.acquire("address:10.0.0.1") == nil)
        let refused = await b.acquire("address:10.0.0.1")
        #expect(refused != nil, "the fourth attempt, on either replica, is over the shared limit of 3")
        #expect(refused.map { $0 > .zero && $0 <= .seconds(60) } == true, "the next token within the minute: \(String(describing: refused))")
        #expect(await a.wait("address:10.0.0.1") != nil)
        #expect(await a.acquire("address:10.0.0.2") == nil, "another client has its own bucket")
        #expect(metrics.render().contains(#"rag_rate_limit_decisions_total{store="redis"} 9"#), "A made 9 decisions, all in Redis")

        server.kill()
        #expect(await b.acquire("address:10.0.0.3") == nil)
        #expect(await b.wait("address:10.0.0.1") == nil, "B's own bucket for 10.0.0.1 saw two attempts of three")
        #expect(await a.acquire("address:10.0.0.1") == nil, "A's own bucket saw two attempts: one more")
        #expect(await a.acquire("address:10.0.0.1") != nil, "and then A refuses on its own")
        #expect(metrics.render().contains(#"rag_rate_limit_decisions_total{store="local"} 2"#))
    }
}

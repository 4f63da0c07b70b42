import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import RAGCore
import RAGServer
import Testing

/// Who a request comes from, and what a client that guesses keys gets.
@Suite struct AccessTests {
    static func code(_ response: TestResponse) -> String? {
        (response.json["error"] as? [String: Any])?["code"] as? String
    }

    /// Guessing keys is throttled per address: after the allowed failures, every request from that address gets 429
    /// without its key being checked (a right guess included) until the bucket refills.
    @Test func wrongKeysAreThrottledAndThenEvenTheRightKeyWaits() async throws {
        var server = TestServer()
        server.configuration.apiKeys = try ServerConfiguration.parseAPIKeys("team:secret-key-aaaa")
        server.configuration.authFailuresPerMinute = 3
        let (app, state) = try await server.app()
        try await app.test(.router) { client in
            for guess in 0..<3 {
                let response = try await client.execute(uri: "/v1/documents", method: .get, headers: [.authorization: "Bearer guess-\(guess)-xxxx"])
                #expect(response.status == .unauthorized)
            }
            let throttled = try await client.execute(uri: "/v1/documents", method: .get, headers: [.authorization: "Bearer guess-3-xxxx"])
            #expect(throttled.status == .tooManyRequests)
            #expect(Self.code(throttled) == "rate_limited")
            #expect(throttled.headers[.retryAfter].flatMap(Int.init).map { $0 >= 1 && $0 <= 20 } == true)
            let right = try await client.execute(uri: "/v1/documents", method: .get, headers: [.authorization: "Bearer secret-key-aaaa"])
            #expect(right.status == .tooManyRequests)
            // Health stays outside the API and its throttles.
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
        }
        let text = state.engine.metrics.render()
        #expect(text.contains("rag_http_auth_failures_total 3"))
        #expect(text.contains(#"rag_rate_limited_total{client="unauthenticated"} 2"#))
    }

    /// Right keys are never throttled by the failure limit, however many requests they make.
    @Test func rightKeysAreNotThrottledByTheFailureLimit() async throws {
        var server = TestServer()
        server.configuration.apiKeys = try ServerConfiguration.parseAPIKeys("team:secret-key-aaaa")
        server.configuration.authFailuresPerMinute = 1
        let (app, _) = try await server.app()
        try await app.test(.router) { client in
            for _ in 0..<5 {
                let response = try await client.execute(uri: "/v1/documents", method: .get, headers: [.authorization: "Bearer secret-key-aaaa"])
                #expect(response.status == .ok)
            }
        }
    }

    /// Behind a trusted proxy each user has their own bucket; without the setting, the forwarded header is ignored
    /// and everyone behind the proxy shares the proxy's.
    @Test(arguments: [true, false])
    func theRateLimitBucketIsTheForwardedClientOnlyBehindTrustedProxies(trusted: Bool) async throws {
        var server = TestServer()
        server.configuration.rateLimitPerMinute = 1  // no refill during the test, however slow the machine
        server.configuration.rateLimitBurst = 2
        if trusted { server.configuration.trustedProxies = IPNetwork.list("127.0.0.0/8,::1")! }
        let (app, _) = try await server.app()
        try await app.test(.live) { client throws in
            var statuses: [HTTPResponse.Status] = []
            for address in ["203.0.113.1", "203.0.113.1", "203.0.113.1", "203.0.113.2"] {
                statuses.append(try await client.execute(uri: "/v1/documents", method: .get, headers: [.xForwardedFor: address]).status)
            }
            #expect(statuses == [.ok, .ok, .tooManyRequests, trusted ? .ok : .tooManyRequests])
        }
    }

    @Test func theClientIsTheFirstUntrustedAddressFromTheRight() throws {
        let resolver = ClientAddressResolver(trustedProxies: IPNetwork.list("10.0.0.0/8, fd00::/8")!, header: .xForwardedFor)
        func client(_ peer: String, _ header: String?) -> String {
            var headers = HTTPFields()
            if let header { headers[.xForwardedFor] = header }
            return resolver.client(peer: peer, headers: headers)
        }
        // A client's own entries (left) are never believed: the proxy appended the address it saw.
        #expect(client("10.0.0.5", "6.6.6.6, 198.51.100.7") == "198.51.100.7")
        // Several trusted proxies are skipped.
        #expect(client("10.0.0.5", "198.51.100.7, 10.1.2.3, fd00::1") == "198.51.100.7")
        // A peer that is not trusted is the client, whatever it claims.
        #expect(client("198.51.100.9", "203.0.113.1") == "198.51.100.9")
        // No header: the proxy itself.
        #expect(client("10.0.0.5", nil) == "10.0.0.5")
        // Garbage stops the walk at the last trusted hop.
        #expect(client("10.0.0.5", "198.51.100.7, not-an-address") == "10.0.0.5")
        // IPv4-mapped IPv6 peers match IPv4 networks.
        #expect(client("::ffff:10.0.0.5", "198.51.100.7") == "198.51.100.7")
    }

    @Test func forwardedElementsAreRead() throws {
        let resolver = ClientAddressResolver(trustedProxies: IPNetwork.list("10.0.0.0/8")!, header: .forwarded)
        var headers = HTTPFields()
        headers[.init("Forwarded")!] = #"for=6.6.6.6, for="[2001:db8::7]:4711";proto=https, for=10.0.0.2"#
        #expect(resolver.client(peer: "10.0.0.1", headers: headers) == "2001:db8::7")
        headers[.init("Forwarded")!] = "proto=https;for=198.51.100.7:8080"
        #expect(resolver.client(peer: "10.0.0.1", headers: headers) == "198.51.100.7")
    }

    @Test func networksParseAndContain() throws {
        #expect(IPNetwork("10.0.0.0/8")?.contains(IPAddress("10.255.1.2")!) == true)
        #expect(IPNetwork("10.0.0.0/8")?.contains(IPAddress("11.0.0.1")!) == false)
        #expect(IPNetwork("192.168.1.0/23")?.contains(IPAddress("192.168.0.9")!) == true)
        #expect(IPNetwork("192.168.1.0/24")?.contains(IPAddress("192.168.0.9")!) == false)
        #expect(IPNetwork("fd00::/8")?.contains(IPAddress("fd12::1")!) == true)
        #expect(IPNetwork("fd00::/8")?.contains(IPAddress("10.0.0.1")!) == false)
        #expect(IPNetwork("0.0.0.0/0")?.contains(IPAddress("8.8.8.8")!) == true)
        for bad in ["10.0.0.0/33", "10.0.0/8", "fd00::/129", "host.example", "", "10.0.0.0/-1", "10.0.0.0/ 8x"] {
            #expect(IPNetwork(bad) == nil, "\(bad)")
        }
        #expect(IPNetwork.list("10.0.0.0/8,, fd00::/8")?.count == 2)
        #expect(IPNetwork.list(" , ") == nil)
        #expect(IPNetwork.list("10.0.0.0/8,nope") == nil)
    }

    @Test func trustedProxiesAreReadAndRefusedWhenMalformed() throws {
        let configuration = try ServerConfiguration(flags: [:], environment: ["RAG_TRUSTED_PROXIES": "10.0.0.0/8, fd00::/8"])
        #expect(configuration.trustedProxies.map(\.description) == ["10.0.0.0/8", "fd00::/8"])
        #expect(throws: SettingError.self) { try ServerConfiguration(flags: [:], environment: ["RAG_TRUSTED_PROXIES": "10.0.0.0/40"]) }
        #expect(throws: SettingError.self) { try ServerConfiguration(flags: [:], environment: ["RAG_TRUSTED_PROXIES": ""]) }
    }
}

extension HTTPField.Name {
    static let xForwardedFor = Self("X-Forwarded-For")!
}

import Foundation
import NIOCore
import RAGCore
import RAGTesting
import Testing
import TestSupport

/// RESP framing, the Redis URL, the backoff, and the client against a real `redis-server`: commands, a wrong
/// password, an outage, a frozen server, and the cache on top.
@Suite struct RedisClientTests {
    // MARK: RESP

    @Test func repliesAreParsedWholeOrNotAtAll() throws {
        let bytes = Array("+OK\r\n-ERR wrong\r\n:42\r\n$5\r\nhe\r\nl\r\n$-1\r\n*2\r\n$1\r\na\r\n:7\r\n*-1\r\n".utf8)
        // Fed one byte at a time, each reply comes out exactly once, when its last byte arrives.
        var buffer = ByteBuffer()
        var values: [RESPValue] = []
        for byte in bytes {
            buffer.writeInteger(byte)
            while let value = try RESP.parse(&buffer) { values.append(value) }
        }
        #expect(values == [
            .simpleString("OK"), .error("ERR wrong"), .integer(42), .bulkString(Array("he\r\nl".utf8)), .bulkString(nil),
            .array([.bulkString(Array("a".utf8)), .integer(7)]), .array(nil),
        ])
        #expect(buffer.readableBytes == 0)
    }

    @Test(arguments: [
        ("?what\r\n", "not RESP2"), ("$99999999\r\n", "over the client's bound"), (":12x\r\n", "not an integer"),
        ("$3\r\nabcXY", "without its CRLF"), ("+OK\rX", "CR without LF"),
    ])
    func badRepliesAreProtocolErrors(reply: String, message: String) {
        var buffer = ByteBuffer(string: reply)
        let error = #expect(throws: RESP.ProtocolError.self) { _ = try RESP.parse(&buffer, maxBulkBytes: 1 << 20) }
        #expect(error?.description.contains(message) == true, "\(error?.description ?? "")")
    }

    @Test func deeplyNestedArraysAndEndlessLinesAreRefused() {
        var nested = ByteBuffer(string: String(repeating: "*1\r\n", count: 20) + ":1\r\n")
        #expect(throws: RESP.ProtocolError.self) { _ = try RESP.parse(&nested, maxDepth: 8) }
        var endless = ByteBuffer(string: ":" + String(repeating: "1", count: 100))
        #expect(throws: RESP.ProtocolError.self) { _ = try RESP.parse(&endless) }
    }

    @Test func randomAndMutatedBytesNeverTrapTheParser() {
        // What a confused or hostile server could send: valid replies with bytes flipped, cut or repeated, and noise.
        var generator = SystemRandomNumberGenerator()
        let valid = Array("*3\r\n$3\r\nabc\r\n:-12\r\n*2\r\n+OK\r\n$-1\r\n-ERR x\r\n".utf8)
        for round in 0..<20_000 {
            var bytes = valid
            if round.isMultiple(of: 3) {
                bytes = (0..<Int.random(in: 0...64, using: &generator)).map { _ in
                    [UInt8(ascii: "*"), UInt8(ascii: "$"), UInt8(ascii: ":"), 13, 10, UInt8(ascii: "-"), UInt8(ascii: "9")].randomElement(using: &generator)!
                }
            } else {
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                }
                bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &generator)))
            }
            var buffer = ByteBuffer(bytes: bytes)
            while (try? RESP.parse(&buffer, maxBulkBytes: 1 << 16)) != nil {}
        }
    }

    @Test func commandsAreArraysOfBulkStrings() {
        var buffer = ByteBuffer()
        RESP.encode([Array("SET".utf8), Array("k".utf8), [0, 13, 10]], into: &buffer)
        #expect(buffer.readBytes(length: buffer.readableBytes)! == Array("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n".utf8) + [0, 13, 10] + [13, 10])
    }

    // MARK: Configuration

    @Test func urlsAreReadWithTheirPasswordAndDatabase() throws {
        let full = try RedisConfiguration(url: "redis://app:p%40ss@cache.internal:6380/3")
        #expect(full.host == "cache.internal" && full.port == 6380 && full.database == 3)
        #expect(full.username == "app" && full.password == "p@ss")
        #expect(full.redactedURL == "redis://app:***@cache.internal:6380/3")
        let plain = try RedisConfiguration(url: "redis://[::1]")
        #expect(plain.host == "::1" && plain.port == 6379 && plain.database == 0 && plain.password == nil)
        #expect(try RedisConfiguration(url: "redis://:secret@h/0").password == "secret")
    }

    @Test(arguments: [
        ("rediss://h:6379", "TLS"), ("http://h", "not redis"), ("redis://", "no host"), ("redis://h:0", "port"),
        ("redis://h/x", "database"), ("redis://h/0?timeout=1", "no query"), ("not a url", "not a Redis URL"),
    ])
    func badURLsSayWhat(url: String, message: String) {
        let error = #expect(throws: RedisError.self) { _ = try RedisConfiguration(url: url) }
        #expect(error?.code == .configuration && error?.message.contains(message) == true, "\(error?.message ?? "")")
    }

    @Test func aURLThatCannotBeReadDoesNotEchoItsPassword() {
        let error = #expect(throws: RedisError.self) { _ = try RedisConfiguration(url: "redis://:hunter2@host/notanumber") }
        #expect(error.map { !$0.message.contains("hunter2") } == true)
    }

    @Test func backoffDoublesFrom100MillisecondsTo5Seconds() {
        #expect(RedisClient.backoff(afterFailures: 0) == .zero)
        #expect((1...8).map { RedisClient.backoff(afterFailures: $0) } == [100, 200, 400, 800, 1600, 3200, 5000, 5000].map { .milliseconds($0) })
        #expect(RedisClient.backoff(afterFailures: 1000) == .seconds(5))
    }

    @Test func scriptsAreNamedByTheirSHA1() {
        #expect(RedisScript("abc").sha1 == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(RedisScript("").sha1 == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(RedisScript(String(repeating: "a", count: 1000)).sha1 == "291e9a6c66994949b57ba5e650361e98fc36b1ba")
    }

    // MARK: Against redis-server

    static func client(_ server: RedisTestServer, timeout: Duration = .milliseconds(250), metrics: RAGMetrics? = nil) async throws -> RedisClient {
        var configuration = try RedisConfiguration(url: server.url)
        configuration.commandTimeout = timeout
        configuration.connectTimeout = .seconds(2)
        let client = RedisClient(configuration: configuration, metrics: metrics)
        await client.start()
        return client
    }

    @Test(.enabled(if: RedisTestServer.isAvailable, "redis-server is not installed"))
    func setGetAndExpiry() async throws {
        let server = try RedisTestServer()
        let client = try await Self.client(server)
        defer { Task { await client.shutdown() } }
        #expect(client.isUp)
        try await client.set("k", [0, 1, 2, 255], ttl: .seconds(60))
        #expect(try await client.get("k") == [0, 1, 2, 255])
        #expect(try await client.get("absent") == nil)
        try await client.set("short", [1], ttl: .milliseconds(50))
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await client.get("short") == nil, "the TTL is in milliseconds (PX)")
        // Many commands at once on two pipelined connections, each answered with its own reply.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                group.addTask {
                    try await client.set("key\(index)", Array("value\(index)".utf8), ttl: .seconds(60))
                    #expect(try await client.get("key\(index)") == Array("value\(index)".utf8))
                }
            }
            try await group.waitForAll()
        }
    }

    @Test(.enabled(if: RedisTestServer.isAvailable, "redis-server is not installed"))
    func aWrongPasswordIsAnAuthenticationErrorAndNeverLogged() async throws {
        let server = try RedisTestServer()
        var configuration = try RedisConfiguration(url: "redis://:wrong-password@127.0.0.1:\(server.port)/0")
        configuration.connectTimeout = .seconds(2)
        let metrics = RAGMetrics()
        let client = RedisClient(configuration: configuration, metrics: metrics)
        await client.start()
        defer { Task { await client.shutdown() } }
        #expect(!client.isUp)
        #expect(client.lastError?.code == .authentication)
        #expect(client.lastError.map { $0.message.contains("refused the password") && !$0.message.contains("wrong-password") } == true)
        let error = await #expect(throws: RedisError.self) { _ = try await client.get("k") }
        #expect(error?.code == .unavailable, "commands fail at once, without waiting for a connection")
        #expect(metrics.render().contains("\nrag_redis_up 0"))
        #expect(metrics.render().contains(#"rag_redis_errors_total{operation="connect"}"#))
    }

    @Test(.enabled(if: RedisTestServer.isAvailable, "redis-server is not installed"))
    func anOutageFailsFastAndTheClientReconnectsWhenRedisReturns() async throws {
        let server = try RedisTestServer()
        let metrics = RAGMetrics()
        let client = try await Self.client(server, metrics: metrics)
        defer { Task { await client.shutdown() } }
        try await client.set("k", [1], ttl: .seconds(60))
        server.kill()
        // Every command fails, and fast: at once once the connections are known closed.
        for _ in 0..<20 {
            let start = ContinuousClock.now
            await #expect(throws: RedisError.self) { _ = try await client.get("k") }
            #expect(ContinuousClock.now - start < .seconds(5), "no wait for a connection or a timeout")
        }
        #expect(!client.isUp)
        #expect(metrics.render().contains("\nrag_redis_up 0"))
        try server.start()
        let deadline = ContinuousClock.now + .seconds(15)
        while !client.isUp, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(client.isUp, "reconnected within the backoff")
        #expect(try await client.get("k") == nil, "a new, empty server")
        #expect(metrics.render().contains("\nrag_redis_up 1"))
    }

    @Test(.enabled(if: RedisTestServer.isAvailable, "redis-server is not installed"))
    func aFrozenRedisCostsACommandItsTimeoutOnly() async throws {
        let server = try RedisTestServer()
        let client = try await Self.client(server, timeout: .milliseconds(200))
        defer { Task { await client.shutdown() } }
        server.freeze()
        defer { server.thaw() }
        let start = ContinuousClock.now
        let error = await #expect(throws: RedisError.self) { _ = try await client.get("k") }
        let elapsed = ContinuousClock.now - start
        #expect(error?.code == .timeout)
        #expect(elapsed >= .milliseconds(150) && elapsed < .seconds(10), "\(elapsed)")
        server.thaw()
        let deadline = ContinuousClock.now + .seconds(15)
        var value: [UInt8]?? = nil
        while value == nil, ContinuousClock.now < deadline {
            value = try? await client.get("k")
            if value == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(value != nil, "the client works again once Redis answers")
    }

    @Test(.enabled(if: RedisTestServer.isAvailable, "redis-server is not installed"))
    func theEngineAnswersFromRedisAndWithoutIt() async throws {
        let server = try RedisTestServer()
        let metrics = RAGMetrics()
        let client = try await Self.client(server, metrics: metrics)
        defer { Task { await client.shutdown() } }
        let llm = MockLLMClient(replies: ["one [1].", "two [1]."])
        let engine = try await Engine(llm: llm, metrics: metrics, cache: RedisResponseCache(client: client))
        _ = try await engine.ingest(data: Data(ResponseCacheTests.facts.utf8), fileName: "facts.txt")
        _ = try await engine.ask("Are bananas yellow?")
        #expect(try await engine.ask("Are bananas yellow?").isCached)
        #expect(try server.command(["DBSIZE"]) == ":3", "an answer, a retrieval and an embedding")
        #expect(try server.command(["KEYS", "rag:a:v1:*"]) == "*1", "under the key prefix")
        server.kill()
        let answer = try await engine.ask("Are bananas yellow?")
        #expect(answer.text == "two [1]." && !answer.isCached)
        #expect(metrics.render().contains(#"rag_cache_requests_total{layer="answer",outcome="error"} 1"#))
    }
}

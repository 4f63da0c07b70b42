import Foundation
import RAGServer
import Testing

@Suite struct LimitsTests {
    @Test func tokenBucketAllowsTheBurstThenRefillsAtTheRate() {
        let limiter = RateLimiter(perMinute: 60, burst: 3)  // one token per second
        let start = ContinuousClock.now
        for _ in 0..<3 { #expect(limiter.acquire("a", now: start) == nil) }
        let wait = limiter.acquire("a", now: start)
        #expect(wait != nil && wait! > .milliseconds(900) && wait! <= .seconds(1))
        #expect(limiter.acquire("b", now: start) == nil, "clients have their own buckets")
        #expect(limiter.acquire("a", now: start + .milliseconds(1100)) == nil)
        #expect(limiter.acquire("a", now: start + .milliseconds(1100)) != nil)
        #expect(RateLimiter(perMinute: 0, burst: 1).acquire("x") == nil, "0 turns the limit off")
    }

    @Test func theLimiterForgetsTheOldestClientsBeyondItsBound() {
        let limiter = RateLimiter(perMinute: 60, burst: 1, maxClients: 2)
        let start = ContinuousClock.now
        #expect(limiter.acquire("a", now: start) == nil)
        #expect(limiter.acquire("b", now: start + .milliseconds(1)) == nil)
        #expect(limiter.acquire("c", now: start + .milliseconds(2)) == nil)  // "a" is dropped
        #expect(limiter.acquire("a", now: start + .milliseconds(3)) == nil, "a forgotten client starts a new bucket")
    }

    @Test func answerGateQueuesThenRefuses() async throws {
        let gate = RequestGate(slots: 1, queue: 1)
        try await gate.acquire()
        let waiter = Task { try await gate.acquire() }
        let deadline = ContinuousClock.now + .seconds(60)
        while gate.waiting < 1 {  // the waiter has queued
            try #require(ContinuousClock.now < deadline)
            try await Task.sleep(for: .milliseconds(1))
        }
        await #expect(throws: RequestGate.Full.self) { try await gate.acquire() }
        gate.release()  // the slot passes to the waiter
        try await waiter.value
        #expect(gate.running == 1)
        gate.release()
        #expect(gate.running == 0)
    }

    /// Two abandoned asks (their tasks cancelled, as when the clients went away) leave the queue at once: a new ask
    /// queues instead of being refused, and the abandoned ones never run.
    @Test func answerGateForgetsWaitersWhoseClientsLeft() async throws {
        let gate = RequestGate(slots: 1, queue: 2)
        try await gate.acquire()
        let abandoned = (0..<2).map { _ in Task { try await gate.acquire() } }
        let deadline = ContinuousClock.now + .seconds(60)
        while gate.waiting < 2 {
            try #require(ContinuousClock.now < deadline)
            try await Task.sleep(for: .milliseconds(1))
        }
        for task in abandoned { task.cancel() }
        for task in abandoned { await #expect(throws: CancellationError.self) { try await task.value } }
        #expect(gate.waiting == 0)
        let next = Task { try await gate.acquire() }
        while gate.waiting < 1 {
            try #require(ContinuousClock.now < deadline)
            try await Task.sleep(for: .milliseconds(1))
        }
        gate.release()
        try await next.value
        #expect(gate.running == 1)
        gate.release()
        #expect(gate.running == 0)
    }

    @Test func apiKeysParseFromTheEnvironmentOrAFile() throws {
        let keys = try ServerConfiguration.parseAPIKeys("team-a:aaaaaaaaaa, team-b : bbbbbbbbbb\n# comment\n\ncccccccccc")
        #expect(keys == ["aaaaaaaaaa": "team-a", "bbbbbbbbbb": "team-b", "cccccccccc": "key1"])
        #expect(throws: ServerConfigurationError.self) { try ServerConfiguration.parseAPIKeys("short:abc") }
    }

    @Test func formLimitsMustBePositive() throws {
        let directory = URL(fileURLWithPath: "/nonexistent")
        try ServerConfiguration(collectionDirectory: directory).validate()
        #expect(throws: ServerConfigurationError.self) { try ServerConfiguration(collectionDirectory: directory, maxFormParts: 0).validate() }
        do {
            try ServerConfiguration(collectionDirectory: directory, maxPartHeaderBytes: -1).validate()
            Issue.record("a negative header limit was accepted")
        } catch {
            #expect("\(error)" == "--max-part-header-bytes (RAG_MAX_PART_HEADER_BYTES) must be a positive integer, not -1")
        }
    }
}

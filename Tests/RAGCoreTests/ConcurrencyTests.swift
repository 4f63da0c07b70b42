import Dispatch
import Foundation
import RAGCore
import Synchronization
import Testing

/// Waits until `condition` holds (polling every millisecond, for at most 60 s: only a hang should fail it); fails the
/// test if it never does.
func waitUntil(_ what: String, sourceLocation: SourceLocation = #_sourceLocation, _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(60)
    while !condition() {
        try #require(ContinuousClock.now < deadline, "never: \(what)", sourceLocation: sourceLocation)
        try await Task.sleep(for: .milliseconds(1))
    }
}

/// A value shared with tasks and pool threads.
final class Shared<Value: Sendable>: Sendable {
    let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
    func update(_ body: (inout Value) -> Void) { value.withLock { body(&$0) } }
    var current: Value { value.withLock { $0 } }
}

@Suite struct AsyncSemaphoreTests {
    @Test func permitsAreBoundedAndPassToWaitersInOrder() async throws {
        let semaphore = AsyncSemaphore(permits: 2)
        try await semaphore.acquire()
        try await semaphore.acquire()
        #expect(semaphore.held == 2)
        let order = Shared<[Int]>([])
        let first = Task { try await semaphore.acquire(); order.update { $0.append(1) } }
        try await waitUntil("the first waiter queues") { semaphore.waiting == 1 }
        let second = Task { try await semaphore.acquire(); order.update { $0.append(2) } }
        try await waitUntil("the second waiter queues") { semaphore.waiting == 2 }
        #expect(order.current.isEmpty)
        semaphore.release()
        try await first.value
        #expect(order.current == [1])
        semaphore.release()
        try await second.value
        #expect(order.current == [1, 2])
        #expect(semaphore.held == 2 && semaphore.waiting == 0)
    }

    @Test func aFullQueueRefusesAtOnce() async throws {
        let semaphore = AsyncSemaphore(permits: 1, maxWaiters: 1)
        try await semaphore.acquire()
        let waiter = Task { try await semaphore.acquire() }
        try await waitUntil("the waiter queues") { semaphore.waiting == 1 }
        await #expect(throws: AsyncSemaphore.Full.self) { try await semaphore.acquire() }
        semaphore.release()
        try await waiter.value
        semaphore.release()
        #expect(semaphore.held == 0)
    }

    /// A waiter whose task is cancelled leaves at once, frees its queue place, and never takes the permit.
    @Test func cancelledWaitersLeaveTheQueueAndNeverRun() async throws {
        let semaphore = AsyncSemaphore(permits: 1, maxWaiters: 2)
        try await semaphore.acquire()
        let ran = Shared(0)
        let abandoned = (0..<2).map { _ in
            Task {
                try await semaphore.withPermit { ran.update { $0 += 1 } }
            }
        }
        try await waitUntil("both waiters queue") { semaphore.waiting == 2 }
        for task in abandoned { task.cancel() }
        for task in abandoned { await #expect(throws: CancellationError.self) { try await task.value } }
        #expect(semaphore.waiting == 0)
        // Their places are free again: a new caller queues (no Full) and gets the permit when it is released.
        let next = Task { try await semaphore.withPermit { 42 } }
        try await waitUntil("the new waiter queues") { semaphore.waiting == 1 }
        semaphore.release()
        #expect(try await next.value == 42)
        #expect(ran.current == 0)
        #expect(semaphore.held == 0)
    }

    @Test func aCancelledTaskDoesNotTakeAFreePermit() async throws {
        let semaphore = AsyncSemaphore(permits: 1)
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await semaphore.acquire()
        }
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(semaphore.held == 0)
    }

    @Test func withPermitReleasesWhenTheBodyThrows() async throws {
        struct Failure: Error {}
        let semaphore = AsyncSemaphore(permits: 1)
        await #expect(throws: Failure.self) { try await semaphore.withPermit { throw Failure() } }
        #expect(semaphore.held == 0)
    }
}

@Suite struct BlockingPoolTests {
    /// A pool job that holds its thread until `open()`.
    final class Gate: Sendable {
        private let semaphore = DispatchSemaphore(value: 0)
        let entered = Atomic<Bool>(false)
        func hold() {
            entered.store(true, ordering: .releasing)
            semaphore.wait()
        }
        func open() { semaphore.signal() }
    }

    @Test func runsOnItsOwnNamedThreads() async throws {
        let pool = BlockingPool(name: "test-pool", threads: 2)
        let name = await pool.run { Thread.current.name ?? "" }
        #expect(name.hasPrefix("test-pool-"))
        let value = try await pool.run { () throws(CocoaError) -> Int in 7 }
        #expect(value == 7)
    }

    /// A job whose task is cancelled while it waits for a thread never runs.
    @Test func runIfActiveDropsJobsCancelledBeforeTheyStart() async throws {
        let pool = BlockingPool(name: "test-cancel", threads: 1)
        let gate = Gate()
        let blocker = Task { await pool.run { gate.hold() } }
        try await waitUntil("the pool's one thread is busy") { gate.entered.load(ordering: .acquiring) }
        let ran = Shared(false)
        let queued = Task { try await pool.runIfActive { ran.update { $0 = true } } }
        try await waitUntil("the job queues") { pool.statistics.queued == 1 }
        queued.cancel()
        await #expect(throws: CancellationError.self) { try await queued.value }
        gate.open()
        await blocker.value
        try await waitUntil("the queue drains") { pool.statistics.queued == 0 && pool.statistics.busy == 0 }
        #expect(ran.current == false)
        #expect(try await pool.runIfActive { 5 } == 5)
    }

    /// Every part runs exactly once, spread over idle threads, or all on the caller when every thread is busy, and
    /// from inside a pool job too: no deadlock either way.
    @Test func forkJoinRunsEveryPartOnceEvenWithEveryThreadBusy() async throws {
        let pool = BlockingPool(name: "test-fork", threads: 1)
        let counts = Shared([Int](repeating: 0, count: 16))
        pool.forkJoin(16) { part in counts.update { $0[part] += 1 } }
        #expect(counts.current == Array(repeating: 1, count: 16))

        let gate = Gate()
        let blocker = Task { await pool.run { gate.hold() } }
        try await waitUntil("the pool's one thread is busy") { gate.entered.load(ordering: .acquiring) }
        pool.forkJoin(16) { part in counts.update { $0[part] += 1 } }
        #expect(counts.current == Array(repeating: 2, count: 16))
        gate.open()
        await blocker.value

        // Nested: a pool job forks across the same pool.
        await pool.run { pool.forkJoin(16) { part in counts.update { $0[part] += 1 } } }
        #expect(counts.current == Array(repeating: 3, count: 16))
    }

    @Test func statisticsCountBusyQueuedAndCompletedJobs() async throws {
        let pool = BlockingPool(name: "test-stats", threads: 1)
        let idle = pool.statistics
        #expect(idle.threads == 1 && idle.busy == 0 && idle.queued == 0 && idle.completed == 0)
        let gate = Gate()
        let blocker = Task { await pool.run { gate.hold() } }
        try await waitUntil("the job runs") { gate.entered.load(ordering: .acquiring) }
        let second = Task { await pool.run { 1 } }
        try await waitUntil("the second job queues") { pool.statistics.queued == 1 }
        #expect(pool.statistics.busy == 1)
        gate.open()
        await blocker.value
        _ = await second.value
        try await waitUntil("both jobs complete") { pool.statistics.completed == 2 }
        #expect(pool.statistics.busy == 0 && pool.statistics.queued == 0)

        let metrics = RAGMetrics()
        metrics.observe(pool)
        let text = metrics.render()
        #expect(text.contains("rag_blocking_pool_threads 1.0") || text.contains("rag_blocking_pool_threads 1\n"), "\(text)")
        #expect(text.contains("rag_blocking_pool_jobs_total 2\n"), "\(text)")
    }
}

@Suite struct BlockingPoolMemoryTests {
    final class Payload: Sendable {}

    /// A finished job's closure, and what it captured (an upload's bytes, in the server), is released at once: the
    /// pool's queue kept the last 64 taken jobs, so 12 uploads of 48 MB kept 560 MB after they had been answered.
    @Test func aFinishedJobKeepsNothingItCaptured() async throws {
        let pool = BlockingPool(name: "rag-test-memory", threads: 2)
        weak var released: Payload?
        do {
            let payload = Payload()
            released = payload
            let result = await pool.run { () -> Int in
                withExtendedLifetime(payload) { 1 }
            }
            #expect(result == 1)
        }
        try await waitUntil("the job's captured payload is released") { released == nil }
    }
}

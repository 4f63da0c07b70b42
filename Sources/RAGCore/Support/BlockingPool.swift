import CSupport
import Dispatch
import Foundation
import Synchronization

/// The one place where blocking and CPU-heavy work runs: MuPDF parsing, MiniLM encoding, large BLAS scans and
/// collection file I/O. A fixed set of named threads (`rag-blocking-1` …), started once, so that no call creates a
/// thread and the work in flight is bounded by the pool's size, never by the number of callers. Swift's cooperative
/// pool is never blocked.
///
/// Two ways in:
/// - `run(_:)` / `runIfActive(_:)` hand a blocking closure from async code to a pool thread and await its result,
///   first come first served (`runIfActive` drops the closure when the task is cancelled before it starts);
/// - `forkJoin(_:_:)` splits synchronous work into parts from *any* thread (a pool thread included): the caller
///   runs parts itself while idle pool threads take the others, so it never waits for a part nobody has started
///   and cannot deadlock, even with every pool thread busy.
///
/// ```swift
/// let document = try await BlockingPool.shared.run { try loader.load(contentsOf: url) }
/// BlockingPool.shared.forkJoin(4) { part in scan(part) }
/// ```
///
/// The project's other threads are documented exceptions: libcurl's event loop (one thread that waits on sockets)
/// and the server's log writer (one thread that waits on stderr).
public final class BlockingPool: Sendable {
    /// The process's pool: two threads per active processor. One core's worth would make a question's embedding
    /// wait behind a document's (a 64-chunk MiniLM batch takes about 2 s on two cores); two lets the system share
    /// the cores between them, as it did when each call had threads of its own, while still bounding the threads.
    public static let shared = BlockingPool(name: "rag-blocking", threads: 2 * ProcessInfo.processInfo.activeProcessorCount)

    /// What the pool is doing now (`rag_blocking_pool_*` metrics).
    public struct Statistics: Sendable, Hashable {
        /// Threads in the pool.
        public var threads: Int
        /// Threads running a job now.
        public var busy: Int
        /// Jobs waiting for a thread.
        public var queued: Int
        /// Jobs finished since the pool started.
        public var completed: Int
    }

    /// The threads' name prefix.
    public let name: String
    /// How many threads the pool has.
    public let threadCount: Int
    private let core: Core

    /// Starts `threads` threads (at least 1) named `name-1`, `name-2`, … They live as long as the process.
    public init(name: String, threads: Int) {
        self.name = name
        self.threadCount = max(1, threads)
        self.core = Core()
        for index in 1...threadCount {
            let core = self.core
            let threadName = "\(name)-\(index)"
            // Named from inside, with pthread_setname_np itself (CSupport): on Linux a name set on the `Thread` before
            // `start()`, or through `Thread.current` before Foundation has recorded the new thread's handle, does not
            // reach the system thread (Linux keeps the first 15 bytes).
            Thread {
                _ = ragsys_set_thread_name(threadName)
                core.work()
            }.start()
        }
    }

    /// Runs `body` on a pool thread and returns its result; it runs even if the task is cancelled meanwhile.
    public func run<T: Sendable, Failure: Error>(
        _ body: @escaping @Sendable () throws(Failure) -> T
    ) async throws(Failure) -> T {
        let result: Result<T, Failure> = await withCheckedContinuation { continuation in
            core.enqueue { continuation.resume(returning: Result { () throws(Failure) in try body() }) }
        }
        return try result.get()
    }

    /// Runs `body` on a pool thread unless the task is cancelled before a thread takes it; then `body` never runs
    /// and `CancellationError` is thrown at once (a job already running is not interrupted).
    public func runIfActive<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try Task.checkCancellation()
        let job = CancellableJob<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                guard job.install(continuation) else { return }
                core.enqueue {
                    guard let continuation = job.start() else { return }
                    continuation.resume(with: Result { try body() })
                }
            }
        } onCancel: {
            job.cancel()?.resume(throwing: CancellationError())
        }
    }

    /// Runs `body(0)` … `body(parts − 1)` and returns when all have finished. The calling thread takes parts itself
    /// and idle pool threads take the rest, so the work is spread over free cores and never waits on a busy pool.
    public func forkJoin(_ parts: Int, _ body: @escaping @Sendable (Int) -> Void) {
        guard parts > 1 else {
            if parts == 1 { body(0) }
            return
        }
        let group = ForkJoin(parts: parts, body: body)
        for _ in 1..<min(parts, threadCount + 1) { core.enqueue { group.help() } }
        group.help()
        group.wait()
    }

    /// Threads, busy threads, queued and completed jobs, now.
    public var statistics: Statistics {
        let (busy, queued, completed) = core.counts
        return Statistics(threads: threadCount, busy: busy, queued: queued, completed: completed)
    }
}

/// The pool's queue and its threads' loop.
private final class Core: Sendable {
    private struct State {
        var jobs: [@Sendable () -> Void] = []
        var head = 0
        var busy = 0
        var completed = 0
    }
    private let state = Mutex(State())
    /// What a taken job's slot holds until the slot is dropped.
    private static let taken: @Sendable () -> Void = {}
    /// Counts jobs in the queue: each enqueue signals once, each thread waits once per job it takes.
    private let available = DispatchSemaphore(value: 0)

    func enqueue(_ job: @escaping @Sendable () -> Void) {
        state.withLock { $0.jobs.append(job) }
        available.signal()
    }

    func work() {
        while true {
            available.wait()
            let job = state.withLock { state -> @Sendable () -> Void in
                let job = state.jobs[state.head]
                // The slot must not keep the job: a job's closure holds what it captured (an upload's bytes) until
                // the slot is dropped, and up to 64 taken slots waited for that (64 uploads of 48 MB kept 3 GB).
                state.jobs[state.head] = Core.taken
                state.head += 1
                if state.head == state.jobs.count {
                    state.jobs.removeAll(keepingCapacity: true)
                    state.head = 0
                } else if state.head > 64 && state.head * 2 > state.jobs.count {
                    // Drop the taken prefix once it is most of the array, so the queue's memory stays bounded.
                    state.jobs.removeFirst(state.head)
                    state.head = 0
                }
                state.busy += 1
                return job
            }
            job()
            state.withLock {
                $0.busy -= 1
                $0.completed += 1
            }
        }
    }

    var counts: (busy: Int, queued: Int, completed: Int) {
        state.withLock { ($0.busy, $0.jobs.count - $0.head, $0.completed) }
    }
}

/// A `runIfActive` job: started by a pool thread or cancelled by its task, whichever comes first, exactly once.
private final class CancellableJob<T: Sendable>: Sendable {
    private enum Phase { case pending, started, cancelled }
    private struct State {
        var phase = Phase.pending
        var continuation: CheckedContinuation<T, any Error>?
    }
    private let state = Mutex(State())

    /// Keeps the continuation for `start` or `cancel`; returns false (having resumed it with `CancellationError`)
    /// when the task was cancelled before.
    func install(_ continuation: CheckedContinuation<T, any Error>) -> Bool {
        let cancelled = state.withLock { state -> Bool in
            if state.phase == .cancelled { return true }
            state.continuation = continuation
            return false
        }
        if cancelled { continuation.resume(throwing: CancellationError()) }
        return !cancelled
    }

    /// The continuation to resume with the result, or `nil` when the job was cancelled first.
    func start() -> CheckedContinuation<T, any Error>? {
        state.withLock { state in
            guard state.phase == .pending else { return nil }
            state.phase = .started
            defer { state.continuation = nil }
            return state.continuation
        }
    }

    /// The continuation to resume with `CancellationError`, or `nil` when a thread started the job first (or the
    /// continuation is not installed yet: `install` then resumes it).
    func cancel() -> CheckedContinuation<T, any Error>? {
        state.withLock { state in
            guard state.phase == .pending else { return nil }
            state.phase = .cancelled
            defer { state.continuation = nil }
            return state.continuation
        }
    }
}

/// The shared state of one `forkJoin`: parts are claimed by a counter, so each runs exactly once, on whichever
/// thread claims it.
private final class ForkJoin: Sendable {
    private let parts: Int
    private let body: @Sendable (Int) -> Void
    private let next = Atomic<Int>(0)
    private let finished = Atomic<Int>(0)
    private let done = DispatchSemaphore(value: 0)

    init(parts: Int, body: @escaping @Sendable (Int) -> Void) {
        self.parts = parts
        self.body = body
    }

    /// Runs unclaimed parts until none is left.
    func help() {
        while true {
            let part = next.wrappingAdd(1, ordering: .relaxed).oldValue
            guard part < parts else { return }
            body(part)
            if finished.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue == parts { done.signal() }
        }
    }

    /// Waits until every part has finished (the caller has already run out of parts to claim).
    func wait() { done.wait() }
}

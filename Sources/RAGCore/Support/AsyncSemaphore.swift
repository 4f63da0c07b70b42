import Synchronization

/// An async counting semaphore: `permits` holders at once, at most `maxWaiters` waiting in first-come order, and
/// waiters that leave when their task is cancelled. The one async waiting primitive of the project: the engine's
/// writer gate and the server's answer slots are both built on it.
///
/// ```swift
/// let slots = AsyncSemaphore(permits: 2, maxWaiters: 8)
/// let answer = try await slots.withPermit { try await engine.ask(question) }
/// ```
///
/// A cancelled waiter gives up its place at once and throws `CancellationError`; it never runs its body later.
/// A caller refused because `maxWaiters` are already waiting gets `AsyncSemaphore.Full` at once.
public final class AsyncSemaphore: Sendable {
    /// Thrown by `acquire()` when every permit is held and `maxWaiters` callers are already waiting.
    public struct Full: Error, Sendable {}

    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var available: Int
        var waiters: [Waiter] = []
        var nextID: UInt64 = 0
    }

    /// How many holders may run at once.
    public let permits: Int
    /// How many callers may wait for a permit; more are refused with `Full`.
    public let maxWaiters: Int
    private let state: Mutex<State>

    /// - Parameters:
    ///   - permits: holders at once (at least 1).
    ///   - maxWaiters: callers allowed to wait (at least 0); unbounded by default.
    public init(permits: Int, maxWaiters: Int = .max) {
        self.permits = max(1, permits)
        self.maxWaiters = max(0, maxWaiters)
        self.state = Mutex(State(available: max(1, permits)))
    }

    /// Takes a permit, waiting for one when none is free. Call `release()` exactly once after a successful return.
    ///
    /// - Throws: `Full` when the wait queue is full; `CancellationError` when the task is cancelled while waiting
    ///   (or before it could start waiting).
    public func acquire() async throws {
        try Task.checkCancellation()
        // A free permit is taken without suspending.
        let id: UInt64? = state.withLock { state in
            if state.available > 0 {
                state.available -= 1
                return nil
            }
            state.nextID &+= 1
            return state.nextID
        }
        guard let id else { return }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                state.withLock { state in
                    // The cancellation handler takes the same lock, so either it runs after this and finds the
                    // waiter, or the task was already cancelled here.
                    if Task.isCancelled {
                        continuation.resume(throwing: CancellationError())
                    } else if state.available > 0 {
                        // A permit was released since the first look.
                        state.available -= 1
                        continuation.resume()
                    } else if state.waiters.count >= maxWaiters {
                        continuation.resume(throwing: Full())
                    } else {
                        state.waiters.append(Waiter(id: id, continuation: continuation))
                    }
                }
            }
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index)
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Returns a permit, handing it straight to the longest waiter when there is one.
    public func release() {
        let next = state.withLock { state -> Waiter? in
            if state.waiters.isEmpty {
                precondition(state.available < permits, "AsyncSemaphore released more often than acquired")
                state.available += 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.continuation.resume()
    }

    /// Runs `body` holding a permit, and releases it afterwards, whatever happens.
    public func withPermit<T>(_ body: () async throws -> T) async throws -> T {
        try await acquire()
        defer { release() }
        return try await body()
    }

    /// Permits held now.
    public var held: Int { state.withLock { permits - $0.available } }

    /// Callers waiting now.
    public var waiting: Int { state.withLock { $0.waiters.count } }
}

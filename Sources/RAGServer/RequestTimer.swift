import Synchronization

/// Fires the request timeouts: one sleeping task checks the requests in progress every `tick` and runs the
/// actions of those past their deadline.
///
/// Per request this costs a lock to add the deadline and a lock to remove it: no task, no timer and no thread
/// wake-up of its own (which a `Task.sleep` or a Dispatch timer per request would cost, and a cancelled
/// `Task.sleep` also keeps its task until the deadline). Memory is bounded by the requests in progress. The price
/// is precision: an action runs up to `tick` after its deadline.
///
/// ```swift
/// let timer = RequestTimer(tick: .milliseconds(100))
/// let id = timer.schedule(after: .seconds(30), abandonedIf: { watch.clientIsGone }) { _ in task.cancel() }
/// _ = await task.result
/// timer.cancel(id)
/// ```
///
/// The same tick also asks each request whether its client has left (`abandonedIf`), so work for a client that
/// closed its connection stops within a tick, with no callback registered on the connection per request.
public final class RequestTimer: Sendable {
    /// Why an action runs.
    public enum Reason: Sendable {
        /// The deadline passed.
        case deadline
        /// `abandonedIf` returned true first.
        case abandoned
    }

    private struct Entry {
        var deadline: ContinuousClock.Instant
        var abandoned: (@Sendable () -> Bool)?
        var action: @Sendable (Reason) -> Void
    }

    private struct State {
        var nextID: UInt64 = 0
        var entries: [UInt64: Entry] = [:]
        /// Whether the checking task is running (it stops when no deadline is left).
        var checking = false
    }

    /// How often deadlines are checked.
    public let tick: Duration
    private let state = Mutex(State())

    public init(tick: Duration) {
        self.tick = tick
    }

    /// Runs `action` once `delay` has passed, or at the first tick where `abandonedIf` returns true, unless
    /// `cancel(_:)` is called first with the returned id.
    public func schedule(
        after delay: Duration, abandonedIf abandoned: (@Sendable () -> Bool)? = nil, _ action: @escaping @Sendable (Reason) -> Void
    ) -> UInt64 {
        let deadline = ContinuousClock.now + delay
        let (id, start) = state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            state.entries[id] = Entry(deadline: deadline, abandoned: abandoned, action: action)
            defer { state.checking = true }
            return (id, !state.checking)
        }
        if start { Task { await self.check() } }
        return id
    }

    /// Forgets the deadline `id` (nothing happens if its action already ran).
    public func cancel(_ id: UInt64) {
        state.withLock { _ = $0.entries.removeValue(forKey: id) }
    }

    private func check() async {
        while true {
            try? await Task.sleep(for: tick)
            let now = ContinuousClock.now
            let (due, more) = state.withLock { state in
                var due: [(@Sendable (Reason) -> Void, Reason)] = []
                for (id, entry) in state.entries {
                    if entry.deadline <= now {
                        due.append((entry.action, .deadline))
                    } else if entry.abandoned?() == true {
                        due.append((entry.action, .abandoned))
                    } else {
                        continue
                    }
                    state.entries[id] = nil
                }
                if state.entries.isEmpty { state.checking = false }
                return (due, state.checking)
            }
            for (action, reason) in due { action(reason) }
            if !more { return }
        }
    }
}

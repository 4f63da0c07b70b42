import RAGServer
import Synchronization
import Testing

@Suite struct RequestTimerTests {
    final class Fired: Sendable {
        let names = Mutex<[String]>([])
        func add(_ name: String) { names.withLock { $0.append(name) } }
        var all: [String] { names.withLock { $0 } }
    }

    /// A cancelled deadline never fires, even when a later one does (the check that fires the later one would
    /// have fired the earlier one too).
    @Test func firesDeadlinesThatWereNotCancelled() async throws {
        let timer = RequestTimer(tick: .milliseconds(5))
        let fired = Fired()
        let cancelled = timer.schedule(after: .milliseconds(10)) { _ in fired.add("cancelled") }
        timer.cancel(cancelled)
        _ = timer.schedule(after: .milliseconds(20)) { _ in fired.add("kept") }
        while fired.all.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
        #expect(fired.all == ["kept"])
    }

    /// A request whose client left is stopped at the next tick, long before its deadline, and says why.
    @Test func firesAtTheFirstTickAfterTheClientLeft() async throws {
        let timer = RequestTimer(tick: .milliseconds(5))
        let fired = Fired()
        let gone = Mutex(false)
        _ = timer.schedule(after: .seconds(3600), abandonedIf: { gone.withLock { $0 } }) { reason in
            fired.add(reason == .abandoned ? "abandoned" : "deadline")
        }
        try await Task.sleep(for: .milliseconds(30))
        #expect(fired.all.isEmpty)
        gone.withLock { $0 = true }
        while fired.all.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
        #expect(fired.all == ["abandoned"])
    }
}

import Foundation
import Logging
import Prometheus
import RAGCore
import ServiceLifecycle
import Synchronization

/// The ingestion worker of a `rag-server` whose role is `worker` or `all`: `workerConcurrency` loops that claim
/// queued uploads from the collection's store (`Engine.processNextJob`) and process them, whichever process queued
/// them. An idle loop looks again every `pollInterval`, or at once when this process queues an upload (`wake`).
///
/// On a graceful shutdown each loop finishes the job it holds and stops; a loop cancelled meanwhile gives its job
/// back to the queue. When the store cannot be reached, a loop waits (1 s, doubling up to 30 s) and tries again.
struct IngestWorkers: Service {
    let engine: Engine
    let configuration: IngestionConfiguration
    let wake: WakeSignal
    let logger: Logger

    func run() async throws {
        let prefix = "\(ProcessInfo.processInfo.hostName)/\(ProcessInfo.processInfo.processIdentifier)"
        logger.info("ingestion worker started", metadata: ["rag.worker.concurrency": "\(configuration.workerConcurrency)"])
        await withDiscardingTaskGroup { group in
            for index in 0..<configuration.workerConcurrency {
                group.addTask { await loop(worker: "\(prefix)/\(index)") }
            }
        }
    }

    func loop(worker: String) async {
        var pause = Duration.seconds(1)
        while !Task.isCancelledOrShuttingDown {
            do {
                let job = try await engine.processNextJob(
                    worker: worker, lease: configuration.jobLease, maxAttempts: configuration.maxJobAttempts)
                pause = .seconds(1)
                _ = try? await engine.queueDepth()
                if job == nil { await wake.wait(upTo: configuration.pollInterval) }
            } catch is CancellationError {
                return
            } catch {
                engine.metrics.databaseErrors(operation: "queue").increment()
                if let error = error as? CollectionError, error.code == .unavailable { engine.noteStore(reachable: false, error: error) }
                logger.error(
                    "the ingestion worker cannot use the queue; it tries again",
                    metadata: ["error": "\(error)", "rag.worker": "\(worker)", "rag.retry_in": "\(pause)"])
                await wake.wait(upTo: pause)
                pause = min(pause * 2, .seconds(30))
            }
        }
    }
}

/// Wakes waiting workers: `notify()` resumes every `wait` in progress, or the next one when none waits.
final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var next: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    func notify() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard !state.waiters.isEmpty else {
                state.pending = true
                return []
            }
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns at the next `notify()` (or at once if one came since the last wait), or after `timeout`.
    func wait(upTo timeout: Duration) async {
        let id = state.withLock { state -> UInt64 in
            state.next += 1
            return state.next
        }
        let timer = Mutex<Task<Void, Never>?>(nil)
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Bool in
                if state.pending {
                    state.pending = false
                    return true
                }
                state.waiters[id] = continuation
                return false
            }
            if now {
                continuation.resume()
            } else {
                // Started once the waiter is registered, so that its firing always finds it (or finds it resumed).
                timer.withLock {
                    $0 = Task {
                        try? await Task.sleep(for: timeout)
                        self.resume(id)
                    }
                }
            }
        }
        timer.withLock { $0?.cancel() }
    }

    private func resume(_ id: UInt64) {
        state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
    }
}

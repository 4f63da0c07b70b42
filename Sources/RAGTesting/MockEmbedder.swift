import Synchronization

/// A deterministic `Embedder` for tests: vectors come from a fixed table when the text is in it, else from a
/// hash of the text; records every batch, fails on demand, and holds chosen batches until released (a slow model
/// whose slowness a test controls, without timers).
///
/// ```swift
/// let embedder = MockEmbedder()
/// embedder.hold { texts in texts.contains { $0.contains("slow") } }
/// // ... start work that embeds "slow" text, wait until `embedder.heldBatches == 1`, look at what happens meanwhile
/// embedder.release()
/// ```
public final class MockEmbedder: Embedder {
    public let identifier: String
    public let dimension: Int
    private let table: [String: [Float]]

    private struct State {
        var batches: [[String]] = []
        var failure: (any Error & Sendable)?
        var hold: (@Sendable ([String]) -> Bool)?
        var held: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())

    public init(dimension: Int = 8, identifier: String = "mock", vectors: [String: [Float]] = [:]) {
        self.dimension = dimension
        self.identifier = identifier
        self.table = vectors
    }

    /// The batches embedded so far.
    public var batches: [[String]] { state.withLock { $0.batches } }

    /// Makes every later call fail with `error` (or succeed again with `nil`).
    public func failNext(with error: (any Error & Sendable)?) { state.withLock { $0.failure = error } }

    /// Makes every later batch for which `predicate` is true wait (after it is recorded in `batches`) until
    /// `release()`. A waiting batch is not cancelled with its task.
    public func hold(batchesWhere predicate: @escaping @Sendable ([String]) -> Bool) {
        state.withLock { $0.hold = predicate }
    }

    /// The batches waiting for `release()`.
    public var heldBatches: Int { state.withLock { $0.held.count } }

    /// Lets the waiting batches go on, and stops holding batches.
    public func release() {
        let waiting = state.withLock { state in
            state.hold = nil
            defer { state.held = [] }
            return state.held
        }
        for continuation in waiting { continuation.resume() }
    }

    public func embed(_ texts: [String]) async throws -> [[Float]] {
        let (failure, held) = state.withLock { state in
            state.batches.append(texts)
            return (state.failure, state.hold?(texts) ?? false)
        }
        if held {
            await withCheckedContinuation { continuation in
                // Released meanwhile: go on at once.
                let waits = state.withLock { state in
                    guard state.hold != nil else { return false }
                    state.held.append(continuation)
                    return true
                }
                if !waits { continuation.resume() }
            }
        }
        if let failure { throw failure }
        return texts.map { text in
            if let vector = table[text] { return vector }
            var seed = UInt64(truncatingIfNeeded: SHA256.hex(text).hashValueStable)
            return (0..<dimension).map { _ in
                seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Float(Int64(bitPattern: seed >> 11) % 2000 - 1000) / 1000
            }
        }
    }
}

extension String {
    /// A hash that is the same in every process (Swift's `hashValue` is seeded per process).
    fileprivate var hashValueStable: UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return hash
    }
}

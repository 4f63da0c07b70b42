import Synchronization

/// A deterministic `Embedder` for tests: vectors come from a fixed table when the text is in it, else from a
/// hash of the text; records every batch and fails on demand.
public final class MockEmbedder: Embedder {
    public let identifier: String
    public let dimension: Int
    private let table: [String: [Float]]
    private let state = Mutex<(batches: [[String]], failure: (any Error & Sendable)?)>(([], nil))

    public init(dimension: Int = 8, identifier: String = "mock", vectors: [String: [Float]] = [:]) {
        self.dimension = dimension
        self.identifier = identifier
        self.table = vectors
    }

    /// The batches embedded so far.
    public var batches: [[String]] { state.withLock { $0.batches } }

    /// Makes every later call fail with `error` (or succeed again with `nil`).
    public func failNext(with error: (any Error & Sendable)?) { state.withLock { $0.failure = error } }

    public func embed(_ texts: [String]) async throws -> [[Float]] {
        let failure = state.withLock { state -> (any Error & Sendable)? in
            state.batches.append(texts)
            return state.failure
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

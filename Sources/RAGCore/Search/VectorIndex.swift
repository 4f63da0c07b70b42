import CBLAS
import CVectorKernels
import Foundation

/// A flat index of L2-normalised vectors in one contiguous row-major `Float` buffer, searched by cosine
/// similarity, then a partial top-k selection. A batch of queries is one `cblas_sgemm` (over blocks of rows); a
/// single query is a memory-bound dot-product kernel (AVX-512F or AVX2, chosen at run time) split across the cores,
/// since a single query reads the whole matrix once and OpenBLAS's `sgemv` stops well short of memory speed.
///
/// A value type with copy-on-write storage, so a search can read a snapshot while a writer builds the next one.
///
/// ```swift
/// var index = VectorIndex(dimension: 384)
/// index.add([[0.1, 0.2, ...]])
/// let hits = index.search(query, k: 5)   // [(row, score)], best first
/// ```
public struct VectorIndex: Sendable {
    /// One result: the row's position in the index and its cosine similarity to the query.
    public struct Hit: Sendable, Hashable {
        public var row: Int
        public var score: Float
        public init(row: Int, score: Float) {
            self.row = row
            self.score = score
        }
    }

    public let dimension: Int
    /// Row-major vectors, `count * dimension` floats.
    public private(set) var storage: [Float]

    /// Creates an empty index of vectors of length `dimension`.
    public init(dimension: Int) {
        precondition(dimension > 0, "dimension must be positive")
        self.dimension = dimension
        self.storage = []
    }

    /// Creates an index over existing row-major storage, normalising rows unless `normalized` says they are.
    public init(dimension: Int, storage: [Float], normalized: Bool = false) {
        precondition(dimension > 0 && storage.count % dimension == 0, "storage must hold whole rows")
        self.dimension = dimension
        self.storage = storage
        if !normalized { normalizeRows(from: 0) }
    }

    /// Creates an index of `rows` vectors whose storage `fill` writes (already L2-normalised), allocated so that the
    /// kernel may back it with huge pages: a large index is read whole for every query, and 4 KiB pages would cost
    /// a TLB miss every few rows.
    public init(dimension: Int, rows: Int, fill: (UnsafeMutableBufferPointer<Float>) throws -> Void) rethrows {
        precondition(dimension > 0 && rows >= 0, "dimension must be positive")
        self.dimension = dimension
        let count = rows * dimension
        self.storage = try [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            VectorIndex.adviseHugePages(UnsafeMutableRawBufferPointer(buffer))
            buffer.initialize(repeating: 0)  // first touch after the advice
            try fill(buffer)
            initialized = count
        }
    }

    /// Asks the kernel for transparent huge pages over the whole pages inside `region` (Linux `madvise`; a no-op
    /// elsewhere or when the region is small).
    static func adviseHugePages(_ region: UnsafeMutableRawBufferPointer) {
        #if os(Linux)
        let page = 2 << 20
        guard let base = region.baseAddress, region.count >= 2 * page else { return }
        let start = (Int(bitPattern: base) + page - 1) & ~(page - 1)
        let end = (Int(bitPattern: base) + region.count) & ~(page - 1)
        if end > start { _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_HUGEPAGE) }
        #endif
    }

    /// The number of vectors.
    public var count: Int { storage.count / dimension }

    /// Appends vectors (each of length `dimension`), L2-normalising them. Returns the first new row.
    @discardableResult
    public mutating func add(_ vectors: [[Float]]) -> Int {
        let first = count
        storage.reserveCapacity(storage.count + vectors.count * dimension)
        for vector in vectors {
            precondition(vector.count == dimension, "vector has \(vector.count) dimensions, index has \(dimension)")
            storage.append(contentsOf: vector)
        }
        normalizeRows(from: first)
        return first
    }

    /// Appends rows that are already L2-normalised (read from a store, or normalised by `add(_:)` before), as they
    /// are: `rows.count` must be a multiple of `dimension`. Returns the first new row.
    @discardableResult
    public mutating func add(normalizedRows rows: [Float]) -> Int {
        precondition(rows.count % dimension == 0, "rows must be whole")
        let first = count
        storage.append(contentsOf: rows)
        return first
    }

    /// Removes the rows for which `shouldRemove` is true, keeping the others in order.
    public mutating func removeRows(where shouldRemove: (Int) -> Bool) {
        var kept = [Float]()
        kept.reserveCapacity(storage.count)
        for row in 0..<count where !shouldRemove(row) {
            kept.append(contentsOf: storage[row * dimension..<(row + 1) * dimension])
        }
        storage = kept
    }

    /// The row's vector.
    /// The dot product of `unitQuery` (already L2-normalised) with row `row`: their cosine similarity.
    public func similarity(_ unitQuery: [Float], row: Int) -> Float {
        precondition(unitQuery.count == dimension, "query length must equal the dimension")
        var sum: Float = 0
        let base = row * dimension
        for i in 0..<dimension { sum += unitQuery[i] * storage[base + i] }
        return sum
    }

    public func vector(at row: Int) -> ArraySlice<Float> { storage[row * dimension..<(row + 1) * dimension] }

    /// The `k` rows most similar to `query`, best first. `allowed`, when given, limits the search to rows it
    /// accepts (used to filter by document).
    public func search(_ query: [Float], k: Int, allowed: ((Int) -> Bool)? = nil) -> [Hit] {
        precondition(query.count == dimension, "query has \(query.count) dimensions, index has \(dimension)")
        let rows = count
        guard rows > 0, k > 0 else { return [] }
        let unit = VectorIndex.normalized(query)
        return storage.withUnsafeBufferPointer { matrix in
            VectorIndex.scan(matrix.baseAddress!, rows: rows, dimension: dimension, unit: unit, k: k, allowed: allowed)
        }
    }

    /// The `k` best of `rows` rows of `dimension` floats at `matrix` for the unit vector `unit`: one pass over the
    /// matrix at memory speed, split across the cores when it is large, then a top-k selection.
    static func scan(
        _ matrix: UnsafePointer<Float>, rows: Int, dimension: Int, unit: [Float], k: Int, allowed: ((Int) -> Bool)?
    ) -> [Hit] {
        guard rows > 0, k > 0 else { return [] }
        var scores = [Float](repeating: 0, count: rows)
        unit.withUnsafeBufferPointer { vector in
            scores.withUnsafeMutableBufferPointer { out in
                let (q, scoresBase) = (vector.baseAddress!, out.baseAddress!)
                let parts = rows >= VectorIndex.parallelRows ? max(1, ProcessInfo.processInfo.activeProcessorCount) : 1
                if parts == 1 {
                    ragvec_dot_rows(matrix, rows, dimension, q, scoresBase)
                } else {
                    let pointers = (UInt(bitPattern: matrix), UInt(bitPattern: q), UInt(bitPattern: scoresBase))
                    VectorIndex.onAllCores(parts) { part in
                        let first = rows * part / parts
                        let end = rows * (part + 1) / parts
                        let matrix = UnsafePointer<Float>(bitPattern: pointers.0)!
                        let query = UnsafePointer<Float>(bitPattern: pointers.1)!
                        let out = UnsafeMutablePointer<Float>(bitPattern: pointers.2)!
                        ragvec_dot_rows(matrix + first * dimension, end - first, dimension, query, out + first)
                    }
                }
            }
        }
        return scores.withUnsafeBufferPointer { TopK.select($0, k: k, allowed: allowed) }
    }

    /// Runs `body(0)` … `body(parts − 1)` on this thread and idle threads of `BlockingPool.shared`, and waits for
    /// all. The pool's threads are started once and wait for work, so an idle core takes a part at once (Dispatch's
    /// pool, which starts threads lazily, sometimes ran the parts one after another, halving the speed of a
    /// memory-bound scan), and no query starts a thread.
    static func onAllCores(_ parts: Int, _ body: @escaping @Sendable (Int) -> Void) {
        BlockingPool.shared.forkJoin(parts, body)
    }

    /// Indexes with at least this many rows are scored on all cores for a single query.
    static let parallelRows = 65_536

    /// The instruction set of the single-query kernel on this CPU (`avx512f`, `avx2` or `portable`).
    public static var kernelName: String { String(cString: ragvec_kernel_name()) }

    /// The `k` best rows for each of several queries, computed as one matrix product.
    public func search(batch queries: [[Float]], k: Int, allowed: ((Int) -> Bool)? = nil) -> [[Hit]] {
        let rows = count
        guard rows > 0, k > 0, !queries.isEmpty else { return queries.map { _ in [] } }
        var packed = [Float]()
        packed.reserveCapacity(queries.count * dimension)
        for query in queries {
            precondition(query.count == dimension, "query has \(query.count) dimensions, index has \(dimension)")
            packed.append(contentsOf: VectorIndex.normalized(query))
        }
        // Scores for a block of rows: S (q × b) = Q (q × d) · Vᵀ (d × b). Blocks bound the scratch memory.
        let queryCount = queries.count
        let blockRows = max(1, min(rows, VectorIndex.batchScratchFloats / queryCount))
        var scores = [Float](repeating: 0, count: queryCount * blockRows)
        var tops = (0..<queryCount).map { _ in TopK(k: k) }
        var firstRow = 0
        while firstRow < rows {
            let block = min(blockRows, rows - firstRow)
            storage.withUnsafeBufferPointer { matrix in
                packed.withUnsafeBufferPointer { q in
                    scores.withUnsafeMutableBufferPointer { out in
                        cblas_sgemm(
                            CblasRowMajor, CblasNoTrans, CblasTrans, Int32(queryCount), Int32(block), Int32(dimension),
                            1, q.baseAddress, Int32(dimension), matrix.baseAddress! + firstRow * dimension,
                            Int32(dimension), 0, out.baseAddress, Int32(block))
                    }
                }
            }
            scores.withUnsafeBufferPointer { all in
                for query in 0..<queryCount {
                    let slice = UnsafeBufferPointer(rebasing: all[query * block..<(query + 1) * block])
                    tops[query].consider(slice, firstRow: firstRow, allowed: allowed)
                }
            }
            firstRow += block
        }
        return tops.map(\.best)
    }

    /// Scratch space for batch scores, in floats (64 MiB): a batch is scored in blocks of rows that fit in it.
    static let batchScratchFloats = 16 << 20

    /// `vector` scaled to unit length (a zero vector stays zero).
    public static func normalized(_ vector: [Float]) -> [Float] {
        // BLAS's dot product: a plain `for` loop adds one value at a time (the compiler may not reorder float sums).
        let norm = vector.withUnsafeBufferPointer { cblas_sdot(Int32($0.count), $0.baseAddress, 1, $0.baseAddress, 1) }
        guard norm > 0 else { return vector }
        let scale = 1 / norm.squareRoot()
        return vector.map { $0 * scale }
    }

    private mutating func normalizeRows(from firstRow: Int) {
        let dimension = self.dimension
        let rows = count
        storage.withUnsafeMutableBufferPointer { buffer in
            for row in firstRow..<rows {
                let base = row * dimension
                var norm: Float = 0
                for index in base..<base + dimension { norm += buffer[index] * buffer[index] }
                guard norm > 0 else { continue }
                let scale = 1 / norm.squareRoot()
                for index in base..<base + dimension { buffer[index] *= scale }
            }
        }
    }
}

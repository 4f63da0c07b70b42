import CVectorKernels

extension VectorFormat {
    /// Bytes one vector of `dimension` values takes in a store (`--vector-storage`): 4 per value for fp32, 2 for
    /// fp16, and for int8 its scale (4 bytes) then a code per value.
    public func storedBytesPerVector(dimension: Int) -> Int {
        switch self {
        case .f32: dimension * 4
        case .f16: dimension * 2
        case .i8: dimension + 4
        }
    }

    /// L2-normalised fp32 rows (`dimension` values each) in this format's stored form, this host's byte order
    /// (little-endian on every platform the package builds for): fp32 as they are, fp16 rounded to nearest even, int8
    /// as each row's scale (`max |x| / 127`) then its codes (`round(x / scale)`).
    public func encode(normalizedRows rows: UnsafeBufferPointer<Float>, dimension: Int) -> [UInt8] {
        precondition(dimension > 0 && rows.count % dimension == 0, "rows must be whole")
        let count = rows.count / dimension
        let bytes = count * storedBytesPerVector(dimension: dimension)
        guard count > 0 else { return [] }
        return [UInt8](unsafeUninitializedCapacity: bytes) { out, initialized in
            switch self {
            case .f32:
                UnsafeMutableRawBufferPointer(out).copyMemory(from: UnsafeRawBufferPointer(rows))
            case .f16:
                ragvec_f16_from_f32(rows.baseAddress!, rows.count, UnsafeMutableRawPointer(out.baseAddress!).assumingMemoryBound(to: UInt16.self))
            case .i8:
                ragvec_i8_encode_rows(rows.baseAddress!, count, dimension, out.baseAddress!)
            }
            initialized = bytes
        }
    }

    /// Decodes rows in this format's stored form into fp32 values: `out` holds `stored.count / storedBytesPerVector`
    /// rows. The caller checks that `stored` is whole rows.
    public func decode(stored: UnsafeRawBufferPointer, dimension: Int, into out: UnsafeMutableBufferPointer<Float>) {
        let count = stored.count / storedBytesPerVector(dimension: dimension)
        precondition(stored.count == count * storedBytesPerVector(dimension: dimension) && out.count == count * dimension, "rows must be whole")
        guard count > 0 else { return }
        switch self {
        case .f32:
            UnsafeMutableRawBufferPointer(out).copyMemory(from: stored)
        case .f16:
            // The bytes of a blob need not be 2-byte aligned: copied first when they are not.
            if Int(bitPattern: stored.baseAddress!) % 2 == 0 {
                ragvec_f16_to_f32(stored.baseAddress!.assumingMemoryBound(to: UInt16.self), count * dimension, out.baseAddress!)
            } else {
                let halves = [UInt16](unsafeUninitializedCapacity: count * dimension) { buffer, initialized in
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(from: stored)
                    initialized = count * dimension
                }
                ragvec_f16_to_f32(halves, halves.count, out.baseAddress!)
            }
        case .i8:
            _ = ragvec_i8_decode_rows(stored.baseAddress!.assumingMemoryBound(to: UInt8.self), count, dimension, out.baseAddress!)
        }
    }

    /// `rows` rows of `dimension` values in this format's stored form, decoded to fp32; `nil` when the bytes are not
    /// exactly that many rows or hold a row no writer makes (int8: a negative or non-finite scale, a code of -128).
    public func decodeChecked(stored bytes: UnsafeRawBufferPointer, rows: Int, dimension: Int) -> [Float]? {
        guard bytes.count == rows * storedBytesPerVector(dimension: dimension) else { return nil }
        var valid = true
        let values = [Float](unsafeUninitializedCapacity: rows * dimension) { out, initialized in
            if self == .i8, rows > 0 {
                valid = ragvec_i8_decode_rows(bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), rows, dimension, out.baseAddress!) == 1
            } else {
                decode(stored: bytes, dimension: dimension, into: out)
            }
            initialized = rows * dimension
        }
        return valid ? values : nil
    }

    /// `rows` (L2-normalised, `dimension` values each) as they read back from a store of this format: what the
    /// vectors of a document become once stored.
    public func roundTrip(normalizedRows rows: [Float], dimension: Int) -> [Float] {
        guard self != .f32 else { return rows }
        let stored = rows.withUnsafeBufferPointer { encode(normalizedRows: $0, dimension: dimension) }
        return [Float](unsafeUninitializedCapacity: rows.count) { out, initialized in
            stored.withUnsafeBytes { decode(stored: $0, dimension: dimension, into: out) }
            initialized = rows.count
        }
    }
}

/// Every chunk's vector as a collection stores it (``VectorFormat``, chosen per collection with `--vector-storage`):
/// fp32 in a ``VectorIndex``, or fp16 or int8 in a ``CompactVectorIndex``, in memory as on disk. These are the
/// vectors a compact scan rescores its candidates from, so search is exact for what is stored:
///
/// - fp32: the encoder's vectors themselves.
/// - fp16: each value within 2⁻¹¹ of itself, a score within about 10⁻⁵ of fp32's (well below what separates two
///   chunks; the int8 encoder's own difference to fp32 is about 10⁻³): half the memory and disk.
/// - int8: each value within half a step of its vector's largest / 127; search is approximate (the best candidates
///   by code are rescored against the unquantized query: recall@10 against the fp32 top 10 is measured in
///   docs/performance.md): a quarter of the memory and disk.
public struct StoredVectors: Sendable {
    /// The stored format: fp32 unless `compact` holds the rows.
    public var format: VectorFormat { compact?.format ?? .f32 }
    public var dimension: Int { f32.dimension }
    /// The rows of an fp32 collection (empty for the others).
    public private(set) var f32: VectorIndex
    /// The rows of an fp16 or int8 collection (`nil` for fp32).
    public private(set) var compact: CompactVectorIndex?

    /// No rows yet, in `format`.
    public init(format: VectorFormat, dimension: Int) {
        self.f32 = VectorIndex(dimension: dimension)
        self.compact = format == .f32 ? nil : CompactVectorIndex(format: format, dimension: dimension)
    }

    /// The rows of an fp32 index.
    public init(_ index: VectorIndex) {
        self.f32 = index
        self.compact = nil
    }

    /// The rows of an fp16 or int8 index.
    public init(_ index: CompactVectorIndex) {
        self.f32 = VectorIndex(dimension: index.dimension)
        self.compact = index
    }

    public var count: Int { compact?.count ?? f32.count }

    /// Bytes the rows take in memory.
    public var memoryBytes: Int { compact?.memoryBytes ?? f32.storage.count * MemoryLayout<Float>.size }

    /// Appends L2-normalised rows (`dimension` values each), encoded in this format. Returns the first new row.
    @discardableResult
    public mutating func add(normalizedRows rows: [Float]) -> Int {
        guard compact != nil else { return f32.add(normalizedRows: rows) }
        let first = count
        rows.withUnsafeBufferPointer { compact!.add(normalizedRows: $0) }
        return first
    }

    /// Appends vectors of any length, scaled to unit length first. Returns the first new row.
    @discardableResult
    public mutating func add(_ vectors: [[Float]]) -> Int {
        guard compact != nil else { return f32.add(vectors) }
        return add(normalizedRows: vectors.flatMap(VectorIndex.normalized))
    }

    /// Removes the rows for which `shouldRemove` is true, keeping the others in order.
    public mutating func removeRows(where shouldRemove: (Int) -> Bool) {
        if compact != nil { compact!.removeRows(where: shouldRemove) } else { f32.removeRows(where: shouldRemove) }
    }

    /// Rows `range` as fp32 values, row-major (decoded for fp16 and int8).
    public func rows(_ range: Range<Int>) -> [Float] {
        guard let compact else { return Array(f32.storage[range.lowerBound * dimension..<range.upperBound * dimension]) }
        return compact.rows(range)
    }

    /// Calls `body` with every row as fp32, in order, a batch of whole rows at a time: fp32 in one batch without a
    /// copy, the others decoded 4,096 rows at a time (to build a scan copy without holding them all as fp32).
    public func forEachBatch(_ body: (UnsafeBufferPointer<Float>) -> Void) {
        guard compact != nil else { return f32.storage.withUnsafeBufferPointer(body) }
        var first = 0
        while first < count {
            let end = min(count, first + 4096)
            rows(first..<end).withUnsafeBufferPointer(body)
            first = end
        }
    }

    /// The `k` rows most similar to `query`: a scan of every row (fp32, fp16), or int8's best candidates by code
    /// rescored against the unquantized query.
    public func search(_ query: [Float], k: Int, allowed: ((Int) -> Bool)? = nil) -> [VectorIndex.Hit] {
        guard let compact else { return f32.search(query, k: k, allowed: allowed) }
        return compact.search(query, k: k, exact: compact, allowed: allowed)
    }

    /// Batch form of ``search(_:k:allowed:)``.
    public func search(batch queries: [[Float]], k: Int, allowed: ((Int) -> Bool)? = nil) -> [[VectorIndex.Hit]] {
        guard let compact else { return f32.search(batch: queries, k: k, allowed: allowed) }
        return compact.search(batch: queries, k: k, exact: compact, allowed: allowed)
    }
}

extension StoredVectors: ExactVectors {
    /// The score of row `row` for `unitQuery` (L2-normalised): its cosine similarity as stored.
    public func similarity(_ unitQuery: [Float], row: Int) -> Float {
        unitQuery.withUnsafeBufferPointer { similarity($0, row: row) }
    }


    public func similarity(_ unitQuery: UnsafeBufferPointer<Float>, row: Int) -> Float {
        guard let compact else { return f32.similarity(unitQuery, row: row) }
        return compact.similarity(unitQuery, row: row)
    }
}

import CVectorKernels
import Foundation
import Synchronization

/// How a collection keeps its vectors for search.
public enum VectorFormat: String, Sendable, Hashable, CaseIterable, Codable {
    /// 32-bit floats: exact, 4 bytes per dimension.
    case f32
    /// IEEE half precision: 2 bytes per dimension, within about 0.05 % of each value.
    case f16
    /// 8-bit codes with one scale per vector: 1 byte per dimension (plus 8 bytes per vector), each value within half
    /// a step of the vector's largest value / 127.
    case i8

    /// Bytes one vector of `dimension` values takes in this format, its scale and code sum included.
    public func bytesPerVector(dimension: Int) -> Int {
        switch self {
        case .f32: dimension * 4
        case .f16: dimension * 2
        case .i8: (dimension + 3) / 4 * 4 + 8
        }
    }
}

/// Which format a collection's vector search scans (`--vector-format` / `RAG_VECTOR_FORMAT`): one of the
/// ``VectorFormat``s, or `auto`. Results are the same in every format (a compact scan's candidates are rescored from
/// fp32); a compact format costs its bytes on top of fp32's and makes scanning a large collection 2 to 4 times
/// faster (docs/performance.md, "Compact vectors").
public enum VectorFormatChoice: String, Sendable, Hashable, CaseIterable {
    /// int8 from ``autoThreshold`` chunks, fp32 below (where a whole scan takes a few milliseconds either way).
    case auto
    case f32, f16, i8

    /// The collection size from which `auto` scans int8: where fp32 search starts using every core (measured at
    /// 1M × 384: fp32 49.3 ms, int8 with rescoring 11.4 ms, the same top 10).
    public static let autoThreshold = 65_536

    /// The format to scan for a collection of `rows` chunks.
    public func format(rows: Int) -> VectorFormat {
        switch self {
        case .auto: rows >= Self.autoThreshold ? .i8 : .f32
        case .f32: .f32
        case .f16: .f16
        case .i8: .i8
        }
    }
}

/// Exact fp32 vectors, by row, for rescoring the candidates of a compact search: a ``VectorIndex`` in memory or a
/// ``MappedVectorFile`` on disk.
public protocol ExactVectors: Sendable {
    var dimension: Int { get }
    /// The dot product of `unitQuery` (L2-normalised, `dimension` values) with row `row`: their cosine similarity.
    func similarity(_ unitQuery: UnsafeBufferPointer<Float>, row: Int) -> Float
}

extension VectorIndex: ExactVectors {
    public func similarity(_ unitQuery: UnsafeBufferPointer<Float>, row: Int) -> Float {
        storage.withUnsafeBufferPointer { matrix in
            var score: Float = 0
            ragvec_dot_rows(matrix.baseAddress! + row * dimension, 1, dimension, unitQuery.baseAddress!, &score)
            return score
        }
    }
}

/// A flat index of L2-normalised vectors kept as fp16 or int8 (``VectorFormat``), searched in two steps: the compact
/// codes give approximate scores for every row at a half or a quarter of fp32's memory traffic, then the best
/// `candidates` rows are rescored exactly from fp32 vectors (``ExactVectors``) that need not be in memory, so the
/// top k is the fp32 top k whenever the candidates hold it.
///
/// The int8 kernel is AVX-512 VNNI, AVX2 or portable C, chosen at run time (``kernelName``); int8 rows are kept in
/// blocks of 16 so that one instruction scores 16 rows and queries of a batch share every load.
///
/// ```swift
/// var compact = CompactVectorIndex(format: .i8, dimension: 384)
/// compact.add(normalizedRows: index.storage)              // fp32 rows, already unit length
/// let hits = compact.search(query, k: 10, exact: index)   // rescored: the fp32 top 10
/// ```
public struct CompactVectorIndex: Sendable {
    public let format: VectorFormat
    public let dimension: Int
    /// The number of vectors.
    public private(set) var count = 0
    /// int8: codes in blocks of 16 rows, `paddedDimension` per row; fp16: `dimension` halves per row, as bytes.
    private var codes: [UInt8] = []
    /// int8: one scale and one code sum per row, padded to whole blocks.
    private var scales: [Float] = []
    private var sums: [Int32] = []

    /// int8 rows are padded with zeros to a multiple of 4 dimensions.
    var paddedDimension: Int { format == .i8 ? (dimension + 3) / 4 * 4 : dimension }

    /// An empty index. `format` must be ``VectorFormat/f16`` or ``VectorFormat/i8`` (fp32 is ``VectorIndex``).
    public init(format: VectorFormat, dimension: Int) {
        precondition(format != .f32, "an fp32 index is a VectorIndex")
        precondition(dimension > 0, "dimension must be positive")
        self.format = format
        self.dimension = dimension
    }

    /// An empty index with room for `rows` vectors, so that loading a collection grows it once.
    public init(format: VectorFormat, dimension: Int, reservingRows rows: Int) {
        self.init(format: format, dimension: dimension)
        guard rows > 0 else { return }
        switch format {
        case .i8:
            let blocks = (rows + 15) / 16
            reserveCodes(blocks * 16 * paddedDimension)
            scales.reserveCapacity(blocks * 16)
            sums.reserveCapacity(blocks * 16)
        default:
            reserveCodes(rows * dimension * 2)
        }
    }

    /// The compact form of an fp32 index.
    public init(_ index: VectorIndex, format: VectorFormat) {
        self.init(format: format, dimension: index.dimension)
        index.storage.withUnsafeBufferPointer { add(normalizedRows: $0) }
    }

    /// The instruction set of this format's kernel on this CPU (`avx512vnni`, `avx512f`, `avx2` or `portable`).
    public var kernelName: String {
        String(cString: format == .i8 ? ragvec_i8_kernel_name() : ragvec_f16_kernel_name())
    }

    /// Bytes the codes, scales and sums of the rows take (what replaces fp32's `count * dimension * 4`); storage
    /// reserved for rows not yet added is not counted.
    public var memoryBytes: Int {
        switch format {
        case .i8: (count + 15) / 16 * 16 * (paddedDimension + 8)
        default: count * dimension * 2
        }
    }

    /// Appends L2-normalised fp32 rows (`rows.count` a multiple of `dimension`), encoded in this format.
    public mutating func add(normalizedRows rows: UnsafeBufferPointer<Float>) {
        precondition(rows.count % dimension == 0, "rows must be whole")
        let added = rows.count / dimension
        guard added > 0 else { return }
        let first = count
        let total = first + added
        switch format {
        case .i8:
            let padded = paddedDimension
            reserveBlocks(rows: total)
            codes.withUnsafeMutableBytes { bytes in
                let out = bytes.baseAddress!.assumingMemoryBound(to: Int8.self)
                guard padded != dimension else {
                    ragvec_i8_put_rows(rows.baseAddress!, added, padded, first, out, &scales, &sums)
                    return
                }
                // Rows whose width is not a multiple of 4 are copied, a batch at a time, with zeros after them.
                var scratch = [Float](repeating: 0, count: padded * min(added, 4096))
                var done = 0
                while done < added {
                    let batch = min(added - done, 4096)
                    for row in 0..<batch {
                        for column in 0..<dimension { scratch[row * padded + column] = rows[(done + row) * dimension + column] }
                    }
                    ragvec_i8_put_rows(scratch, batch, padded, first + done, out, &scales, &sums)
                    done += batch
                }
            }
        case .f16:
            let start = first * dimension * 2
            reserveCodes(total * dimension * 2)
            codes.withUnsafeMutableBytes { bytes in
                ragvec_f16_from_f32(rows.baseAddress!, rows.count, (bytes.baseAddress! + start).assumingMemoryBound(to: UInt16.self))
            }
        case .f32:
            preconditionFailure("an fp32 index is a VectorIndex")
        }
        count = total
    }

    /// Appends rows in their stored form (``VectorFormat/encode(normalizedRows:dimension:)``: fp16 values, or an int8
    /// scale and codes per row), taken as they are. Returns `false`, having added nothing, when the bytes are not whole
    /// rows or hold a row no writer makes (a negative or non-finite int8 scale, a code of -128).
    public mutating func add(stored bytes: UnsafeRawBufferPointer) -> Bool {
        let rowBytes = format.storedBytesPerVector(dimension: dimension)
        guard bytes.count % rowBytes == 0 else { return false }
        let added = bytes.count / rowBytes
        guard added > 0 else { return true }
        let first = count
        let total = first + added
        switch format {
        case .i8:
            let padded = paddedDimension
            reserveBlocks(rows: total)
            let valid = codes.withUnsafeMutableBytes { out in
                ragvec_i8_put_stored(
                    bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), added, dimension, padded, first,
                    out.baseAddress!.assumingMemoryBound(to: Int8.self), &scales, &sums) == 1
            }
            guard valid else {
                // Zero what was written: rows past `count` must stay zero (a block's padding rows are scored).
                codes.withUnsafeMutableBytes { out in
                    for row in first..<total {
                        let at = row / 16 * 16 * padded + row % 16 * 4
                        for group in 0..<padded / 4 { out.storeBytes(of: UInt32(0), toByteOffset: at + group * 64, as: UInt32.self) }
                    }
                }
                for row in first..<total { scales[row] = 0; sums[row] = 0 }
                return false
            }
        case .f16:
            reserveCodes(total * dimension * 2)
            codes.withUnsafeMutableBytes { out in
                (out.baseAddress! + first * dimension * 2).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
            }
        case .f32:
            preconditionFailure("an fp32 index is a VectorIndex")
        }
        count = total
        return true
    }

    /// Rows `range` decoded to fp32, row-major (fp16 exactly; int8 as code × scale).
    public func rows(_ range: Range<Int>) -> [Float] {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "rows outside the index")
        guard !range.isEmpty else { return [] }
        return [Float](unsafeUninitializedCapacity: range.count * dimension) { out, initialized in
            codes.withUnsafeBytes { bytes in
                switch format {
                case .i8:
                    scales.withUnsafeBufferPointer { scales in
                        ragvec_i8_get_rows(
                            bytes.baseAddress!.assumingMemoryBound(to: Int8.self), scales.baseAddress!, range.lowerBound,
                            range.count, paddedDimension, dimension, out.baseAddress!)
                    }
                default:
                    ragvec_f16_to_f32(
                        bytes.baseAddress!.assumingMemoryBound(to: UInt16.self) + range.lowerBound * dimension,
                        range.count * dimension, out.baseAddress!)
                }
            }
            initialized = range.count * dimension
        }
    }

    /// Removes the rows for which `shouldRemove` is true, keeping the others in order; codes are moved, not
    /// computed again.
    public mutating func removeRows(where shouldRemove: (Int) -> Bool) {
        let kept = (0..<count).filter { !shouldRemove($0) }
        guard kept.count < count else { return }
        var next = CompactVectorIndex(format: format, dimension: dimension)
        next.count = kept.count
        switch format {
        case .i8:
            let padded = paddedDimension
            let blocks = (kept.count + 15) / 16
            next.reserveCodes(blocks * 16 * padded)
            next.scales = [Float](repeating: 0, count: blocks * 16)
            next.sums = [Int32](repeating: 0, count: blocks * 16)
            let groups = padded / 4
            codes.withUnsafeBytes { source in
                next.codes.withUnsafeMutableBytes { target in
                    for (newRow, oldRow) in kept.enumerated() {
                        // A row is 4 bytes in each of its block's groups, at its lane.
                        let from = oldRow / 16 * 16 * padded + oldRow % 16 * 4
                        let to = newRow / 16 * 16 * padded + newRow % 16 * 4
                        for group in 0..<groups {
                            target.storeBytes(of: source.load(fromByteOffset: from + group * 64, as: UInt32.self), toByteOffset: to + group * 64, as: UInt32.self)
                        }
                    }
                }
            }
            for (newRow, oldRow) in kept.enumerated() {
                next.scales[newRow] = scales[oldRow]
                next.sums[newRow] = sums[oldRow]
            }
        case .f16:
            let rowBytes = dimension * 2
            next.reserveCodes(kept.count * rowBytes)
            codes.withUnsafeBytes { source in
                next.codes.withUnsafeMutableBytes { target in
                    for (newRow, oldRow) in kept.enumerated() {
                        target.baseAddress!.advanced(by: newRow * rowBytes).copyMemory(from: source.baseAddress! + oldRow * rowBytes, byteCount: rowBytes)
                    }
                }
            }
        case .f32:
            preconditionFailure("an fp32 index is a VectorIndex")
        }
        self = next
    }

    /// int8: grows the codes, scales and sums to whole blocks of 16 rows holding at least `rows` (zeros past what is
    /// written).
    private mutating func reserveBlocks(rows: Int) {
        let slots = (rows + 15) / 16 * 16
        reserveCodes(slots * paddedDimension)
        if scales.count < slots {
            scales += [Float](repeating: 0, count: slots - scales.count)
            sums += [Int32](repeating: 0, count: slots - sums.count)
        }
    }

    /// Grows the code storage to at least `bytes` (zeros past what is written), by half again at least, so that
    /// adding documents one by one stays linear; allocated with the advice for huge pages, as ``VectorIndex`` is, since
    /// every query streams through all of it and 4 KiB pages stop the hardware prefetcher every 4 KiB.
    private mutating func reserveCodes(_ bytes: Int) {
        guard codes.count < bytes else { return }
        let capacity = codes.isEmpty ? bytes : max(bytes, codes.count + codes.count / 2)
        let old = codes
        codes = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initialized in
            VectorIndex.adviseHugePages(UnsafeMutableRawBufferPointer(buffer))
            buffer.initialize(repeating: 0)
            old.withUnsafeBufferPointer { _ = UnsafeMutableBufferPointer(rebasing: buffer[0..<old.count]).update(fromContentsOf: $0) }
            initialized = capacity
        }
    }

    /// Approximate scores of `unitQuery` for rows `first ..< end` (`first` a multiple of 16 for int8), into `out`.
    private func approximateScores(_ unitQuery: UnsafePointer<Float>, queryCodes: UnsafePointer<Int8>, queryScale: Float, rows: Range<Int>, out: UnsafeMutablePointer<Float>) {
        codes.withUnsafeBytes { bytes in
            switch format {
            case .i8:
                scales.withUnsafeBufferPointer { scales in
                    sums.withUnsafeBufferPointer { sums in
                        var scale = queryScale
                        ragvec_i8_scores(
                            bytes.baseAddress!.assumingMemoryBound(to: Int8.self), scales.baseAddress!, sums.baseAddress!,
                            rows.lowerBound / 16, (rows.count + 15) / 16, paddedDimension, queryCodes, &scale, 1, out, 0)
                    }
                }
            default:
                ragvec_f16_dot_rows(
                    bytes.baseAddress!.assumingMemoryBound(to: UInt16.self) + rows.lowerBound * dimension, rows.count,
                    dimension, unitQuery, out)
            }
        }
    }

    /// A query scaled to unit length, padded for the kernel, and its int8 codes and scale.
    private func prepare(_ query: [Float]) -> (unit: [Float], codes: [Int8], scale: Float) {
        precondition(query.count == dimension, "query has \(query.count) dimensions, index has \(dimension)")
        var unit = VectorIndex.normalized(query)
        guard format == .i8 else { return (unit, [0], 0) }  // no codes (one, so that the buffer has an address)
        unit += [Float](repeating: 0, count: paddedDimension - dimension)
        var codes = [Int8](repeating: 0, count: paddedDimension)
        let scale = ragvec_i8_quantize_query(unit, paddedDimension, &codes)
        return (unit, codes, scale)
    }

    /// The `candidates` best rows by approximate score, best first (the scores are approximate).
    public func approximateSearch(_ query: [Float], k: Int, allowed: ((Int) -> Bool)? = nil) -> [VectorIndex.Hit] {
        guard count > 0, k > 0 else { return [] }
        let prepared = prepare(query)
        // Scores for whole blocks: int8 writes up to 15 rows past the last.
        var scores = [Float](repeating: 0, count: (count + 15) / 16 * 16)
        let rows = count
        prepared.unit.withUnsafeBufferPointer { unit in
            prepared.codes.withUnsafeBufferPointer { codes in
                scores.withUnsafeMutableBufferPointer { out in
                    let parts = rows >= VectorIndex.parallelRows ? max(1, ProcessInfo.processInfo.activeProcessorCount) : 1
                    let pointers = (UInt(bitPattern: unit.baseAddress!), UInt(bitPattern: codes.baseAddress!), UInt(bitPattern: out.baseAddress!))
                    let blocks = (rows + 15) / 16
                    let scale = prepared.scale
                    let work: @Sendable (Int) -> Void = { [self] part in
                        // Parts are whole blocks of 16 rows.
                        let first = blocks * part / parts * 16
                        let end = min(rows, blocks * (part + 1) / parts * 16)
                        guard end > first else { return }
                        let out = UnsafeMutablePointer<Float>(bitPattern: pointers.2)!
                        approximateScores(
                            UnsafePointer<Float>(bitPattern: pointers.0)!,
                            queryCodes: UnsafePointer<Int8>(bitPattern: pointers.1)!,
                            queryScale: scale, rows: first..<end, out: out + first)
                    }
                    if parts == 1 { work(0) } else { VectorIndex.onAllCores(parts, work) }
                }
            }
        }
        return scores.withUnsafeBufferPointer { TopK.select(UnsafeBufferPointer(rebasing: $0[0..<rows]), k: k, allowed: allowed) }
    }

    /// How many candidates a search rescores by default for `k` results.
    public static func defaultCandidates(k: Int) -> Int { max(k * 10, 100) }

    /// The `k` rows most similar to `query`, best first, with exact scores: the best `candidates` rows by approximate
    /// score, rescored from `exact` (which must hold the same rows in the same order).
    public func search(
        _ query: [Float], k: Int, candidates: Int? = nil, exact: some ExactVectors, allowed: ((Int) -> Bool)? = nil
    ) -> [VectorIndex.Hit] {
        precondition(exact.dimension == dimension, "the exact vectors have another dimension")
        guard k > 0 else { return [] }
        let pool = approximateSearch(query, k: max(k, candidates ?? Self.defaultCandidates(k: k)), allowed: allowed)
        let unit = VectorIndex.normalized(query)
        return unit.withUnsafeBufferPointer { unit in Self.rescore(pool, k: k, unit: unit, exact: exact) }
    }

    static func rescore(_ pool: [VectorIndex.Hit], k: Int, unit: UnsafeBufferPointer<Float>, exact: some ExactVectors) -> [VectorIndex.Hit] {
        var top = TopK(k: k)
        // In row order: neighbouring rows share pages of a mapped file.
        for hit in pool.sorted(by: { $0.row < $1.row }) { top.consider(row: hit.row, score: exact.similarity(unit, row: hit.row)) }
        return top.best
    }

    /// The `k` best rows for each of several queries, rescored as ``search(_:k:candidates:exact:allowed:)`` does. int8
    /// scores every query of the batch against one block of rows while it is in cache, on all cores (so `allowed` is
    /// called from several threads at once).
    public func search(
        batch queries: [[Float]], k: Int, candidates: Int? = nil, exact: some ExactVectors, allowed: ((Int) -> Bool)? = nil
    ) -> [[VectorIndex.Hit]] {
        guard format == .i8 else { return queries.map { search($0, k: k, candidates: candidates, exact: exact, allowed: allowed) } }
        guard count > 0, k > 0, !queries.isEmpty else { return queries.map { _ in [] } }
        let pool = max(k, candidates ?? Self.defaultCandidates(k: k))
        let prepared = queries.map(prepare)
        let padded = paddedDimension
        let queryCodes = prepared.flatMap(\.codes)
        let queryScales = prepared.map(\.scale)
        let rows = count
        let blocks = (rows + 15) / 16
        let parts = min(max(1, ProcessInfo.processInfo.activeProcessorCount), blocks)
        let tops = Mutex([[TopK]](repeating: [], count: parts))
        nonisolated(unsafe) let allowed = allowed  // read from every core at once, as a document filter is
        // Blocks of rows small enough to stay in a core's L2 cache while every query reads them.
        let chunkBlocks = max(1, (1 << 20) / (16 * padded))
        codes.withUnsafeBytes { bytes in
            scales.withUnsafeBufferPointer { scales in
                sums.withUnsafeBufferPointer { sums in
                    let pointers = (UInt(bitPattern: bytes.baseAddress!), UInt(bitPattern: scales.baseAddress!), UInt(bitPattern: sums.baseAddress!))
                    VectorIndex.onAllCores(parts) { part in
                        let firstBlock = blocks * part / parts
                        let endBlock = blocks * (part + 1) / parts
                        var partTops = (0..<queries.count).map { _ in TopK(k: pool) }
                        var out = [Float](repeating: 0, count: queries.count * chunkBlocks * 16)
                        var block = firstBlock
                        while block < endBlock {
                            let chunk = min(chunkBlocks, endBlock - block)
                            out.withUnsafeMutableBufferPointer { out in
                                ragvec_i8_scores(
                                    UnsafePointer<Int8>(bitPattern: pointers.0)!, UnsafePointer<Float>(bitPattern: pointers.1)!,
                                    UnsafePointer<Int32>(bitPattern: pointers.2)!, block, chunk, padded, queryCodes, queryScales,
                                    queries.count, out.baseAddress!, chunkBlocks * 16)
                                let valid = min(chunk * 16, rows - block * 16)
                                for query in 0..<queries.count {
                                    let slice = UnsafeBufferPointer(rebasing: out[query * chunkBlocks * 16..<query * chunkBlocks * 16 + valid])
                                    partTops[query].consider(slice, firstRow: block * 16, allowed: allowed)
                                }
                            }
                            block += chunk
                        }
                        tops.withLock { $0[part] = partTops }
                    }
                }
            }
        }
        let found = tops.withLock { $0 }
        return prepared.indices.map { query in
            var merged = TopK(k: pool)
            for part in found where !part.isEmpty { for hit in part[query].best { merged.consider(row: hit.row, score: hit.score) } }
            return prepared[query].unit.withUnsafeBufferPointer { unit in
                Self.rescore(merged.best, k: k, unit: UnsafeBufferPointer(rebasing: unit[0..<dimension]), exact: exact)
            }
        }
    }
}

extension CompactVectorIndex: ExactVectors {
    /// The dot product of `unitQuery` with row `row` decoded (fp16 exactly; int8 as code × scale, the query not
    /// quantized): the score a collection stored in this format gives the row.
    public func similarity(_ unitQuery: UnsafeBufferPointer<Float>, row: Int) -> Float {
        precondition(row >= 0 && row < count, "row \(row) is outside the index's \(count) rows")
        return codes.withUnsafeBytes { bytes in
            switch format {
            case .i8:
                scales.withUnsafeBufferPointer { scales in
                    ragvec_i8_row_dot(
                        bytes.baseAddress!.assumingMemoryBound(to: Int8.self), scales.baseAddress!, row, paddedDimension, dimension,
                        unitQuery.baseAddress!)
                }
            default:
                {
                    var score: Float = 0
                    ragvec_f16_dot_rows(
                        bytes.baseAddress!.assumingMemoryBound(to: UInt16.self) + row * dimension, 1, dimension, unitQuery.baseAddress!,
                        &score)
                    return score
                }()
            }
        }
    }
}

/// Row-major fp32 vectors in a file (no header, `dimension` floats per row, this host's byte order), mapped read-only:
/// a compact index rescores its candidates from it, so the full-precision vectors take page cache, not the
/// process's memory.
public final class MappedVectorFile: ExactVectors, @unchecked Sendable {
    public let dimension: Int
    public let count: Int
    private let base: UnsafeRawPointer
    private let length: Int

    /// Maps `path`; throws when it cannot be opened or is not whole rows.
    public init(path: String, dimension: Int) throws {
        precondition(dimension > 0, "dimension must be positive")
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: path]) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_size > 0, Int(info.st_size) % (dimension * 4) == 0 else {
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: path])
        }
        let length = Int(info.st_size)
        guard let mapped = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw CocoaError(.fileReadUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        self.base = UnsafeRawPointer(mapped)
        self.length = length
        self.dimension = dimension
        self.count = length / (dimension * 4)
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), length) }

    public func similarity(_ unitQuery: UnsafeBufferPointer<Float>, row: Int) -> Float {
        precondition(row >= 0 && row < count, "row \(row) is outside the file's \(count) rows")
        var score: Float = 0
        ragvec_dot_rows((base + row * dimension * 4).assumingMemoryBound(to: Float.self), 1, dimension, unitQuery.baseAddress!, &score)
        return score
    }

    /// The exact `k` best rows for `query` by scanning every row (the single-query fp32 kernel over the mapping): the
    /// reference a compact index's results are checked against.
    public func search(_ query: [Float], k: Int) -> [VectorIndex.Hit] {
        precondition(query.count == dimension, "query has \(query.count) dimensions, the file has \(dimension)")
        return VectorIndex.scan(
            base.assumingMemoryBound(to: Float.self), rows: count, dimension: dimension, unit: VectorIndex.normalized(query),
            k: k, allowed: nil)
    }

    /// Drops this process's mapping of the file's pages (they stay in the page cache): after building a compact
    /// index from every row, the process keeps only the pages that rescoring reads.
    public func dropResidentPages() {
        _ = madvise(UnsafeMutableRawPointer(mutating: base), length, MADV_DONTNEED)
    }

    /// The rows `range` as fp32 values (to build an index from the file).
    public func rows(_ range: Range<Int>) -> UnsafeBufferPointer<Float> {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "rows outside the file")
        return UnsafeBufferPointer(start: (base + range.lowerBound * dimension * 4).assumingMemoryBound(to: Float.self), count: range.count * dimension)
    }
}

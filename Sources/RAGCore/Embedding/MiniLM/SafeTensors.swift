import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only, memory-mapped `.safetensors` file: an 8-byte little-endian header length, a JSON header naming
/// each tensor's dtype, shape and byte range, then the raw little-endian tensor data.
///
/// The file is mapped once (`mmap`, `PROT_READ`); tensors are views into the mapping, so loading costs no copy
/// and the pages are shared by every thread and every process that maps the same file.
///
/// ```swift
/// let file = try SafeTensors(contentsOf: URL(fileURLWithPath: "model.safetensors"))
/// let weight = try file.floats("encoder.layer.0.attention.self.query.weight", shape: [384, 384])
/// ```
public final class SafeTensors: @unchecked Sendable {
    // @unchecked Sendable: the mapping is read-only and only unmapped in deinit, when no view can remain in use
    // (views are only handed to code that holds this object).

    /// One tensor's entry in the header.
    public struct Tensor: Sendable, Hashable {
        /// `F32`, `F16`, `BF16`, `I64`, …
        public var dtype: String
        public var shape: [Int]
        /// Byte range inside the data section (after the header).
        public var byteRange: Range<Int>
    }

    /// The largest header accepted, in bytes (the format's own limit is 100 MB).
    public static let maxHeaderBytes = 100_000_000

    /// Every tensor in the file, by name.
    public let tensors: [String: Tensor]
    /// The header's `__metadata__` string map (may be empty).
    public let metadata: [String: String]
    /// The file's path, for messages.
    public let path: String

    private let base: UnsafeRawPointer
    private let length: Int
    private let dataOffset: Int

    /// Maps `url` and parses its header, checking that every tensor's byte range lies inside the file and
    /// matches its dtype and shape.
    public init(contentsOf url: URL) throws(ModelError) {
        path = url.path
        let descriptor = open(url.path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let reason = String(cString: strerror(errno))
            throw ModelError(errno == ENOENT ? .notFound : .io, "cannot open the weights file: \(reason)", path: url.path)
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw ModelError(.io, "cannot stat the weights file: \(String(cString: strerror(errno)))", path: url.path)
        }
        let length = Int(status.st_size)
        guard length >= 8 else { throw ModelError(.invalid, "the weights file is too short to be safetensors", path: url.path) }
        guard let mapped = mmap(nil, length, PROT_READ, MAP_PRIVATE, descriptor, 0), mapped != MAP_FAILED else {
            throw ModelError(.io, "cannot memory-map the weights file: \(String(cString: strerror(errno)))", path: url.path)
        }
        let base = UnsafeRawPointer(mapped)
        do {
            let parsed = try SafeTensors.parseHeader(base: base, length: length, path: url.path)
            self.base = base
            self.length = length
            self.dataOffset = parsed.dataOffset
            self.tensors = parsed.tensors
            self.metadata = parsed.metadata
        } catch {
            munmap(mapped, length)
            throw error
        }
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), length)
    }

    /// The bytes per element of the dtypes this reader knows.
    static func elementSize(_ dtype: String) -> Int? {
        switch dtype {
        case "F64", "I64", "U64": 8
        case "F32", "I32", "U32": 4
        case "F16", "BF16", "I16", "U16": 2
        case "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2": 1
        default: nil
        }
    }

    private static func parseHeader(base: UnsafeRawPointer, length: Int, path: String) throws(ModelError)
        -> (dataOffset: Int, tensors: [String: Tensor], metadata: [String: String])
    {
        let headerLength = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
        guard headerLength <= UInt64(maxHeaderBytes), Int(headerLength) <= length - 8 else {
            throw ModelError(.invalid, "the safetensors header length \(headerLength) does not fit the file", path: path)
        }
        let header = Data(bytes: base + 8, count: Int(headerLength))
        guard let object = try? JSONSerialization.jsonObject(with: header) as? [String: Any] else {
            throw ModelError(.invalid, "the safetensors header is not a JSON object", path: path)
        }
        let dataOffset = 8 + Int(headerLength)
        let dataLength = length - dataOffset
        var tensors: [String: Tensor] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in object {
            if name == "__metadata__" {
                metadata = (value as? [String: String]) ?? [:]
                continue
            }
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
            else {
                throw ModelError(.invalid, "the safetensors entry for \(name) lacks dtype, shape or data_offsets", path: path)
            }
            guard offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= dataLength else {
                throw ModelError(.invalid, "tensor \(name) lies outside the file", path: path)
            }
            guard shape.allSatisfy({ $0 >= 0 }) else {
                throw ModelError(.invalid, "tensor \(name) has a negative dimension", path: path)
            }
            if let size = elementSize(dtype) {
                let (elements, overflow) = shape.reduce((1, false)) { partial, dimension in
                    let product = partial.0.multipliedReportingOverflow(by: dimension)
                    return (product.partialValue, partial.1 || product.overflow)
                }
                guard !overflow, elements * size == offsets[1] - offsets[0] else {
                    throw ModelError(.invalid, "tensor \(name) has \(offsets[1] - offsets[0]) bytes for shape \(shape) of \(dtype)", path: path)
                }
            }
            tensors[name] = Tensor(dtype: dtype, shape: shape, byteRange: offsets[0]..<offsets[1])
        }
        return (dataOffset, tensors, metadata)
    }

    /// The `F32` tensor `name` as a view into the mapping, after checking its shape.
    ///
    /// - Throws: `ModelError.invalid` when the tensor is missing, not `F32`, of another shape, or not 4-byte
    ///   aligned in the file.
    public func floats(_ name: String, shape: [Int]) throws(ModelError) -> UnsafeBufferPointer<Float> {
        guard let tensor = tensors[name] else { throw ModelError(.invalid, "the weights have no tensor \(name)", path: path) }
        guard tensor.dtype == "F32" else {
            throw ModelError(.invalid, "tensor \(name) is \(tensor.dtype), only F32 weights are supported", path: path)
        }
        guard tensor.shape == shape else {
            throw ModelError(.invalid, "tensor \(name) has shape \(tensor.shape), expected \(shape)", path: path)
        }
        let start = base + dataOffset + tensor.byteRange.lowerBound
        guard Int(bitPattern: start) % MemoryLayout<Float>.alignment == 0 else {
            throw ModelError(.invalid, "tensor \(name) is not 4-byte aligned in the file", path: path)
        }
        return UnsafeBufferPointer(start: start.assumingMemoryBound(to: Float.self), count: tensor.byteRange.count / 4)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The immutable bytes of one source file, in memory whose address never changes.
///
/// MuPDF reads a document from memory without copying it, and every extraction worker opens its own
/// document over the same bytes, so the bytes must outlive every open document: each `MuPDFDocument` keeps a
/// strong reference to them.
final class SourceBytes: @unchecked Sendable {
    // @unchecked Sendable: the buffer is written only in `init` and never mutated afterwards, so concurrent
    // reads from several threads are safe; it is freed in `deinit`, when no document can still refer to it.
    let buffer: UnsafeRawBufferPointer
    private let allocation: UnsafeMutableRawBufferPointer

    /// Copies `data`.
    init(copying data: Data) {
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: max(data.count, 1), alignment: 16)
        data.withUnsafeBytes { source in
            if let base = source.baseAddress { memory.baseAddress!.copyMemory(from: base, byteCount: source.count) }
        }
        allocation = memory
        buffer = UnsafeRawBufferPointer(rebasing: memory[0..<data.count])
    }

    /// `capacity` bytes that `fill` writes, returning how many it wrote (at most `capacity`).
    init(capacity: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Int) {
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: max(capacity, 1), alignment: 16)
        let written = min(capacity, max(0, fill(UnsafeMutableRawBufferPointer(rebasing: memory[0..<capacity]))))
        allocation = memory
        buffer = UnsafeRawBufferPointer(rebasing: memory[0..<written])
    }

    /// Reads a whole file, refusing it before reading when it is larger than `maxBytes`.
    init(contentsOf url: URL, maxBytes: Int) throws(DocumentError) {
        let fileName = url.lastPathComponent
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw Self.ioError(fileName, "cannot open the file") }
        defer { close(fd) }
        var info = stat()
        if fstat(fd, &info) != 0 { throw Self.ioError(fileName, "cannot inspect the file") }
        if (info.st_mode & S_IFMT) != S_IFREG {
            throw DocumentError(code: .unreadable, fileName: fileName, message: "not a regular file")
        }
        let size = Int(info.st_size)
        if size > maxBytes {
            throw DocumentError(
                code: .tooLarge, fileName: fileName, message: "the file has \(size) bytes; the limit is \(maxBytes)")
        }
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 1), alignment: 16)
        var filled = 0
        while filled < size {
            let n = read(fd, memory.baseAddress! + filled, size - filled)
            if n < 0 && errno == EINTR { continue }
            if n < 0 {
                memory.deallocate()
                throw Self.ioError(fileName, "cannot read the file")
            }
            if n == 0 { break }  // the file shrank while we read it
            filled += n
        }
        allocation = memory
        buffer = UnsafeRawBufferPointer(rebasing: memory[0..<filled])
    }

    deinit { allocation.deallocate() }

    var count: Int { buffer.count }

    private static func ioError(_ fileName: String, _ what: String) -> DocumentError {
        let code = errno
        return DocumentError(
            code: .unreadable, fileName: fileName, message: "\(what): \(String(cString: strerror(code)))",
            underlying: POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO))
    }
}

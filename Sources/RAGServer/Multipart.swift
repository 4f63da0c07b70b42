import Foundation

#if canImport(Glibc)
import Glibc  // memchr, memcmp
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One part of a `multipart/form-data` body: its field name, file name, content type and bytes.
package struct MultipartPart: Sendable, Hashable {
    /// The `name` parameter of the part's `Content-Disposition` header: the form field.
    package var name: String?
    /// The `filename` parameter of the part's `Content-Disposition` header, as the client sent it (not sanitised).
    package var fileName: String?
    /// The part's `Content-Type` header.
    package var contentType: String?
    /// The part's bytes: a slice of the request body, not a copy.
    package var body: Data

    /// A part with the given fields.
    package init(name: String? = nil, fileName: String? = nil, contentType: String? = nil, body: Data) {
        self.name = name
        self.fileName = fileName
        self.contentType = contentType
        self.body = body
    }
}

/// The bounds a `multipart/form-data` body must keep; exceeding one is a ``MultipartError`` that names it, and
/// parsing stops there.
package struct MultipartLimits: Sendable, Hashable {
    /// Most parts in one form. Default 16: an upload is one file part, plus perhaps a few fields.
    package var maxParts: Int
    /// Most bytes between a part's delimiter and its body (the header lines and the blank line). Default 8 KiB.
    package var maxHeaderBytes: Int

    /// Limits with the given bounds; values below 1 are taken as 1.
    package init(maxParts: Int = 16, maxHeaderBytes: Int = 8 << 10) {
        self.maxParts = max(1, maxParts)
        self.maxHeaderBytes = max(1, maxHeaderBytes)
    }

    /// No practical bound: for benchmarks that measure the scan itself.
    package static let unlimited = MultipartLimits(maxParts: .max, maxHeaderBytes: .max)
}

/// Why a `multipart/form-data` body was refused.
///
/// An extensible error: compare ``code`` against the `static` members of ``Code``; new codes may be added later.
///
/// ```swift
/// do {
///     let parts = try Multipart.parse(body, boundary: boundary)
/// } catch let error where error.code == .tooManyParts {
///     print(error)  // "the form has more than 16 parts"
/// }
/// ```
package struct MultipartError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure. Extensible: switch with a `default` case.
    package struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Base: String, Hashable, Sendable {
            case malformed, invalidBoundary, tooManyParts, headerTooLarge
        }

        fileprivate let base: Base
        private init(_ base: Base) { self.base = base }

        /// The body does not follow RFC 7578 / RFC 2046: no delimiter, a delimiter line not ended by CRLF, or the
        /// body ends before the closing delimiter.
        package static let malformed = Code(.malformed)
        /// The boundary is empty, longer than 70 characters, or has characters RFC 2046 does not allow.
        package static let invalidBoundary = Code(.invalidBoundary)
        /// The form has more parts than ``MultipartLimits/maxParts``.
        package static let tooManyParts = Code(.tooManyParts)
        /// A part's headers are longer than ``MultipartLimits/maxHeaderBytes``.
        package static let headerTooLarge = Code(.headerTooLarge)

        package var description: String { base.rawValue }
    }

    /// The kind of failure.
    package var code: Code
    /// What exactly was wrong, for a person: which part, which bound.
    package var message: String

    /// An error of the given kind.
    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    package var description: String { message }
}

/// Reads `multipart/form-data` bodies (RFC 7578 over RFC 2046) for uploads: finds the parts, their names, file
/// names, content types and bodies.
///
/// One forward pass over the bytes: no byte is searched twice, whatever the number of parts, and parsing stops at
/// the first part beyond ``MultipartLimits/maxParts`` or the first header block beyond
/// ``MultipartLimits/maxHeaderBytes``.
///
/// ```swift
/// guard let boundary = Multipart.boundary(from: contentType) else { ... }
/// let parts = try Multipart.parse(body, boundary: boundary, limits: MultipartLimits(maxParts: 4))
/// let file = parts.first { $0.name == "file" }
/// ```
package enum Multipart {
    /// The boundary from a `Content-Type: multipart/form-data; boundary=...` header (quotes removed), or `nil`.
    package static func boundary(from contentType: String) -> String? {
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if pair.count == 2, pair[0].lowercased() == "boundary" {
                return pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        }
        return nil
    }

    /// Parses a whole body. The parts' bodies are slices of `body`.
    ///
    /// - Throws: ``MultipartError``: `invalidBoundary`, `malformed`, `tooManyParts` or `headerTooLarge`.
    package static func parse(
        _ body: Data, boundary: String, limits: MultipartLimits = MultipartLimits()
    ) throws(MultipartError) -> [MultipartPart] {
        var parser = try MultipartParser(boundary: boundary, limits: limits, body: body)
        return try parser.finish()
    }

    /// A `key="value"` (or unquoted) parameter of a header value such as `form-data; name="file"`: the first one
    /// whose key matches `key` without regard to ASCII case, or `nil`. Everything before the first `;` is skipped;
    /// in a quoted value `\"` stands for `"` and `;` does not end the value.
    package static func parameter(_ key: String, in value: String) -> String? {
        let key = Array(key.lowercased().utf8)
        return Array(value.utf8).withUnsafeBufferPointer { parameter(key, in: $0, from: 0, to: $0.count) }
    }

    /// ``parameter(_:in:)`` over the bytes `from..<to` of a header.
    static func parameter(_ key: [UInt8], in bytes: UnsafeBufferPointer<UInt8>, from: Int, to end: Int) -> String? {
        let semicolon = UInt8(ascii: ";"), equals = UInt8(ascii: "="), quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        var at = from
        while at < end, bytes[at] != semicolon { at += 1 }  // the disposition type
        while at < end {
            at += 1  // the ';'
            at = skipSpace(bytes, from: at, to: end)
            let keyStart = at
            while at < end, bytes[at] != equals, bytes[at] != semicolon { at += 1 }
            let keyEnd = trimSpace(bytes, from: keyStart, to: at)
            guard at < end, bytes[at] == equals else { continue }
            at = skipSpace(bytes, from: at + 1, to: end)
            var value: [UInt8] = []
            if at < end, bytes[at] == quote {
                at += 1
                while at < end, bytes[at] != quote {
                    if bytes[at] == backslash, at + 1 < end, bytes[at + 1] == quote { at += 1 }
                    value.append(bytes[at])
                    at += 1
                }
                while at < end, bytes[at] != semicolon { at += 1 }  // the closing quote and anything after it
            } else {
                let valueStart = at
                while at < end, bytes[at] != semicolon { at += 1 }
                var index = valueStart
                let valueEnd = trimSpace(bytes, from: valueStart, to: at)
                while index < valueEnd {
                    if bytes[index] == backslash, index + 1 < valueEnd, bytes[index + 1] == quote { index += 1 }
                    value.append(bytes[index])
                    index += 1
                }
            }
            if equalsIgnoringASCIICase(bytes, from: keyStart, to: keyEnd, key) { return String(decoding: value, as: UTF8.self) }
        }
        return nil
    }

    /// The first offset in `from..<to` that is not a space or a tab (or `to`).
    static func skipSpace(_ bytes: UnsafeBufferPointer<UInt8>, from: Int, to end: Int) -> Int {
        var at = from
        while at < end, bytes[at] == UInt8(ascii: " ") || bytes[at] == UInt8(ascii: "\t") { at += 1 }
        return at
    }

    /// `to`, moved back over spaces and tabs, but not before `from`.
    static func trimSpace(_ bytes: UnsafeBufferPointer<UInt8>, from: Int, to end: Int) -> Int {
        var at = end
        while at > from, bytes[at - 1] == UInt8(ascii: " ") || bytes[at - 1] == UInt8(ascii: "\t") { at -= 1 }
        return at
    }

    /// Whether the bytes `from..<to` are `name` (lowercase ASCII), without regard to ASCII case.
    static func equalsIgnoringASCIICase(_ bytes: UnsafeBufferPointer<UInt8>, from: Int, to end: Int, _ name: [UInt8]) -> Bool {
        guard end - from == name.count else { return false }
        for (offset, expected) in name.enumerated() {
            var byte = bytes[from + offset]
            if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") { byte += 32 }
            if byte != expected { return false }
        }
        return true
    }

    /// Whether `boundary` is one RFC 2046 allows: 1 to 70 of `bchars` (letters, digits, `'()+_,-./:=?` and
    /// space), not ending in a space.
    package static func isValidBoundary(_ boundary: String) -> Bool {
        let bytes = Array(boundary.utf8)
        guard (1...70).contains(bytes.count), bytes.last != UInt8(ascii: " ") else { return false }
        return bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
                return true
            default:
                return "'()+_,-./:=? ".utf8.contains(byte)
            }
        }
    }
}

/// An incremental `multipart/form-data` parser: feed it the body as it arrives with ``append(_:)``, then
/// call ``finish()``. It throws as soon as the bytes seen break a rule or a bound, so a caller streaming a request
/// can stop reading it there.
///
/// Every byte is examined a bounded number of times: each search resumes where the last one stopped (less the
/// length of the pattern), and the boundary cannot contain CR, so comparing a candidate delimiter never runs past
/// the next candidate. The work is linear in the body's size whatever its shape.
///
/// ```swift
/// var parser = try MultipartParser(boundary: boundary)
/// for try await chunk in request.body { try chunk.withUnsafeReadableBytes { try parser.append($0) } }
/// let parts = try parser.finish()
/// ```
package struct MultipartParser {
    private enum State {
        /// Before the first delimiter: text that is ignored.
        case preamble
        /// Just after `--boundary`: `--` ends the form, else optional spaces or tabs and CRLF begin a part.
        case delimiterEnd
        /// In a part's header lines, up to the blank line.
        case headers
        /// In a part's body, up to the next CRLF `--boundary`.
        case body
        /// After the closing delimiter: text that is ignored.
        case epilogue
    }

    private struct PendingPart {
        var name: String?
        var fileName: String?
        var contentType: String?
        var body: Range<Int>
    }

    private static let cr = UInt8(ascii: "\r")
    private static let lf = UInt8(ascii: "\n")
    private static let dash = UInt8(ascii: "-")
    private static let headerEnd: [UInt8] = Array("\r\n\r\n".utf8)
    private static let contentType: [UInt8] = Array("content-type".utf8)
    private static let contentDisposition: [UInt8] = Array("content-disposition".utf8)
    private static let nameKey: [UInt8] = Array("name".utf8)
    private static let fileNameKey: [UInt8] = Array("filename".utf8)

    /// The limits this parser enforces.
    package let limits: MultipartLimits
    private let boundary: String
    /// CRLF `--` boundary: what ends a part's body.
    private let delimiter: [UInt8]
    /// All the body received so far. Parts are kept as offsets into it until ``finish()``: a slice taken earlier
    /// would share its storage, and the next append would copy the whole buffer.
    private var buffer: Data
    private var state = State.preamble
    /// Where the next search or check starts, as an offset into `buffer`; never moves back further than the length
    /// of the pattern being searched for.
    private var scan = 0
    /// Where the current part's headers (everything after its `--boundary`) begin.
    private var headerStart = 0
    /// Where the current part's first header line begins (after the CRLF ending its delimiter line).
    private var headerLinesStart = 0
    /// Where the current part's body begins.
    private var bodyStart = 0
    private var current = PendingPart(body: 0..<0)
    private var parts: [PendingPart] = []

    /// A parser for a body whose `Content-Type` names `boundary`.
    ///
    /// - Throws: ``MultipartError/Code/invalidBoundary`` when the boundary is not 1 to 70 characters
    ///   RFC 2046 allows.
    package init(boundary: String, limits: MultipartLimits = MultipartLimits()) throws(MultipartError) {
        try self.init(boundary: boundary, limits: limits, body: Data())
    }

    fileprivate init(boundary: String, limits: MultipartLimits, body: Data) throws(MultipartError) {
        guard Multipart.isValidBoundary(boundary) else {
            throw MultipartError(
                .invalidBoundary, "the boundary must be 1 to 70 letters, digits or '()+_,-./:=? characters, not '\(boundary.prefix(80))'")
        }
        self.limits = limits
        self.boundary = boundary
        self.delimiter = Array("\r\n--\(boundary)".utf8)
        self.buffer = body
        if !body.isEmpty { try advance() }
    }

    /// The number of bytes received so far.
    package var byteCount: Int { buffer.count }

    /// Whether the closing delimiter has been seen: what follows is the epilogue, and can be left unread.
    package var isComplete: Bool {
        if case .epilogue = state { return true }
        return false
    }

    /// Adds the next bytes of the body and parses as far as they allow.
    ///
    /// - Throws: ``MultipartError`` as soon as the bytes break a rule or a bound.
    package mutating func append(_ bytes: UnsafeRawBufferPointer) throws(MultipartError) {
        guard !bytes.isEmpty, !isComplete, let start = bytes.baseAddress else { return }
        buffer.append(start.assumingMemoryBound(to: UInt8.self), count: bytes.count)
        try advance()
    }

    /// Adds the next bytes of the body and parses as far as they allow.
    ///
    /// - Throws: ``MultipartError`` as soon as the bytes break a rule or a bound.
    package mutating func append(_ bytes: Data) throws(MultipartError) {
        guard !bytes.isEmpty, !isComplete else { return }
        buffer.append(bytes)
        try advance()
    }

    /// Ends the body and returns its parts, in order.
    ///
    /// - Throws: ``MultipartError/Code/malformed`` when the body ended before the closing delimiter.
    package mutating func finish() throws(MultipartError) -> [MultipartPart] {
        switch state {
        case .epilogue:
            let base = buffer.startIndex
            return parts.map { part in
                MultipartPart(
                    name: part.name, fileName: part.fileName, contentType: part.contentType,
                    body: buffer[(base + part.body.lowerBound)..<(base + part.body.upperBound)])
            }
        case .preamble:
            throw MultipartError(.malformed, "the body has no delimiter line '--\(boundary)': is the boundary in Content-Type right?")
        case .delimiterEnd:
            throw MultipartError(
                .malformed, parts.isEmpty ? "the body ends just after its first delimiter" : "the body ends just after the delimiter that follows part \(parts.count)")
        case .headers:
            throw MultipartError(.malformed, "the body ends inside the headers of part \(parts.count + 1)")
        case .body:
            throw MultipartError(.malformed, "the body ends inside part \(parts.count + 1), before the closing delimiter '--\(boundary)--'")
        }
    }

    // MARK: - The scan

    private mutating func advance() throws(MultipartError) {
        let data = buffer  // shares the storage; lets the closure below change `self`
        let result: MultipartError? = data.withUnsafeBytes { raw -> MultipartError? in
            guard let base = raw.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
            do throws(MultipartError) {
                try step(UnsafeBufferPointer(start: base, count: raw.count))
                return nil
            } catch {
                return error
            }
        }
        if let result { throw result }
    }

    /// Runs the state machine over `bytes` (all of `buffer`) until it needs more bytes or reaches the epilogue.
    private mutating func step(_ bytes: UnsafeBufferPointer<UInt8>) throws(MultipartError) {
        let count = bytes.count
        while true {
            switch state {
            case .preamble:
                // The first delimiter is `--boundary` at the very start, or CRLF `--boundary` after a preamble.
                if scan == 0 {
                    let dashBoundary = delimiter.count - 2
                    let available = min(count, dashBoundary)
                    let matches = delimiter.withUnsafeBufferPointer { memcmp(bytes.baseAddress!, $0.baseAddress! + 2, available) == 0 }
                    if matches {
                        guard available == dashBoundary else { return }
                        startDelimiterEnd(at: dashBoundary)
                        continue
                    }
                }
                if let at = Self.find(delimiter, in: bytes, from: scan, to: count) {
                    startDelimiterEnd(at: at + delimiter.count)
                    continue
                }
                // Offset 0 stays in the search until a whole delimiter fits there: a body may begin with CRLF
                // `--boundary` (an empty preamble), and that delimiter may arrive in pieces.
                scan = max(scan, count - delimiter.count + 1)
                return

            case .delimiterEnd:
                guard scan < count else { return }
                if scan == headerStart && bytes[scan] == Self.dash {
                    guard scan + 1 < count else { return }
                    guard bytes[scan + 1] == Self.dash else {
                        throw MultipartError(
                            .malformed, "a delimiter line is followed by '-' and then \(Self.show(bytes[scan + 1])), not by '--' or CRLF")
                    }
                    state = .epilogue
                    return
                }
                // Transport padding (RFC 2046 §5.1.1), then CRLF.
                var at = scan
                while at < count, bytes[at] == UInt8(ascii: " ") || bytes[at] == UInt8(ascii: "\t") { at += 1 }
                if at - headerStart >= limits.maxHeaderBytes { throw headerTooLarge() }
                guard at < count else {
                    scan = at
                    return
                }
                guard bytes[at] == Self.cr else { throw delimiterLineNotEnded(found: bytes[at]) }
                guard at + 1 < count else {
                    scan = at
                    return
                }
                guard bytes[at + 1] == Self.lf else { throw delimiterLineNotEnded(found: bytes[at + 1]) }
                guard parts.count < limits.maxParts else {
                    throw MultipartError(.tooManyParts, "the form has more than \(limits.maxParts) parts")
                }
                // The CRLF ending the delimiter line also begins the CRLF CRLF that ends an empty header block.
                state = .headers
                headerLinesStart = at + 2
                scan = at

            case .headers:
                let limit = headerStart > Int.max - limits.maxHeaderBytes ? count : min(count, headerStart + limits.maxHeaderBytes)
                guard let end = Self.find(Self.headerEnd, in: bytes, from: scan, to: limit) else {
                    // The whole window a header block may fill is here, and it has no blank line.
                    if count - headerStart >= limits.maxHeaderBytes { throw headerTooLarge() }
                    scan = max(scan, count - Self.headerEnd.count + 1)
                    return
                }
                current = Self.headerFields(bytes, from: headerLinesStart, to: end)
                bodyStart = end + Self.headerEnd.count
                state = .body
                // A part with no body at all: its blank line's CRLF is the delimiter's.
                scan = bodyStart - 2

            case .body:
                guard let at = Self.find(delimiter, in: bytes, from: scan, to: count) else {
                    scan = max(scan, count - delimiter.count + 1)
                    return
                }
                current.body = bodyStart..<max(bodyStart, at)
                parts.append(current)
                startDelimiterEnd(at: at + delimiter.count)

            case .epilogue:
                return
            }
        }
    }

    private mutating func startDelimiterEnd(at offset: Int) {
        state = .delimiterEnd
        headerStart = offset
        scan = offset
    }

    private func delimiterLineNotEnded(found byte: UInt8) -> MultipartError {
        MultipartError(.malformed, "the delimiter line before part \(parts.count + 1) is not ended by CRLF (found \(Self.show(byte)))")
    }

    private func headerTooLarge() -> MultipartError {
        MultipartError(.headerTooLarge, "the headers of part \(parts.count + 1) are longer than \(limits.maxHeaderBytes) bytes")
    }

    /// The fields of a header block: the lines between `start` and `end`, separated by CRLF. Lines without a colon
    /// are ignored; names are case-insensitive. Read byte by byte: Foundation's string searching would cost
    /// microseconds a part.
    private static func headerFields(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> PendingPart {
        var part = PendingPart(body: 0..<0)
        var lineStart = start
        while lineStart < end {
            var lineEnd = lineStart
            while lineEnd < end, !(bytes[lineEnd] == cr && lineEnd + 1 < end && bytes[lineEnd + 1] == lf) { lineEnd += 1 }
            var colon = lineStart
            while colon < lineEnd, bytes[colon] != UInt8(ascii: ":") { colon += 1 }
            if colon < lineEnd {
                let nameStart = Multipart.skipSpace(bytes, from: lineStart, to: colon)
                let nameEnd = Multipart.trimSpace(bytes, from: nameStart, to: colon)
                if Multipart.equalsIgnoringASCIICase(bytes, from: nameStart, to: nameEnd, contentType) {
                    let valueStart = Multipart.skipSpace(bytes, from: colon + 1, to: lineEnd)
                    let valueEnd = Multipart.trimSpace(bytes, from: valueStart, to: lineEnd)
                    part.contentType = String(decoding: UnsafeBufferPointer(rebasing: bytes[valueStart..<valueEnd]), as: UTF8.self)
                } else if Multipart.equalsIgnoringASCIICase(bytes, from: nameStart, to: nameEnd, contentDisposition) {
                    part.name = Multipart.parameter(nameKey, in: bytes, from: colon + 1, to: lineEnd)
                    part.fileName = Multipart.parameter(fileNameKey, in: bytes, from: colon + 1, to: lineEnd)
                }
            }
            lineStart = lineEnd + 2
        }
        return part
    }

    /// The first offset in `from..<to` where `pattern` (which starts with CR) lies wholly before `to`, or `nil`.
    ///
    /// `memchr` skips to each CR; a run of CRs is stepped through inline rather than by a call per byte.
    private static func find(_ pattern: [UInt8], in bytes: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> Int? {
        let length = pattern.count
        guard let base = bytes.baseAddress, to - from >= length else { return nil }
        let last = to - length  // the last offset where the pattern fits
        return pattern.withUnsafeBufferPointer { needle -> Int? in
            let needle = needle.baseAddress!
            var at = max(from, 0)
            while at <= last {
                if base[at] != cr {
                    guard let found = memchr(base + at, Int32(cr), last - at + 1) else { return nil }
                    at = UnsafeRawPointer(base).distance(to: UnsafeRawPointer(found))
                }
                if base[at + 1] == needle[1], memcmp(base + at, needle, length) == 0 { return at }
                at += 1
            }
            return nil
        }
    }

    /// A byte as a person can read it in an error message.
    private static func show(_ byte: UInt8) -> String {
        (0x21...0x7E).contains(byte) ? "'\(Character(UnicodeScalar(byte)))'" : String(format: "byte 0x%02X", byte)
    }
}

/// Makes an uploaded file name safe to store and show: the last path component only, no control characters,
/// at most 200 characters; an empty result becomes `upload.pdf`.
func sanitizeFileName(_ name: String?) -> String {
    guard let name else { return "upload.pdf" }
    let last = name.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
    var cleaned = String(last.unicodeScalars.filter { !CharacterSet.controlCharacters.contains($0) && $0 != "\u{7F}" }.map(Character.init))
        .trimmingCharacters(in: .whitespaces)
    while cleaned.hasPrefix(".") { cleaned.removeFirst() }
    if cleaned.count > 200 { cleaned = String(cleaned.suffix(200)) }
    return cleaned.isEmpty ? "upload.pdf" : cleaned
}

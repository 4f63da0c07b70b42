import NIOCore

/// A reply in Redis's serialization protocol, version 2 (RESP2): what a Redis server answers to a command.
public enum RESPValue: Sendable, Hashable {
    /// `+OK`
    case simpleString(String)
    /// `-ERR ...`: the server refused the command.
    case error(String)
    /// `:42`
    case integer(Int64)
    /// `$5 hello`; `nil` for the null bulk string (`$-1`: a key that does not exist).
    case bulkString([UInt8]?)
    /// `*2 ...`; `nil` for the null array.
    case array([RESPValue]?)
}

/// RESP2 framing: commands out (arrays of bulk strings) and replies in, parsed incrementally from a byte stream and
/// bounded: a reply from a confused or hostile server cannot make the client hold more than `maxBulkBytes` per
/// string or nest deeper than `maxDepth`.
public enum RESP {
    /// A reply the client cannot read: not RESP, or over a bound.
    public struct ProtocolError: Error, Hashable, CustomStringConvertible {
        public var description: String
    }

    /// Appends `arguments` as one command: `*N\r\n` then `$len\r\nbytes\r\n` for each.
    public static func encode(_ arguments: [[UInt8]], into buffer: inout ByteBuffer) {
        buffer.writeString("*\(arguments.count)\r\n")
        for argument in arguments {
            buffer.writeString("$\(argument.count)\r\n")
            buffer.writeBytes(argument)
            buffer.writeStaticString("\r\n")
        }
    }

    /// Reads one whole reply from the front of `buffer`, consuming it; `nil` (consuming nothing) when the buffer
    /// does not yet hold a whole reply.
    ///
    /// - Throws: `ProtocolError` for bytes that are not RESP2, or a string or array over the bounds.
    public static func parse(
        _ buffer: inout ByteBuffer, maxBulkBytes: Int = 64 << 20, maxDepth: Int = 8
    ) throws(ProtocolError) -> RESPValue? {
        var reader = buffer
        guard let value = try parseValue(&reader, maxBulkBytes: maxBulkBytes, depth: maxDepth) else { return nil }
        buffer = reader
        return value
    }

    private static func parseValue(_ buffer: inout ByteBuffer, maxBulkBytes: Int, depth: Int) throws(ProtocolError) -> RESPValue? {
        guard let type = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
        guard let line = try readLine(&buffer, maxBytes: type == UInt8(ascii: "+") || type == UInt8(ascii: "-") ? 64 << 10 : 32) else {
            return nil
        }
        let body = line.dropFirst()
        switch type {
        case UInt8(ascii: "+"): return .simpleString(String(decoding: body, as: UTF8.self))
        case UInt8(ascii: "-"): return .error(String(decoding: body, as: UTF8.self))
        case UInt8(ascii: ":"): return .integer(try integer(body))
        case UInt8(ascii: "$"):
            let length = try integer(body)
            if length == -1 { return .bulkString(nil) }
            guard length >= 0, length <= maxBulkBytes else {
                throw ProtocolError(description: "a bulk string of \(length) bytes, over the client's bound of \(maxBulkBytes)")
            }
            guard buffer.readableBytes >= Int(length) + 2 else { return nil }
            let bytes = buffer.readBytes(length: Int(length))!
            guard buffer.readBytes(length: 2) == [13, 10] else { throw ProtocolError(description: "a bulk string without its CRLF") }
            return .bulkString(bytes)
        case UInt8(ascii: "*"):
            let count = try integer(body)
            if count == -1 { return .array(nil) }
            guard depth > 0 else { throw ProtocolError(description: "arrays nested deeper than the client reads") }
            guard count >= 0, count <= 1 << 20 else { throw ProtocolError(description: "an array of \(count) elements") }
            var elements: [RESPValue] = []
            for _ in 0..<count {
                guard let element = try parseValue(&buffer, maxBulkBytes: maxBulkBytes, depth: depth - 1) else { return nil }
                elements.append(element)
            }
            return .array(elements)
        default:
            throw ProtocolError(description: "a reply starting with byte \(type), which is not RESP2")
        }
    }

    /// The bytes up to CRLF (without it), consumed with it; `nil` when no CRLF has arrived yet.
    private static func readLine(_ buffer: inout ByteBuffer, maxBytes: Int) throws(ProtocolError) -> ArraySlice<UInt8>? {
        let view = buffer.readableBytesView
        guard let cr = view.firstIndex(of: 13) else {
            if view.count > maxBytes { throw ProtocolError(description: "a reply line longer than \(maxBytes) bytes") }
            return nil
        }
        guard cr - view.startIndex <= maxBytes else { throw ProtocolError(description: "a reply line longer than \(maxBytes) bytes") }
        guard cr + 1 < view.endIndex else { return nil }
        guard view[cr + 1] == 10 else { throw ProtocolError(description: "a reply line ending in CR without LF") }
        let line = buffer.readBytes(length: cr - view.startIndex)!
        buffer.moveReaderIndex(forwardBy: 2)
        return line[...]
    }

    private static func integer(_ bytes: ArraySlice<UInt8>) throws(ProtocolError) -> Int64 {
        guard let value = Int64(String(decoding: bytes, as: UTF8.self)) else {
            throw ProtocolError(description: "'\(String(decoding: bytes.prefix(32), as: UTF8.self))' is not an integer")
        }
        return value
    }
}

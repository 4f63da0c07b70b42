import NIOCore

/// A response body that the server writes with `JSONWriter` instead of `JSONEncoder`.
protocol JSONWritable: Encodable {
    /// Writes the bytes that `JSON.encoder` would write for `self`.
    func write(to json: inout JSONWriter) throws
}

/// Writes JSON byte for byte as `JSON.encoder` does: keys in sorted order (each `JSONWritable` writes its keys in
/// that order), `/` not escaped, numbers as their `description` less a trailing `.0`, absent optionals left out.
///
/// Used for the answer, which every question returns: `JSONEncoder`'s generic machinery took more processor time
/// than the rest of the route (a tenth of the server's time under load). Tests compare the two on many values.
///
/// ```swift
/// var json = JSONWriter()
/// json.beginObject(); json.key("ok"); json.bool(true); json.endObject()  // {"ok":true}
/// ```
struct JSONWriter {
    private(set) var buffer: ByteBuffer
    /// Whether the next key or element is the first of its object or array (no comma before it).
    private var first = true

    /// Thrown for NaN and infinities, which JSON cannot hold (`JSONEncoder` refuses them too).
    struct NonFiniteNumber: Error {}

    init(capacity: Int = 1024) {
        buffer = ByteBufferAllocator().buffer(capacity: capacity)
    }

    mutating func beginObject() {
        buffer.writeInteger(UInt8(ascii: "{"))
        first = true
    }

    mutating func endObject() {
        buffer.writeInteger(UInt8(ascii: "}"))
        first = false
    }

    mutating func beginArray() {
        buffer.writeInteger(UInt8(ascii: "["))
        first = true
    }

    mutating func endArray() {
        buffer.writeInteger(UInt8(ascii: "]"))
        first = false
    }

    /// Starts an array element (writes the comma before all but the first).
    mutating func element() {
        if !first { buffer.writeInteger(UInt8(ascii: ",")) }
        first = false
    }

    /// Writes `"name":`; `name` must need no escaping.
    mutating func key(_ name: StaticString) {
        element()
        buffer.writeInteger(UInt8(ascii: "\""))
        buffer.writeStaticString(name)
        buffer.writeStaticString("\":")
    }

    /// Writes `"name":` for a name that may need escaping.
    mutating func key(_ name: String) {
        element()
        string(name)
        buffer.writeInteger(UInt8(ascii: ":"))
    }

    mutating func bool(_ value: Bool) {
        buffer.writeStaticString(value ? "true" : "false")
    }

    mutating func int(_ value: Int) {
        buffer.writeString(String(value))
    }

    mutating func number(_ value: Double) throws {
        guard value.isFinite else { throw NonFiniteNumber() }
        writeNumber(value.description)
    }

    mutating func number(_ value: Float) throws {
        guard value.isFinite else { throw NonFiniteNumber() }
        writeNumber(value.description)
    }

    private mutating func writeNumber(_ text: String) {
        if text.hasSuffix(".0") {
            buffer.writeSubstring(text.dropLast(2))
        } else {
            buffer.writeString(text)
        }
    }

    /// A JSON string: `"` and `\` escaped, control characters as `\n`, `\r`, `\t`, `\b`, `\f` or `\u00xx`.
    mutating func string(_ value: String) {
        buffer.writeInteger(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { bytes in
            var start = 0
            for index in 0..<bytes.count {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                buffer.writeBytes(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[start..<index])))
                start = index + 1
                switch byte {
                case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
                case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
                case 0x0A: buffer.writeStaticString("\\n")
                case 0x0D: buffer.writeStaticString("\\r")
                case 0x09: buffer.writeStaticString("\\t")
                case 0x08: buffer.writeStaticString("\\b")
                case 0x0C: buffer.writeStaticString("\\f")
                default:
                    let hex: StaticString = "0123456789abcdef"
                    buffer.writeStaticString("\\u00")
                    buffer.writeInteger(hex.utf8Start[Int(byte >> 4)])
                    buffer.writeInteger(hex.utf8Start[Int(byte & 0xF)])
                }
            }
            buffer.writeBytes(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[start..<bytes.count])))
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    mutating func array<Element: JSONWritable>(_ elements: [Element]) throws {
        beginArray()
        for element in elements {
            self.element()
            try element.write(to: &self)
        }
        endArray()
    }
}

extension DTO.Answer: JSONWritable {
    func write(to json: inout JSONWriter) throws {
        json.beginObject()
        json.key("answer")
        json.string(answer)
        json.key("answered")
        json.bool(answered)
        json.key("citations")
        try json.array(citations)
        json.key("generated")
        json.bool(generated)
        json.key("model")
        json.string(model)
        json.key("passages")
        try json.array(passages)
        json.key("question")
        json.string(question)
        json.key("search_query")
        json.string(search_query)
        json.key("timings")
        try timings.write(to: &json)
        json.key("usage")
        try usage.write(to: &json)
        json.endObject()
    }
}

extension DTO.Citation: JSONWritable {
    func write(to json: inout JSONWriter) throws {
        json.beginObject()
        json.key("document_id")
        json.string(document_id)
        json.key("file")
        json.string(file)
        json.key("number")
        json.int(number)
        json.key("page")
        json.int(page)
        json.key("page_end")
        json.int(page_end)
        json.key("score")
        try json.number(score)
        json.key("snippet")
        json.string(snippet)
        json.endObject()
    }
}

extension DTO.Timings: JSONWritable {
    func write(to json: inout JSONWriter) throws {
        json.beginObject()
        if let first_token_s {
            json.key("first_token_s")
            try json.number(first_token_s)
        }
        json.key("generation_s")
        try json.number(generation_s)
        json.key("retrieval_s")
        try json.number(retrieval_s)
        json.key("total_s")
        try json.number(total_s)
        json.endObject()
    }
}

extension DTO.Usage: JSONWritable {
    func write(to json: inout JSONWriter) throws {
        json.beginObject()
        json.key("completion_tokens")
        json.int(completion_tokens)
        json.key("estimated")
        json.bool(estimated)
        json.key("prompt_tokens")
        json.int(prompt_tokens)
        json.key("total_tokens")
        json.int(total_tokens)
        json.endObject()
    }
}

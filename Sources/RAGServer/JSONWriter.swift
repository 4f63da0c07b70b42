import NIOCore
import RAGCore

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
    /// The JSON so far. Bytes go to an array, not straight to a `ByteBuffer`: each of `ByteBuffer`'s small writes
    /// checks capacity, uniqueness and exclusive access, and the punctuation alone made that half the writer's time.
    private(set) var bytes: [UInt8]
    /// The JSON as a buffer to send.
    var buffer: ByteBuffer { ByteBuffer(bytes: bytes) }
    /// Whether the next key or element is the first of its object or array (no comma before it).
    private var first = true

    /// Thrown for NaN and infinities, which JSON cannot hold (`JSONEncoder` refuses them too).
    struct NonFiniteNumber: Error {}

    init(capacity: Int = 1024) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    mutating func beginObject() {
        bytes.append(UInt8(ascii: "{"))
        first = true
    }

    mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        first = false
    }

    mutating func beginArray() {
        bytes.append(UInt8(ascii: "["))
        first = true
    }

    mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        first = false
    }

    /// Starts an array element (writes the comma before all but the first).
    mutating func element() {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
    }

    /// Writes `"name":`; `name` must need no escaping.
    mutating func key(_ name: StaticString) {
        element()
        bytes.append(UInt8(ascii: "\""))
        append(name)
        append("\":")
    }

    /// Writes `"name":` for a name that may need escaping.
    mutating func key(_ name: String) {
        element()
        string(name)
        bytes.append(UInt8(ascii: ":"))
    }

    /// Ends a line (of JSON Lines).
    mutating func newline() {
        bytes.append(UInt8(ascii: "\n"))
    }

    mutating func bool(_ value: Bool) {
        append(value ? "true" : "false")
    }

    mutating func int(_ value: Int) {
        append(String(value))
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
            bytes.append(contentsOf: text.utf8.dropLast(2))
        } else {
            append(text)
        }
    }

    /// A JSON string: `"` and `\` escaped, control characters as `\n`, `\r`, `\t`, `\b`, `\f` or `\u00xx`.
    mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            var start = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                self.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<index]))
                start = index + 1
                switch byte {
                case UInt8(ascii: "\""): append("\\\"")
                case UInt8(ascii: "\\"): append("\\\\")
                case 0x0A: append("\\n")
                case 0x0D: append("\\r")
                case 0x09: append("\\t")
                case 0x08: append("\\b")
                case 0x0C: append("\\f")
                default:
                    let hex: StaticString = "0123456789abcdef"
                    append("\\u00")
                    self.bytes.append(hex.utf8Start[Int(byte >> 4)])
                    self.bytes.append(hex.utf8Start[Int(byte & 0xF)])
                }
            }
            self.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<utf8.count]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func append(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    private mutating func append(_ text: String) {
        bytes.append(contentsOf: text.utf8)
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
        json.key("search_queries")
        json.beginArray()
        for query in search_queries {
            json.element()
            json.string(query)
        }
        json.endArray()
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
        json.key("chunk_index")
        json.int(chunk_index)
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

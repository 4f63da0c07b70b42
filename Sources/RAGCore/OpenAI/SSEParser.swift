/// One Server-Sent Event.
public struct ServerSentEvent: Sendable, Hashable {
    /// The `event:` field; `message` when absent.
    public var event: String
    /// The `data:` lines joined with `\n`.
    public var data: String
    /// The `id:` field, if any.
    public var id: String?

    public init(event: String = "message", data: String, id: String? = nil) {
        self.event = event
        self.data = data
        self.id = id
    }
}

/// A pure, incremental parser for the `text/event-stream` format (WHATWG HTML, "Server-sent events").
///
/// Feed it bytes exactly as they arrive from the network, in pieces of any size; it returns the events completed
/// by each piece. Lines may end in `\n`, `\r\n` or `\r`, also when the `\r` and `\n` arrive in separate pieces.
/// Bytes are decoded as UTF-8 only once a whole line has arrived, so a character split across reads is
/// never mangled. Comment lines (starting with `:`, used as keep-alives) and unknown fields are ignored; an
/// event is dispatched at a blank line, and an event with no `data:` line is dropped. A bounded line length
/// protects against a server that never ends a line.
///
/// ```swift
/// var parser = SSEParser()
/// for event in try parser.feed(bytes) { print(event.data) }
/// ```
public struct SSEParser: Sendable {
    /// A line longer than `maxLineBytes` arrived.
    public struct LineTooLong: Error, Sendable, Hashable, CustomStringConvertible {
        public var limit: Int
        public var description: String { "an event-stream line exceeded \(limit) bytes" }
    }

    public let maxLineBytes: Int
    private var line: [UInt8] = []
    private var lastWasCarriageReturn = false
    private var dataLines: [String] = []
    private var hasData = false
    private var eventName = ""
    private var lastEventID: String? = nil

    public init(maxLineBytes: Int = 1 << 20) {
        self.maxLineBytes = maxLineBytes
    }

    /// Parses the next piece of the stream and returns the events it completes.
    public mutating func feed<Bytes: Sequence>(_ bytes: Bytes) throws(LineTooLong) -> [ServerSentEvent] where Bytes.Element == UInt8 {
        var events: [ServerSentEvent] = []
        for byte in bytes {
            if byte == 0x0A && lastWasCarriageReturn {  // the \n of a \r\n split or not
                lastWasCarriageReturn = false
                continue
            }
            lastWasCarriageReturn = byte == 0x0D
            if byte == 0x0A || byte == 0x0D {
                if let event = endLine() { events.append(event) }
            } else {
                guard line.count < maxLineBytes else { throw LineTooLong(limit: maxLineBytes) }
                line.append(byte)
            }
        }
        return events
    }

    /// Processes a complete line; returns an event at a blank line.
    private mutating func endLine() -> ServerSentEvent? {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            defer {
                dataLines.removeAll()
                hasData = false
                eventName = ""
            }
            guard hasData else { return nil }
            return ServerSentEvent(event: eventName.isEmpty ? "message" : eventName, data: dataLines.joined(separator: "\n"), id: lastEventID)
        }
        if line[0] == 0x3A { return nil }  // ":" comment
        let text = String(decoding: line, as: UTF8.self)
        let field: Substring
        var value: Substring
        if let colon = text.firstIndex(of: ":") {
            field = text[..<colon]
            value = text[text.index(after: colon)...]
            if value.first == " " { value = value.dropFirst() }
        } else {
            field = Substring(text)
            value = ""
        }
        switch field {
        case "data":
            dataLines.append(String(value))
            hasData = true
        case "event": eventName = String(value)
        case "id": if !value.contains("\0") { lastEventID = String(value) }
        default: break  // "retry" and unknown fields
        }
        return nil
    }
}

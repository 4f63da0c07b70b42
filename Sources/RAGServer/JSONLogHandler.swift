#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
// `timespec` is owned by CDispatch once any module of the target loads Dispatch (NIOHTTPTypes does).
import CDispatch
import Logging
import NIOCore

/// Structured logs: one JSON object per line on stderr, with the time, level, label, message and metadata
/// (the request id as `request.id`), keys sorted, every value a string. Metadata named like a secret
/// (`authorization`, `api_key`, ...) is redacted.
///
/// The server writes one access line per request, so a line is cheap: written with `JSONWriter` and formatted by
/// hand (no `JSONSerialization` or date formatter), and handed to `LogWriter.standardError`, which writes it from a
/// thread of its own (lines stay whole; nothing is dropped).
///
/// ```swift
/// LoggingSystem.bootstrap { JSONLogHandler(label: $0) }
/// // {"level":"info","logger":"rag.server","message":"request","request.id":"…","time":"2026-11-29T23:08:36.304Z"}
/// ```
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public let label: String
    private let output: @Sendable (ByteBuffer) -> Void
    private let now: @Sendable () -> timespec

    public init(label: String) {
        self.init(label: label, output: JSONLogHandler.writeToStandardError, now: JSONLogHandler.realTime)
    }

    /// A handler that hands each line to `output` and reads the time from `now` (for tests).
    init(label: String, output: @escaping @Sendable (ByteBuffer) -> Void, now: @escaping @Sendable () -> timespec) {
        self.label = label
        self.output = output
        self.now = now
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Metadata keys that contain one of these (in any case) are logged as `[redacted]`.
    static let secretWords: [[UInt8]] = ["authorization", "api_key", "api-key", "apikey", "password", "token", "secret", "cookie"].map { Array($0.utf8) }

    public func log(event: LogEvent) {
        // The line's fields, metadata first (the event's over the logger's), then the four standard fields unless
        // metadata took their names; sorted by key. No dictionary is built: a line has about ten fields.
        var fields: [(key: String, value: String)] = []
        fields.reserveCapacity(metadata.count + (event.metadata?.count ?? 0) + 4)
        for (key, value) in metadata where event.metadata?[key] == nil {
            fields.append((key, Self.isSecret(key) ? "[redacted]" : Self.text(value)))
        }
        for (key, value) in event.metadata ?? [:] {
            fields.append((key, Self.isSecret(key) ? "[redacted]" : Self.text(value)))
        }
        for (key, value) in [("time", Self.timestamp(now())), ("level", event.level.rawValue), ("logger", label), ("message", "\(event.message)")]
        where !fields.contains(where: { $0.key == key }) {
            fields.append((key, value))
        }
        fields.sort { $0.key < $1.key }
        var json = JSONWriter(capacity: 512)
        json.beginObject()
        for field in fields {
            json.key(field.key)
            json.string(field.value)
        }
        json.endObject()
        json.newline()
        output(json.buffer)
    }

    /// A metadata value as the line shows it: strings as they are, anything else by its description.
    static func text(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let string): string
        case .stringConvertible(let convertible): convertible.description
        default: value.description
        }
    }

    /// Whether `key` names a secret: it contains one of `secretWords`, ignoring ASCII case. Compared byte by byte
    /// (`String.contains` built a search table for every key and word: a fifth of the server's time under load).
    static func isSecret(_ key: String) -> Bool {
        var key = key
        return key.withUTF8 { bytes in
            secretWords.contains { word in
                guard bytes.count >= word.count else { return false }
                return (0...(bytes.count - word.count)).contains { start in
                    word.indices.allSatisfy { offset in
                        let byte = bytes[start + offset]
                        return (byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte) == word[offset]
                    }
                }
            }
        }
    }

    /// RFC 3339 in UTC with milliseconds: `2026-11-29T23:08:36.304Z`.
    static func timestamp(_ time: timespec) -> String {
        var seconds = time_t(time.tv_sec)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(unsafeUninitializedCapacity: 24) { out in
            var position = 0
            func put(_ value: Int32, _ count: Int, then separator: UInt8) {
                var value = value
                for index in stride(from: count - 1, through: 0, by: -1) {
                    out[position + index] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
                out[position + count] = separator
                position += count + 1
            }
            put(parts.tm_year + 1900, 4, then: UInt8(ascii: "-"))
            put(parts.tm_mon + 1, 2, then: UInt8(ascii: "-"))
            put(parts.tm_mday, 2, then: UInt8(ascii: "T"))
            put(parts.tm_hour, 2, then: UInt8(ascii: ":"))
            put(parts.tm_min, 2, then: UInt8(ascii: ":"))
            put(parts.tm_sec, 2, then: UInt8(ascii: "."))
            put(Int32(time.tv_nsec / 1_000_000), 3, then: UInt8(ascii: "Z"))
            return position
        }
    }

    @Sendable static func realTime() -> timespec {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return time
    }

    @Sendable static func writeToStandardError(_ line: ByteBuffer) {
        line.withUnsafeReadableBytes { LogWriter.standardError.write($0) }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import NIOCore
import Synchronization

/// Structured logs: one JSON object per line on stderr, with the time, level, label, message and metadata
/// (the request id as `request.id`), keys sorted, every value a string. Metadata named like a secret
/// (`authorization`, `api_key`, ...) is redacted.
///
/// The server writes one access line per request, so a line is cheap: written with `JSONWriter` and formatted by
/// hand (no `JSONSerialization` or date formatter), and sent with one `write` while a lock keeps lines whole.
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
    private static let lock = Mutex(())

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

    static let secretWords = ["authorization", "api_key", "apikey", "password", "token", "secret"]

    public func log(event: LogEvent) {
        var fields: [String: String] = ["time": Self.timestamp(now()), "level": event.level.rawValue, "logger": label, "message": "\(event.message)"]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
            let lowered = key.lowercased()
            fields[key] = Self.secretWords.contains(where: lowered.contains) ? "[redacted]" : "\(value)"
        }
        var json = JSONWriter(capacity: 256)
        json.beginObject()
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
            json.key(key)
            json.string(value)
        }
        json.endObject()
        var line = json.buffer
        line.writeInteger(UInt8(ascii: "\n"))
        output(line)
    }

    /// RFC 3339 in UTC with milliseconds: `2026-11-29T23:08:36.304Z`.
    static func timestamp(_ time: timespec) -> String {
        var seconds = time_t(time.tv_sec)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func digits(_ value: Int32, _ count: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, count - text.count)) + text
        }
        return "\(digits(parts.tm_year + 1900, 4))-\(digits(parts.tm_mon + 1, 2))-\(digits(parts.tm_mday, 2))T"
            + "\(digits(parts.tm_hour, 2)):\(digits(parts.tm_min, 2)):\(digits(parts.tm_sec, 2)).\(digits(Int32(time.tv_nsec / 1_000_000), 3))Z"
    }

    @Sendable static func realTime() -> timespec {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return time
    }

    /// One line, whole: other threads' lines wait for the lock.
    @Sendable static func writeToStandardError(_ line: ByteBuffer) {
        lock.withLock { _ in
            line.withUnsafeReadableBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = write(2, bytes.baseAddress! + offset, bytes.count - offset)
                    if written < 0 && errno == EINTR { continue }
                    guard written > 0 else { return }
                    offset += written
                }
            }
        }
    }
}

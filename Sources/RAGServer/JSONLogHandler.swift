import Foundation
import Logging
import Synchronization

/// Structured logs: one JSON object per line on stderr, with the time, level, label, message and metadata
/// (the request id as `request.id`). Metadata named like a secret (`authorization`, `api_key`, ...) is redacted.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public let label: String
    private static let lock = Mutex(())

    public init(label: String) {
        self.label = label
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var object: [String: Any] = [
            "time": ISO8601DateFormatter.string(from: Date(), timeZone: .gmt, formatOptions: [.withInternetDateTime, .withFractionalSeconds]),
            "level": event.level.rawValue, "logger": label, "message": "\(event.message)",
        ]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
            let lowered = key.lowercased()
            object[key] = ["authorization", "api_key", "apikey", "password", "token", "secret"].contains(where: lowered.contains)
                ? "[redacted]" : "\(value)"
        }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        JSONLogHandler.lock.withLock { _ in FileHandle.standardError.write(data + Data("\n".utf8)) }
    }
}

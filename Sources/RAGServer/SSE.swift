import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOFoundationEssentialsCompat
import Prometheus
import RAGCore

/// Server-Sent Events responses.
enum SSE {
    /// A `text/event-stream` response whose body `produce` writes, one event at a time.
    static func response(_ produce: @escaping @Sendable (SSEWriter) async throws -> Void) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache", .init("X-Accel-Buffering")!: "no"],
            body: ResponseBody { writer in
                let sse = SSEWriter()
                let pump = Task {
                    defer { sse.finish() }
                    try await produce(sse)
                }
                // Forward events as they are produced; the producer finishes the stream.
                do {
                    for await chunk in sse.stream { try await writer.write(ByteBuffer(bytes: chunk)) }
                } catch {
                    pump.cancel()  // the client went away
                    throw error
                }
                _ = await pump.result
                try await writer.finish(nil)
            })
    }
}

/// Hands events from a producer task to the response body writer.
final class SSEWriter: Sendable {
    let stream: AsyncStream<Data>
    private let continuation: AsyncStream<Data>.Continuation

    init() {
        (stream, continuation) = AsyncStream.makeStream(of: Data.self)
    }

    /// Sends `event: NAME` (when given) and `data: JSON`.
    func send(event: String? = nil, json: some Encodable) throws {
        let data = try JSON.encoder.encode(json)
        send(event: event, data: String(decoding: data, as: UTF8.self))
    }

    /// Sends one event; multi-line data becomes several `data:` lines.
    func send(event: String? = nil, data: String) {
        var text = ""
        if let event { text += "event: \(event)\n" }
        for line in data.split(separator: "\n", omittingEmptySubsequences: false) { text += "data: \(line)\n" }
        continuation.yield(Data((text + "\n").utf8))
    }

    func finish() { continuation.finish() }
}

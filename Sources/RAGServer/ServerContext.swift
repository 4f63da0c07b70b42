import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOFoundationEssentialsCompat
import Prometheus
import RAGCore

/// The request context of the API: who the client is (for rate limits and per-client metrics) and the
/// request id.
public struct ServerContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The client identity: the API key's name, or `anonymous` when keys are off. Never a raw key or address.
    public var clientName: String = "anonymous"
    /// The peer's address (a proxy's, behind one); never logged or exported.
    public let remoteAddress: String
    /// The client's address for rate limits: ``remoteAddress``, or the address a trusted proxy forwarded (set by
    /// `AccessMiddleware`). Never logged or exported.
    public var clientAddress: String
    /// Whether the client is still connected; `nil` when the request did not come through the connection guard.
    public let connection: ConnectionWatch?
    /// The request id (`X-Request-ID`), echoed in the response.
    public var requestID: String = ""
    /// Largest request body; set from the server configuration by `RequestIDMiddleware`.
    public var uploadLimit: Int = 64 << 20

    public init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
        clientAddress = remoteAddress
        connection = ConnectionWatch.of(source.channel)
    }

    public var maxUploadSize: Int { uploadLimit }

    /// The request id (Hummingbird's `RequestContext.id` reads a logger field that `RequestMiddleware` replaces).
    public var id: String { requestID }
}

/// Time limits for one HTTP request to a model server.
public struct HTTPTimeouts: Sendable, Hashable {
    /// Establishing the connection (TCP and TLS). Default 10 s.
    public var connect: Duration
    /// The whole request, from start to the last byte. Default 300 s.
    public var total: Duration
    /// Longest silence between two pieces of a response (streams included). Default 60 s.
    public var idle: Duration

    public init(connect: Duration = .seconds(10), total: Duration = .seconds(300), idle: Duration = .seconds(60)) {
        self.connect = connect
        self.total = total
        self.idle = idle
    }
}

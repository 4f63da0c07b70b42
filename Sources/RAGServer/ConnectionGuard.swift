import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import RAGCore
import Synchronization

/// How long a connection may take over each phase of a request, beyond which it is closed.
public struct ConnectionTimeouts: Sendable, Equatable {
    /// A connection that is idle (no request in progress) or stalled (no byte of the request arrives) for this long
    /// is closed.
    public var idle: Duration
    /// From the first byte of a request to the end of its head (request line and headers); then 408 and close.
    public var header: Duration
    /// From the end of a request's head to the end of its body; then 408 (if no response has begun) and close.
    public var body: Duration

    public init(idle: Duration, header: Duration, body: Duration) {
        self.idle = idle
        self.header = header
        self.body = body
    }
}

/// Whether the client of a connection is still there. Set on the connection's event loop, read by the tasks
/// handling its requests (see ``ServerState/withRequestTimeout(_:connection:_:)``).
public final class ConnectionWatch: Sendable {
    private let gone = Atomic<Bool>(false)

    /// True once the client closed the connection (or its sending side), or the connection failed.
    public var clientIsGone: Bool { gone.load(ordering: .relaxed) }

    func markGone() { gone.store(true, ordering: .relaxed) }

    /// The watch of each open connection, by channel. One lock per lookup; entries leave when the connection closes.
    private static let watches = Mutex<[ObjectIdentifier: ConnectionWatch]>([:])

    /// The watch of `channel`, or `nil` for a connection the guard does not handle (tests that call the router
    /// directly).
    static func of(_ channel: any Channel) -> ConnectionWatch? {
        watches.withLock { $0[ObjectIdentifier(channel)] }
    }

    static func register(_ watch: ConnectionWatch, for channel: any Channel) {
        watches.withLock { $0[ObjectIdentifier(channel)] = watch }
    }

    static func unregister(_ channel: any Channel) {
        _ = watches.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }
}

/// Hummingbird's HTTP/1.1 server with the connection guard: the header and body timeouts, the idle timeout
/// (Hummingbird's own), and a ``ConnectionWatch`` per connection that tells handlers when their client left.
///
/// Two handlers share one connection's state on its event loop: ``RawConnectionGuard`` at the front of the
/// pipeline sees the first byte of each request (and the end of the client's input), and
/// ``RequestPhaseGuard`` after the HTTP decoder sees where the head and the body end.
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let responder: HTTPChannelHandler.Responder
    let timeouts: ConnectionTimeouts
    let onTimeout: @Sendable (ConnectionPhase) -> Void

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let state = ConnectionGuardState(timeouts: timeouts, onTimeout: onTimeout)
        do {
            try channel.pipeline.syncOperations.addHandler(RawConnectionGuard(state: state), position: .first)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return http1(state: state).setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await HTTP1Channel(responder: responder).handle(value: value, logger: logger)
    }

    /// The channel for one connection: its phase guard joins the pipeline after the HTTP decoder.
    private func http1(state: ConnectionGuardState) -> HTTP1Channel {
        let phases = UnsafeTransfer(RequestPhaseGuard(state: state))
        return HTTP1Channel(
            responder: responder,
            configuration: .init(
                additionalChannelHandlers: [phases.value], idleTimeout: ConnectionGuardState.timeAmount(timeouts.idle)))
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 behind the connection guard (see ``GuardedHTTP1Channel``).
    static func guardedHTTP1(timeouts: ConnectionTimeouts, onTimeout: @escaping @Sendable (ConnectionPhase) -> Void) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in GuardedHTTP1Channel(responder: responder, timeouts: timeouts, onTimeout: onTimeout) }
    }
}

/// Carries a value that is not `Sendable` to code that runs on the same event loop (the pipeline set-up).
struct UnsafeTransfer<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// The phase of a request whose timeout closed a connection (the `phase` label of
/// `rag_http_connections_timed_out_total`).
public enum ConnectionPhase: String, Sendable, CaseIterable {
    case header
    case body
}

/// One connection's request phase, shared by its two guard handlers. Touched only on the connection's event loop.
final class ConnectionGuardState {
    let timeouts: ConnectionTimeouts
    let onTimeout: @Sendable (ConnectionPhase) -> Void
    let watch = ConnectionWatch()
    /// True between requests: the next byte that arrives begins a request head.
    var awaitingHead = true
    /// True while a response's head is written and its end is not.
    var responding = false
    var headerDeadline: Scheduled<Void>?
    var bodyDeadline: Scheduled<Void>?

    init(timeouts: ConnectionTimeouts, onTimeout: @escaping @Sendable (ConnectionPhase) -> Void) {
        self.timeouts = timeouts
        self.onTimeout = onTimeout
    }

    func cancelDeadlines() {
        headerDeadline?.cancel()
        headerDeadline = nil
        bodyDeadline?.cancel()
        bodyDeadline = nil
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        .nanoseconds(Int64(min(duration.seconds, 86_400 * 365) * 1e9))
    }
}

/// At the front of the pipeline: starts the header timeout at the first byte of a request, answers 408 and
/// closes when it fires, and marks the client gone when its input ends or the connection closes.
final class RawConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private let state: ConnectionGuardState

    init(state: ConnectionGuardState) {
        self.state = state
    }

    func handlerAdded(context: ChannelHandlerContext) {
        ConnectionWatch.register(state.watch, for: context.channel)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        state.cancelDeadlines()
        state.watch.markGone()
        ConnectionWatch.unregister(context.channel)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if state.awaitingHead, state.headerDeadline == nil, unwrapInboundIn(data).readableBytes > 0 {
            let state = self.state
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            state.headerDeadline = context.eventLoop.scheduleTask(in: ConnectionGuardState.timeAmount(state.timeouts.header)) {
                state.headerDeadline = nil
                guard state.awaitingHead else { return }
                state.onTimeout(.header)
                let context = loopBound.value
                let response = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
                context.writeAndFlush(NIOAny(IOData.byteBuffer(context.channel.allocator.buffer(string: response))), promise: nil)
                context.close(promise: nil)
            }
        }
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { state.watch.markGone() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        state.watch.markGone()
        state.cancelDeadlines()
        context.fireChannelInactive()
    }
}

/// After the HTTP decoder: ends the header timeout at the end of a head, runs the body timeout to the end of the
/// body, and notes whether a response is being written (a 408 can only be sent before one begins).
final class RequestPhaseGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let state: ConnectionGuardState

    init(state: ConnectionGuardState) {
        self.state = state
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            state.awaitingHead = false
            state.headerDeadline?.cancel()
            state.headerDeadline = nil
            let state = self.state
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            state.bodyDeadline?.cancel()
            state.bodyDeadline = context.eventLoop.scheduleTask(in: ConnectionGuardState.timeAmount(state.timeouts.body)) {
                state.bodyDeadline = nil
                state.onTimeout(.body)
                let context = loopBound.value
                if !state.responding {
                    var head = HTTPResponse(status: .requestTimeout)
                    head.headerFields[.connection] = "close"
                    head.headerFields[.contentLength] = "0"
                    context.write(NIOAny(HTTPResponsePart.head(head)), promise: nil)
                    context.writeAndFlush(NIOAny(HTTPResponsePart.end(nil)), promise: nil)
                }
                context.close(promise: nil)
            }
        case .body:
            break
        case .end:
            state.bodyDeadline?.cancel()
            state.bodyDeadline = nil
            state.awaitingHead = true
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head: state.responding = true
        case .body: break
        case .end: state.responding = false
        }
        context.write(data, promise: promise)
    }
}

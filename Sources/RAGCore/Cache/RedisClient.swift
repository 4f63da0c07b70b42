import Logging
import NIOCore
import NIOPosix
import Prometheus
import Synchronization

/// A Redis client over SwiftNIO: RESP2 on a few pipelined connections, with a timeout on every command, and
/// reconnection with backoff in the background.
///
/// Requests never wait for a connection: a command goes out on a connection that is open now, or fails at once with
/// `unavailable`, so a Redis that is down or slow costs a request at most ``RedisConfiguration/commandTimeout``. A
/// command that times out closes its connection (its reply, if it ever comes, would answer the next command); the
/// background task opens it again after ``backoff(afterFailures:)``.
///
/// ```swift
/// let client = RedisClient(configuration: try RedisConfiguration(url: "redis://:secret@127.0.0.1:6379/0"))
/// await client.start()   // first connections; returns when they are open or failed
/// try await client.set("greeting", Array("hello".utf8), ttl: .seconds(60))
/// let value = try await client.get("greeting")
/// await client.shutdown()
/// ```
public final class RedisClient: Sendable {
    public let configuration: RedisConfiguration
    let metrics: RAGMetrics?
    let logger: Logger
    private let group: any EventLoopGroup
    private let slots: [Slot]
    private let next = Atomic<Int>(0)
    private let state = Mutex(Health())
    private let maintenance = Mutex<Task<Void, Never>?>(nil)

    /// Whether the connections are up, and how the reconnection is going.
    private struct Health {
        /// `nil` before the first connection attempt, so that its outcome is logged either way.
        var isUp: Bool? = nil
        var lastError: RedisError? = nil
        /// Connection attempts that failed in a row.
        var failures = 0
        var nextAttempt = ContinuousClock.now
        var isShutDown = false
        var lastPing = ContinuousClock.now
    }

    public init(
        configuration: RedisConfiguration, metrics: RAGMetrics? = nil, logger: Logger = Logger(label: "rag.redis"),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        self.group = group
        self.slots = (0..<max(1, configuration.connections)).map { _ in Slot() }
        metrics?.redisUp.set(Int64(0))
    }

    /// Opens the connections (waiting at most the connect timeout) and starts the background task that reopens them.
    /// Does not throw: a Redis that is down now is retried with backoff, and ``isUp`` says how it went.
    public func start() async {
        await reconnect()
        maintenance.withLock { task in
            guard task == nil else { return }
            task = Task { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(100))
                    guard let self else { return }
                    await self.maintain()
                }
            }
        }
    }

    /// Closes the connections and stops reconnecting; later commands fail with `shutdown`.
    public func shutdown() async {
        let task = maintenance.withLock { task in
            defer { task = nil }
            return task
        }
        state.withLock { $0.isShutDown = true }
        task?.cancel()
        await task?.value
        for slot in slots { try? await slot.close()?.get() }
        state.withLock { $0.isUp = false }
        metrics?.redisUp.set(Int64(0))
    }

    /// Whether at least one connection is open.
    public var isUp: Bool { state.withLock { $0.isUp == true } && slots.contains { $0.channel != nil } }

    /// Why the last connection attempt failed (a wrong password, refused, timed out), or `nil` after a success.
    public var lastError: RedisError? { state.withLock { $0.lastError } }

    /// How long the client waits before connecting again after `failures` failed attempts in a row: 100 ms, doubling
    /// up to 5 s.
    public static func backoff(afterFailures failures: Int) -> Duration {
        guard failures > 0 else { return .zero }
        return .milliseconds(min(5_000, 100 << min(failures - 1, 10)))
    }

    // MARK: Commands

    /// Sends one command (`["SET", key, value]`) and returns its reply; an error reply is returned, not thrown.
    ///
    /// - Throws: `RedisError`: `unavailable` when no connection is open (at once), `timeout` past the command
    ///   timeout, `protocol` for a reply the client cannot read, `shutdown` after ``shutdown()``.
    public func send(_ arguments: [[UInt8]]) async throws(RedisError) -> RESPValue {
        let name = arguments.first.map { String(decoding: $0, as: UTF8.self).lowercased() } ?? ""
        let start = ContinuousClock.now
        guard let channel = openChannel() else {
            if state.withLock({ $0.isShutDown }) { throw RedisError(.shutdown, "the Redis client was shut down") }
            setUp(false)
            throw RedisError(.unavailable, "no connection to Redis at \(configuration.redactedURL) is open; retrying in the background")
        }
        let reply = try await Self.command(arguments, on: channel)
        metrics?.redisCommandLatency(name).record(Engine.seconds(since: start))
        return reply
    }

    /// `GET key`: the value, or `nil` when the key does not exist.
    public func get(_ key: String) async throws(RedisError) -> [UInt8]? {
        switch try await send([Array("GET".utf8), Array(key.utf8)]) {
        case .bulkString(let value): return value
        case .error(let message): throw RedisError(.server, message)
        default: throw RedisError(.protocolViolation, "GET answered with something other than a string")
        }
    }

    /// `SET key value PX ttl`.
    public func set(_ key: String, _ value: [UInt8], ttl: Duration) async throws(RedisError) {
        let milliseconds = max(1, ttl.components.seconds * 1000 + ttl.components.attoseconds / 1_000_000_000_000_000)
        let reply = try await send([Array("SET".utf8), Array(key.utf8), value, Array("PX".utf8), Array(String(milliseconds).utf8)])
        if case .error(let message) = reply { throw RedisError(.server, message) }
    }

    /// Runs a Lua script by its SHA-1 (`EVALSHA`), sending the script itself (`EVAL`) when the server does not
    /// have it cached yet.
    public func evaluate(_ script: RedisScript, keys: [String], arguments: [String]) async throws(RedisError) -> RESPValue {
        let tail = [Array(String(keys.count).utf8)] + keys.map { Array($0.utf8) } + arguments.map { Array($0.utf8) }
        var reply = try await send([Array("EVALSHA".utf8), Array(script.sha1.utf8)] + tail)
        if case .error(let message) = reply, message.hasPrefix("NOSCRIPT") {
            reply = try await send([Array("EVAL".utf8), Array(script.source.utf8)] + tail)
        }
        if case .error(let message) = reply { throw RedisError(.server, message) }
        return reply
    }

    // MARK: Connections

    /// An open connection, round robin over the open ones; `nil` when none is open.
    private func openChannel() -> (any Channel)? {
        let first = next.add(1, ordering: .relaxed).oldValue
        for offset in 0..<slots.count {
            if let channel = slots[(first + offset) % slots.count].channel { return channel }
        }
        return nil
    }

    /// One pass of the background task: reopens closed connections when the backoff allows, and pings an idle
    /// client every 2 s so that ``isUp`` (and `rag_redis_up`) follow the server even without traffic.
    private func maintain() async {
        let now = ContinuousClock.now
        let (due, ping) = state.withLock { state in
            (now >= state.nextAttempt, state.isUp == true && now - state.lastPing >= .seconds(2))
        }
        if slots.contains(where: { $0.channel == nil }) {
            if due { await reconnect() } else if !slots.contains(where: { $0.channel != nil }) { setUp(false) }
        } else if ping {
            state.withLock { $0.lastPing = now }
            do {
                _ = try await send([Array("PING".utf8)])
            } catch {
                logger.debug("redis ping failed", metadata: ["error": "\(error)"])
            }
            if !slots.contains(where: { $0.channel != nil }) { setUp(false) }
        }
    }

    /// Opens every closed connection; records the outcome for the backoff and ``isUp``.
    private func reconnect() async {
        var failure: RedisError? = nil
        for slot in slots where slot.channel == nil {
            do {
                slot.channel = try await connect()
            } catch {
                failure = error
                break
            }
        }
        let opened = slots.contains { $0.channel != nil }
        state.withLock { state in
            if let failure, !opened || failure.code != .unavailable {
                state.failures += 1
            } else if failure == nil {
                state.failures = 0
            }
            state.nextAttempt = .now + Self.backoff(afterFailures: state.failures)
            state.lastError = failure
        }
        if let failure {
            metrics?.redisErrors(operation: "connect").increment()
            logger.debug("redis connection failed", metadata: ["redis.url": "\(configuration.redactedURL)", "error": "\(failure.message)"])
        }
        setUp(opened, reason: failure)
    }

    private func setUp(_ up: Bool, reason: RedisError? = nil) {
        let changed = state.withLock { state in
            defer { state.isUp = up }
            return state.isUp != up
        }
        metrics?.redisUp.set(Int64(up ? 1 : 0))
        guard changed else { return }
        if up {
            logger.info("redis is reachable: the response cache and the shared rate limits are on", metadata: ["redis.url": "\(configuration.redactedURL)"])
        } else {
            logger.warning(
                "redis is unavailable: answers go on without the cache, and rate limits are this replica's own until it returns",
                metadata: ["redis.url": "\(configuration.redactedURL)", "error": "\(reason?.message ?? "the connections closed")"])
        }
    }

    /// A new connection, authenticated and on the configured database, within the connect timeout.
    private func connect() async throws(RedisError) -> any Channel {
        let configuration = self.configuration
        if state.withLock({ $0.isShutDown }) { throw RedisError(.shutdown, "the Redis client was shut down") }
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.nanoseconds(Int64(configuration.connectTimeout.components.seconds) * 1_000_000_000
                + configuration.connectTimeout.components.attoseconds / 1_000_000_000))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        RedisHandler(maxReplyBytes: configuration.maxReplyBytes, timeout: configuration.commandTimeout))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: configuration.host, port: configuration.port).get()
        } catch {
            throw RedisError(.unavailable, "cannot connect to \(configuration.redactedURL): \(error)")
        }
        do throws(RedisError) {
            if let password = configuration.password {
                let arguments = [Array("AUTH".utf8)] + (configuration.username.map { [Array($0.utf8)] } ?? []) + [Array(password.utf8)]
                let reply = try await Self.command(arguments, on: channel)
                if case .error(let message) = reply {
                    throw RedisError(.authentication, "Redis at \(configuration.redactedURL) refused the password: \(message)")
                }
            }
            if configuration.database != 0 {
                let reply = try await Self.command([Array("SELECT".utf8), Array(String(configuration.database).utf8)], on: channel)
                if case .error(let message) = reply {
                    throw RedisError(.configuration, "Redis at \(configuration.redactedURL) cannot select database \(configuration.database): \(message)")
                }
            }
            let reply = try await Self.command([Array("PING".utf8)], on: channel)
            if case .error(let message) = reply {
                // NOAUTH: the server wants a password the URL does not give.
                throw RedisError(message.hasPrefix("NOAUTH") ? .authentication : .server, "Redis at \(configuration.redactedURL): \(message)")
            }
        } catch {
            try? await channel.close()
            throw error
        }
        return channel
    }

    /// Writes one command on `channel` and waits for its reply; the handler fails it (closing the connection) when
    /// the reply takes longer than the command timeout.
    private static func command(_ arguments: [[UInt8]], on channel: any Channel) async throws(RedisError) -> RESPValue {
        var bytes = channel.allocator.buffer(capacity: 64 + arguments.reduce(0) { $0 + $1.count + 16 })
        RESP.encode(arguments, into: &bytes)
        let reply = channel.eventLoop.makePromise(of: RESPValue.self)
        channel.writeAndFlush(RedisCommand(bytes: bytes, reply: reply), promise: nil)
        do {
            return try await reply.futureResult.get()
        } catch let error as RedisError {
            throw error
        } catch {
            throw RedisError(.unavailable, "\(error)")
        }
    }

    /// One connection's place: the open channel, or `nil`.
    private final class Slot: Sendable {
        private let open = Mutex<(any Channel)?>(nil)

        /// The channel while it is active.
        var channel: (any Channel)? {
            get { open.withLock { channel in channel?.isActive == true ? channel : nil } }
            set { open.withLock { $0 = newValue } }
        }

        func close() -> EventLoopFuture<Void>? {
            open.withLock { channel in
                defer { channel = nil }
                return channel?.close()
            }
        }
    }
}

/// A Lua script for ``RedisClient/evaluate(_:keys:arguments:)``, with its SHA-1 (what `EVALSHA` names it by).
public struct RedisScript: Sendable, Hashable {
    public let source: String
    public let sha1: String

    public init(_ source: String) {
        self.source = source
        self.sha1 = SHA1.hex(Array(source.utf8))
    }
}

/// A command on its way to the handler, with the promise its reply fulfils.
struct RedisCommand: Sendable {
    var bytes: ByteBuffer
    var reply: EventLoopPromise<RESPValue>
}

/// Writes commands, reads their replies in order (Redis answers a connection's commands in the order sent), and
/// fails every waiting command when the connection ends: closed, reset, a reply it cannot read, or a timeout.
///
/// The timeout: a timer ticking every fifth of it (5 ms to 1 s) looks at the oldest command waiting; once that is
/// past its deadline the connection is dropped (a reply that came later would answer the next command). One timer per
/// connection, not one per command.
final class RedisHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = RedisCommand
    typealias OutboundOut = ByteBuffer

    private let maxReplyBytes: Int
    private let timeout: Duration
    private var waiting = CircularBuffer<(reply: EventLoopPromise<RESPValue>, deadline: NIODeadline)>()
    private var received: ByteBuffer? = nil
    private var failure: RedisError? = nil
    private var timer: RepeatedTask? = nil

    init(maxReplyBytes: Int, timeout: Duration) {
        self.maxReplyBytes = maxReplyBytes
        self.timeout = timeout
    }

    private var timeoutAmount: TimeAmount {
        .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let tick = TimeAmount.nanoseconds(min(1_000_000_000, max(5_000_000, timeoutAmount.nanoseconds / 5)))
        // The timer runs on the channel's event loop, where the handler and its context live.
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { _ in
            let (handler, context) = bound.value
            guard let oldest = handler.waiting.first, oldest.deadline < .now() else { return }
            handler.fail(context, RedisError(.timeout, "Redis did not answer within \(handler.timeout) (RAG_REDIS_TIMEOUT)"))
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let command = unwrapOutboundIn(data)
        if let failure {
            command.reply.fail(failure)
            promise?.fail(failure)
            return
        }
        waiting.append((command.reply, .now() + timeoutAmount))
        context.write(wrapOutboundOut(command.bytes), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if received == nil {
            received = incoming
        } else {
            received!.writeBuffer(&incoming)
        }
        do {
            while let value = try RESP.parse(&received!, maxBulkBytes: maxReplyBytes) {
                guard let reply = waiting.popFirst()?.reply else {
                    fail(context, RedisError(.protocolViolation, "Redis sent a reply to no command"))
                    return
                }
                reply.succeed(value)
            }
            if received!.readableBytes == 0 { received = nil } else { received!.discardReadBytes() }
        } catch {
            fail(context, RedisError(.protocolViolation, error.description))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        failWaiting(failure ?? RedisError(.unavailable, "the connection to Redis closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context, RedisError(.unavailable, "the connection to Redis failed: \(error)"))
    }

    private func fail(_ context: ChannelHandlerContext, _ error: RedisError) {
        if failure == nil { failure = error }
        failWaiting(failure!)
        context.close(promise: nil)
    }

    private func failWaiting(_ error: RedisError) {
        if failure == nil { failure = error }
        while let command = waiting.popFirst() { command.reply.fail(error) }
    }
}

import Dispatch
import NIOCore
import NIOExtras
import NIOHTTP1
import NIOPosix
import StrataCore
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `strata serve`: one channel of a store over HTTP/1.1, plus every release at `/_v/<id>/`.
///
/// Lifecycle: `start()` binds and returns the port; `shutdown()` stops accepting, lets in-flight
/// responses finish (up to the grace period) and closes idle keep-alive connections;
/// `runUntilSignalled()` does both around SIGTERM/SIGINT. The server only reads the store.
public final class StrataHTTPServer: Sendable {
    public let configuration: ServerConfiguration
    private let store: Store
    /// The local store's folders: the server sends files straight from them.
    private let layout: StoreLayout
    private let group: MultiThreadedEventLoopGroup
    private let accessLog: AccessLog?
    /// Released before the event loops stop: its deinit touches an event loop. Nil once stopped.
    private let quiescing: Mutex<ServerQuiescingHelper?>

    public init(store: Store, configuration: ServerConfiguration) throws {
        try Names.validateChannel(configuration.channel)
        for (host, channel) in configuration.channelsByHost {
            try Names.validateChannel(channel)
            guard !host.isEmpty, ChannelRouter.hostName(host) == host else {
                throw ServerError("host '\(host)' for --channel-for-host must be a lowercase host name without a port")
            }
        }
        guard let local = store.local, (try? local.requireExisting()) != nil else {
            throw ServerError("'\(store.location)' is not a Strata store (no strata-store.json); publish something first or pass --root")
        }
        self.store = store
        layout = local.layout
        self.configuration = configuration
        accessLog = try configuration.accessLog.map(AccessLog.init(destination:))
        group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.threads))
        quiescing = Mutex(ServerQuiescingHelper(group: group))
    }

    /// Binds and starts serving; returns the port (useful with port 0).
    @discardableResult
    public func start() throws -> Int {
        let bound: Result<Int, Error> = Result { try bind() }  // its bootstrap is released on return
        switch bound {
        case .success(let port):
            return port
        case .failure(let error):
            // Nothing may still hold the quiescing helper when the event loops stop: its deinit
            // schedules work on one, and NIO complains on stderr about a loop that has shut down.
            quiescing.withLock { $0 = nil }
            try? group.syncShutdownGracefully()
            throw ServerError("cannot listen on \(configuration.host):\(configuration.port): \(Self.reason(error))")
        }
    }

    /// `Address already in use`, not NIO's description of the failed call.
    private static func reason(_ error: Error) -> String {
        guard let failure = error as? IOError else { return "\(error)" }
        return String(cString: strerror(failure.errnoCode))
    }

    private func bind() throws -> Int {
        let registry = ReleaseRegistry(store: store, layout: layout)
        let depth = configuration.fallbackHistoryEntries
        let fallback = try ChannelWatch(store: store, channel: configuration.channel, historyDepth: depth)
        var watches = [configuration.channel: fallback]
        for channel in Set(configuration.channelsByHost.values) where watches[channel] == nil {
            watches[channel] = try ChannelWatch(store: store, channel: channel, historyDepth: depth)
        }
        let router = ChannelRouter(fallback: fallback, byHost: configuration.channelsByHost.mapValues { watches[$0]! })
        let shared = ConnectionContext(
            responder: Responder(configuration: configuration, registry: registry, channels: router),
            hotFiles: HotFiles(maxFileBytes: configuration.hotFileMaxBytes, budget: configuration.hotCacheBytes),
            registry: registry, accessLog: accessLog,
            headerTimeout: .seconds(configuration.headerTimeoutSeconds), idleTimeout: .seconds(configuration.idleTimeoutSeconds))
        var decoderLimits = NIOHTTPDecoderLimitConfiguration()
        decoderLimits.maxHeaderListSize = configuration.maxHeaderBytes
        decoderLimits.maxHeaderFieldSize = configuration.maxHeaderBytes
        decoderLimits.maxHeaderFieldCount = configuration.maxHeaderCount
        let limits = decoderLimits
        let connections = ConnectionCounter(limit: configuration.maxConnections)
        let idle = TimeAmount.seconds(configuration.idleTimeoutSeconds)
        guard let quiescing = self.quiescing.withLock({ $0 }) else { throw ServerError("the server was already stopped") }

        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelInitializer { channel in
                guard connections.admit() else {
                    return channel.close()  // over the cap: refuse at once rather than queue
                }
                channel.closeFuture.whenComplete { _ in connections.leave() }
                return channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(QuiesceGate())
                    try pipeline.addHandler(IdleStateHandler(allTimeout: idle))
                    try pipeline.configureHTTPServerPipeline(
                        withPipeliningAssistance: true, withErrorHandling: false,
                        // Header values are built here from manifests and checked request paths.
                        withOutboundHeaderValidation: false,
                        withEncoderConfiguration: HTTPResponseEncoder.Configuration(), withDecoderLimitConfiguration: limits)
                    try pipeline.addHandler(ProtocolErrorResponder())
                    try pipeline.addHandler(RequestHandler(shared))
                }
            }
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 16)
            .childChannelOption(ChannelOptions.recvAllocator, value: AdaptiveRecvByteBufferAllocator())

        let channel = try bootstrap.bind(host: configuration.host, port: configuration.port).wait()
        return channel.localAddress?.port ?? configuration.port
    }

    /// Stops accepting, finishes in-flight responses (at most the grace period), closes the rest.
    public func shutdown() {
        let done = group.next().makePromise(of: Void.self)
        let started = quiescing.withLock { helper in
            helper?.initiateShutdown(promise: done)
            return helper != nil
        }
        guard started else { return }
        let grace = group.next().scheduleTask(in: .seconds(configuration.shutdownGraceSeconds)) {
            done.succeed()  // stragglers are cut off when the event loops stop
        }
        try? done.futureResult.wait()
        grace.cancel()
        quiescing.withLock { $0 = nil }
        accessLog?.flush()
        try? group.syncShutdownGracefully()
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully and returns.
    public func runUntilSignalled(onListening: (Int) -> Void = { _ in }) throws {
        let stop = DispatchSemaphore(value: 0)
        var sources: [DispatchSourceSignal] = []
        for signalNumber in [SIGTERM, SIGINT] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { stop.signal() }
            source.resume()
            sources.append(source)
        }
        onListening(try start())
        stop.wait()
        shutdown()
        sources.forEach { $0.cancel() }
    }
}

/// Counts open connections against the cap.
final class ConnectionCounter: Sendable {
    private let limit: Int
    private let open = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    func admit() -> Bool {
        if open.wrappingAdd(1, ordering: .relaxed).newValue <= limit { return true }
        open.wrappingSubtract(1, ordering: .relaxed)
        return false
    }

    func leave() {
        open.wrappingSubtract(1, ordering: .relaxed)
    }
}

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
    private let group: MultiThreadedEventLoopGroup
    private let accessLog: AccessLog?
    /// Loads release indexes off the event loops.
    private let pool: NIOThreadPool
    private let registry: ReleaseRegistry
    private let channelGuard: ChannelGuard?
    /// Requests, bytes, latency, cache, connections, flips and live releases, for Prometheus.
    public let metrics: ServerMetrics
    private let connections: ConnectionCounter
    /// The once-a-second tasks feeding `metrics` (per loop, and the server-wide one).
    private let metricsTasks = Mutex<[RepeatedTask]>([])
    /// The `--metrics-listen` socket, when there is one.
    private let metricsChannel = Mutex<Channel?>(nil)
    /// The periodic check for pruned releases.
    private let sweeper = Mutex<RepeatedTask?>(nil)
    /// Each event loop's services, kept to close their descriptors at the end.
    private let loopServices = Mutex<[ObjectIdentifier: NIOLoopBoundBox<LoopServices>]>([:])
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
        self.configuration = configuration
        accessLog = try configuration.accessLog.map { try AccessLog(destination: $0, format: configuration.accessLogFormat) }
        group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.threads))
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        registry = ReleaseRegistry(store: store, layout: local.layout, pool: pool, fetchMissing: configuration.fetchMissingRelease)
        do {
            for channel in configuration.protectedChannels.keys { try Names.validateChannel(channel) }
            channelGuard = configuration.protectedChannels.isEmpty ? nil : try ChannelGuard(files: configuration.protectedChannels, pool: pool)
        } catch {
            try? pool.syncShutdownGracefully()
            try? group.syncShutdownGracefully()
            throw error
        }
        quiescing = Mutex(ServerQuiescingHelper(group: group))
        metrics = ServerMetrics(channels: Set([configuration.channel] + configuration.channelsByHost.values).sorted())
        connections = ConnectionCounter(limit: configuration.maxConnections)
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
            stopBackgroundWork()
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
        Self.raiseDescriptorLimit()
        let servicesByLoop = try makeLoopServices()
        var decoderLimits = NIOHTTPDecoderLimitConfiguration()
        decoderLimits.maxHeaderListSize = configuration.maxHeaderBytes
        decoderLimits.maxHeaderFieldSize = configuration.maxHeaderBytes
        decoderLimits.maxHeaderFieldCount = configuration.maxHeaderCount
        let limits = decoderLimits
        let connections = self.connections
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
                    let services = servicesByLoop[ObjectIdentifier(channel.eventLoop)]!.value
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes, limitConfiguration: limits)))
                    try pipeline.addHandler(ConnectionHandler(services))
                }
            }
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 16)
            .childChannelOption(ChannelOptions.recvAllocator, value: AdaptiveRecvByteBufferAllocator())

        let channel = try bootstrap.bind(host: configuration.host, port: configuration.port).wait()
        if let address = configuration.metricsListen {
            metricsChannel.withLock { $0 = nil }
            let listener = try MetricsListener.bind(address, group: group, metrics: metrics)
            metricsChannel.withLock { $0 = listener }
        }
        return channel.localAddress?.port ?? configuration.port
    }

    /// The port `--metrics-listen` bound (useful with port 0).
    public var metricsPort: Int? {
        metricsChannel.withLock { $0?.localAddress?.port }
    }

    /// Each event loop gets its own responder, channel watches, release view and caches, so its
    /// connections share nothing with another loop's on the way to an answer.
    private func makeLoopServices() throws -> [ObjectIdentifier: NIOLoopBoundBox<LoopServices>] {
        let channels = Set([configuration.channel] + configuration.channelsByHost.values)
        for channel in channels {  // ready before the first request, which then loads nothing
            if let id = try? Channels(store: store).pointer(for: channel).read() { registry.loadNow(id) }
        }
        let loops = Array(group.makeIterator())
        var servicesByLoop: [ObjectIdentifier: NIOLoopBoundBox<LoopServices>] = [:]
        for loop in loops {
            servicesByLoop[ObjectIdentifier(loop)] = NIOLoopBoundBox.makeBoxSendingValue(
                try makeServices(channels: channels, loopCount: loops.count), eventLoop: loop)
        }
        loopServices.withLock { $0 = servicesByLoop }
        startFeedingMetrics(servicesByLoop)
        let registry = self.registry
        let pool = self.pool
        sweeper.withLock { sweeper in
            sweeper = group.next().scheduleRepeatedTask(initialDelay: Self.sweepInterval, delay: Self.sweepInterval) { _ in
                pool.submit { _ in registry.sweep() }
            }
        }
        return servicesByLoop
    }

    /// Each loop hands its counts over once a second, on its own thread; the server-wide task reads
    /// the open connections and each channel's pointer (a flip seen is counted there, once).
    private func startFeedingMetrics(_ servicesByLoop: [ObjectIdentifier: NIOLoopBoundBox<LoopServices>]) {
        let metrics = self.metrics
        var tasks: [RepeatedTask] = []
        for loop in group.makeIterator() {
            guard let box = servicesByLoop[ObjectIdentifier(loop)] else { continue }
            tasks.append(loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
                metrics.absorb(box.value.metrics.take())
            })
        }
        let connections = self.connections
        let pointers = metrics.channels.compactMap { channel in (try? Channels(store: store).pointer(for: channel)).map { (channel, $0) } }
        let observe: @Sendable () -> Void = {
            metrics.observe(openConnections: connections.count)
            for (channel, pointer) in pointers { metrics.observe(channel: channel, release: (try? pointer.read()) ?? nil) }
        }
        observe()
        let pool = self.pool
        tasks.append(group.next().scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            pool.submit { _ in observe() }
        })
        metricsTasks.withLock { $0 = tasks }
    }

    private func makeServices(channels: Set<String>, loopCount: Int) throws -> LoopServices {
        var watches: [String: ChannelWatch] = [:]
        for channel in channels.union(configuration.protectedChannels.keys) {
            watches[channel] = try ChannelWatch(store: store, channel: channel, historyDepth: configuration.fallbackHistoryEntries)
            watches[channel]!.metricsNumber = metrics.channels.firstIndex(of: channel) ?? -1
        }
        let router = ChannelRouter(fallback: watches[configuration.channel]!, byHost: configuration.channelsByHost.mapValues { watches[$0]! })
        let releases = LoopReleases(registry: registry)
        return LoopServices(
            responder: Responder(spa: configuration.spa, trailingSlash: configuration.trailingSlash, releases: releases, channels: router,
                                 channelGuard: channelGuard,
                                 protectedWatches: configuration.protectedChannels.keys.sorted().map { watches[$0]! },
                                 openWatches: channels.subtracting(configuration.protectedChannels.keys).sorted().map { watches[$0]! },
                                 metrics: configuration.metricsListen == nil ? metrics : nil,
                                 upstreamProblem: configuration.upstreamProblem),
            releases: releases, registry: registry,
            bodies: HotBodies(maxFileBytes: configuration.hotFileMaxBytes, budget: configuration.hotCacheBytes / loopCount),
            openFiles: OpenFiles(capacity: configuration.openFilesPerThread),
            accessLog: accessLog, metrics: LoopMetrics(channels: metrics.channels.count),
            headerTimeout: .seconds(configuration.headerTimeoutSeconds), idleTimeout: .seconds(configuration.idleTimeoutSeconds))
    }

    /// Kept descriptors and connections both need descriptors; the soft limit is often 1,024 while
    /// the hard one is far higher. (Go's runtime and nginx's `worker_rlimit_nofile` do the same.)
    private static func raiseDescriptorLimit() {
        var limit = rlimit()
        guard getrlimit(rlimitNoFile, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(rlimitNoFile, &limit)
    }

    #if os(Linux)
    private static let rlimitNoFile = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
    private static let rlimitNoFile = RLIMIT_NOFILE
    #endif

    /// How often loaded releases are checked for having been pruned.
    private static let sweepInterval = TimeAmount.seconds(2)

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
        stopBackgroundWork()
        try? group.syncShutdownGracefully()
    }

    private func stopBackgroundWork() {
        sweeper.withLock { $0?.cancel(); $0 = nil }
        metricsTasks.withLock { tasks in tasks.forEach { $0.cancel() }; tasks = [] }
        if let listener = metricsChannel.withLock({ channel in defer { channel = nil }; return channel }) { try? listener.close().wait() }
        let services = loopServices.withLock { all in defer { all = [:] }; return all }
        for loop in group.makeIterator() {
            guard let box = services[ObjectIdentifier(loop)] else { continue }
            try? loop.submit { box.value.openFiles.closeAll() }.wait()
        }
        try? pool.syncShutdownGracefully()
    }

    /// Opens the access log again by its name (logrotate moved it away). Nil, or why it failed.
    public func reopenLogs() -> String? {
        accessLog?.reopen()
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully and returns. SIGHUP reopens the
    /// access log.
    public func runUntilSignalled(onListening: (Int) -> Void = { _ in }) throws {
        let stop = DispatchSemaphore(value: 0)
        var sources: [DispatchSourceSignal] = []
        signal(SIGHUP, SIG_IGN)
        let hangUp = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        hangUp.setEventHandler { [self] in
            if let problem = reopenLogs() {
                let line = Array("strata serve: kept the old access log: \(problem)\n".utf8)
                _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            }
        }
        hangUp.resume()
        sources.append(hangUp)
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

    var count: Int { open.load(ordering: .relaxed) }
}

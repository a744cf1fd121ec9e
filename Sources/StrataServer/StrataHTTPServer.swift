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
    /// The store's folder capability: files by path, pointers watched with a stat.
    private let folders: any ReleaseFolders
    /// NIO's loops: for connections only with `nioChannels` (or off Linux); else one thread for
    /// the metrics listener and the periodic work.
    private let group: MultiThreadedEventLoopGroup
    /// The loops connections are served on, each with its services: the server's own, or NIO's.
    private let servingLoops: [any EventLoop]
    #if os(Linux)
    private let socketLoops: [SocketLoop]
    #endif
    private let accessLog: AccessLog?
    /// Off the event loops, each kind of work on its own pool so one never waits behind another:
    /// index loads (and the sweep and metrics), password checks, and a serve node's on-demand
    /// fetches (bounded: `fetchWidth` at a time).
    private let pool: NIOThreadPool
    private let passwordPool: NIOThreadPool
    private let fetchPool: NIOThreadPool?
    static let fetchWidth = 4
    private let registry: ReleaseRegistry
    private let releaseNames: ReleaseNames
    /// Purges on flips (`--purge`, `--on-flip`), and what sees the flips for it.
    private let purger: FlipPurger?
    private let flipWatch: FlipWatch?
    private let basicAuthentication: BasicAuthentication?
    /// Requests, bytes, latency, cache, connections, flips and live releases, for Prometheus.
    public let metrics: ServerMetrics
    private let connections: ConnectionCounter
    /// Descriptors each event loop keeps open (fewer than configured under a low descriptor limit).
    private let openFilesPerThread: Int
    /// The once-a-second tasks feeding `metrics` (per loop, and the server-wide one).
    private let metricsTasks = Mutex<[RepeatedTask]>([])
    /// The `--metrics-listen` socket, when there is one.
    private let metricsChannel = Mutex<Channel?>(nil)
    /// The periodic check for pruned releases.
    private let sweeper = Mutex<RepeatedTask?>(nil)
    /// Rereads edited credentials files for `--protect`, on the index pool, never on a loop.
    private let credentialsWatch = Mutex<RepeatedTask?>(nil)
    /// Each event loop's services, kept to close their descriptors at the end.
    private let loopServices = Mutex<[ObjectIdentifier: NIOLoopBoundBox<LoopServices>]>([:])
    /// Released before the event loops stop: its deinit touches an event loop. Nil once stopped.
    /// One per listener (one listener per event loop). Nil once stopped.
    private let quiescing: Mutex<[ServerQuiescingHelper]?>
    /// `start` succeeded: `shutdown` drains connections; before it there are none.
    private let listening = Mutex(false)

    public init(store: Store, configuration: ServerConfiguration) throws {
        try Names.validateChannel(configuration.channel)
        for (host, channel) in configuration.channelsByHost {
            try Names.validateChannel(channel)
            guard !host.isEmpty, HostRouter.hostName(host) == host else {
                throw ServerError("host '\(host)' for --channel-for-host must be a lowercase host name without a port")
            }
        }
        for (option, patterns) in [("--release-host", configuration.releaseHosts), ("--channel-host", configuration.channelHosts)] {
            for pattern in patterns where HostRouter.suffix(ofPattern: pattern) == nil {
                throw ServerError("\(option) '\(pattern)' is not a pattern like '*.preview.example.com' (lowercase, no port)")
            }
        }
        // The server sends files by path and watches pointers with a stat: it needs a store in a
        // folder. An object store is served through a serve node's local cache.
        guard let folders = store.folders else {
            throw ServerError("'\(store.location)' is not a store in a folder; serve an object store through a serve node's --cache")
        }
        guard (try? store.backend.requireExisting()) != nil else {
            throw ServerError("'\(store.location)' is not a Strata store (no strata-store.json); publish something first or pass --root")
        }
        self.store = store
        self.folders = folders
        self.configuration = configuration
        accessLog = try configuration.accessLog.map { try AccessLog(destination: $0, format: configuration.accessLogFormat) }
        #if os(Linux)
        let ownLoops = !configuration.nioChannels
        #else
        let ownLoops = false
        #endif
        group = MultiThreadedEventLoopGroup(numberOfThreads: ownLoops ? 1 : max(1, configuration.threads))
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        passwordPool = NIOThreadPool(numberOfThreads: 1)
        passwordPool.start()
        fetchPool = configuration.fetchMissingRelease == nil ? nil : NIOThreadPool(numberOfThreads: Self.fetchWidth)
        fetchPool?.start()
        registry = ReleaseRegistry(store: store, layout: folders.layout, pool: pool, events: configuration.events,
                                   fetchMissing: configuration.fetchMissingRelease, fetchPool: fetchPool, trust: configuration.trust)
        releaseNames = ReleaseNames(store: configuration.releaseNamesStore ?? store, pool: fetchPool ?? pool, events: configuration.events)
        do {
            for channel in configuration.protectedChannels.keys { try Names.validateChannel(channel) }
            basicAuthentication = configuration.protectedChannels.isEmpty ? nil : try BasicAuthentication(files: configuration.protectedChannels, pool: passwordPool)
        } catch {
            try? pool.syncShutdownGracefully()
            try? passwordPool.syncShutdownGracefully()
            try? fetchPool?.syncShutdownGracefully()
            try? group.syncShutdownGracefully()
            throw error
        }
        let loops = group  // not self.group: self is not whole yet
        quiescing = Mutex(Array(loops.makeIterator()).map { _ in ServerQuiescingHelper(group: loops) })
        let previews = configuration.releaseHosts.isEmpty && configuration.channelHosts.isEmpty ? [] : [Self.previewsChannel]
        metrics = ServerMetrics(channels: Set([configuration.channel] + configuration.channelsByHost.values).sorted() + previews)
        let budget = DescriptorBudget(limit: Self.raiseDescriptorLimit(), maxConnections: configuration.maxConnections,
                                      openFilesPerThread: configuration.openFilesPerThread, threads: configuration.threads)
        if budget.isReduced {
            configuration.events.say(.warn, "descriptor_limit",
                "the descriptor limit allows \(budget.connections) connections (not \(configuration.maxConnections)) and "
                + "\(budget.openFilesPerThread) files kept open per thread; raise LimitNOFILE or ulimit -n for more",
                [("connections", String(budget.connections)), ("open_files_per_thread", String(budget.openFilesPerThread))])
        }
        openFilesPerThread = budget.openFilesPerThread
        let connections = ConnectionCounter(limit: budget.connections)
        self.connections = connections
        #if os(Linux)
        socketLoops = ownLoops ? try (0..<max(1, configuration.threads)).map { number in
            let loop = try SocketLoop(connections: connections, events: configuration.events)
            loop.start(name: "strata-serve-\(number)")
            return loop
        } : []
        servingLoops = ownLoops ? socketLoops : Array(group.makeIterator())
        #else
        servingLoops = Array(group.makeIterator())
        #endif
        if configuration.purgeTargets.isEmpty {
            purger = nil
            flipWatch = nil
        } else {
            let purger = FlipPurger(targets: configuration.purgeTargets, metrics: metrics, events: configuration.events,
                                    retryDelays: configuration.purgeRetryDelays, claim: configuration.purgeClaim)
            self.purger = purger
            flipWatch = FlipWatch(store: store, channels: Set([configuration.channel] + configuration.channelsByHost.values).sorted(),
                                  everyChannel: !configuration.channelHosts.isEmpty) { purger.flipped($0) }
        }
    }

    /// The `channel` label of requests for release hosts and for channels reached through
    /// `--channel-host` that the server does not serve otherwise (one label, not one per name: names
    /// come from clients). No channel can have this name.
    static let previewsChannel = "_previews"

    /// Binds and starts serving; returns the port (useful with port 0).
    @discardableResult
    public func start() throws -> Int {
        let bound: Result<Int, Error> = Result { try bind() }  // its bootstrap is released on return
        switch bound {
        case .success(let port):
            listening.withLock { $0 = true }
            flipWatch?.start()
            return port
        case .failure(let error):
            // Nothing may still hold the quiescing helper when the event loops stop: its deinit
            // schedules work on one, and NIO complains on stderr about a loop that has shut down.
            quiescing.withLock { $0 = nil }
            stopBackgroundWork()
            stopLoops()
            throw ServerError("cannot listen on \(configuration.host):\(configuration.port): \(Self.reason(error))")
        }
    }

    /// `Address already in use`, not NIO's description of the failed call.
    private static func reason(_ error: Error) -> String {
        guard let failure = error as? IOError else { return "\(error)" }
        return String(cString: strerror(failure.errnoCode))
    }

    private func bind() throws -> Int {
        // Before anything is scheduled: the loops of a stopped server run nothing, and waiting on
        // them would wait forever.
        guard let helpers = self.quiescing.withLock({ $0 }) else { throw ServerError("the server was already stopped") }
        let servicesByLoop = try makeLoopServices()
        let connections = self.connections

        // One listener per event loop, all on the port (SO_REUSEPORT): the kernel spreads new
        // connections over them, and each loop accepts its own, with no hand-over to another
        // thread. Measured against one listener handing connections round: +20% requests/s
        // kept alive and +10% with a connection per request (docs/benchmarks.md).
        func bootstrap(_ loop: EventLoop, quiescing: ServerQuiescingHelper) -> ServerBootstrap {
            ServerBootstrap(group: loop, childGroup: loop)
                .serverChannelOption(ChannelOptions.socketOption(NIOBSDSocket.Option(rawValue: CInt(SO_REUSEPORT))), value: 1)
                .serverChannelOption(ChannelOptions.backlog, value: 1024)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .serverChannelInitializer { [events = configuration.events] channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers(AcceptGuard(events: events),
                                                                        quiescing.makeServerChannelHandler(channel: channel))
                    }
                }
                .childChannelInitializer { [events = configuration.events] channel in
                    guard connections.admit() else {
                        events.sayAtMostEverySecond(.warn, "connections_full", "at the connection limit (\(connections.limit)): "
                                                    + "closing new connections until others close", [("limit", String(connections.limit))])
                        return channel.close()  // over the cap: refuse at once rather than queue
                    }
                    channel.closeFuture.whenComplete { _ in connections.leave() }
                    return channel.eventLoop.makeCompletedFuture {
                        let services = servicesByLoop[ObjectIdentifier(channel.eventLoop)]!.value
                        try channel.pipeline.syncOperations.addHandler(ConnectionHandler(services))
                    }
                }
                .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
                // A client may shut its write side once it has sent its requests; it still gets the answers.
                .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 16)
                .childChannelOption(ChannelOptions.recvAllocator, value: AdaptiveRecvByteBufferAllocator())
        }
        // A plain bind first, closed at once: with SO_REUSEPORT alone our listeners would join
        // another server's on the same port without a word. This one fails as a busy port should
        // (and with port 0 it picks the port the listeners then share).
        let probe = try ServerBootstrap(group: group).serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .bind(host: configuration.host, port: configuration.port).wait()
        var port = probe.localAddress?.port ?? configuration.port
        try probe.close().wait()
        #if os(Linux)
        if !socketLoops.isEmpty {
            let address = try SocketAddress.makeAddressResolvingHost(configuration.host, port: port)
            for loop in socketLoops {
                let box = servicesByLoop[ObjectIdentifier(loop)]!
                port = try loop.submit {
                    loop.services = box.value
                    return try loop.listen(on: address)
                }.wait()
            }
            return try bindMetrics(port: port)
        }
        #endif
        for (loop, helper) in zip(group.makeIterator(), helpers) {
            let channel = try bootstrap(loop, quiescing: helper).bind(host: configuration.host, port: port).wait()
            port = channel.localAddress?.port ?? port
        }
        return try bindMetrics(port: port)
    }

    private func bindMetrics(port: Int) throws -> Int {
        if let address = configuration.metricsListen {
            metricsChannel.withLock { $0 = nil }
            let listener = try MetricsListener.bind(address, group: group, metrics: metrics)
            metricsChannel.withLock { $0 = listener }
        }
        return port
    }

    /// The port `--metrics-listen` bound (useful with port 0).
    public var metricsPort: Int? {
        metricsChannel.withLock { $0?.localAddress?.port }
    }

    /// Each event loop gets its own responder, channel watches, release view and caches, so its
    /// connections share nothing with another loop's on the way to an answer.
    private func makeLoopServices() throws -> [ObjectIdentifier: NIOLoopBoundBox<LoopServices>] {
        let channels = preloadServedReleases()
        let loops = servingLoops
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
        if let basicAuthentication {
            credentialsWatch.withLock { watch in
                watch = group.next().scheduleRepeatedTask(initialDelay: BasicAuthentication.rereadAfter, delay: BasicAuthentication.rereadAfter) { _ in
                    pool.submit { _ in basicAuthentication.rereadChangedFiles() }
                }
            }
        }
        return servicesByLoop
    }

    /// Each loop hands its counts over once a second, on its own thread; the server-wide task reads
    /// the open connections and each channel's pointer (a flip seen is counted there, once).
    private func startFeedingMetrics(_ servicesByLoop: [ObjectIdentifier: NIOLoopBoundBox<LoopServices>]) {
        let metrics = self.metrics
        var tasks: [RepeatedTask] = []
        for loop in servingLoops {
            guard let box = servicesByLoop[ObjectIdentifier(loop)] else { continue }
            tasks.append(loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
                metrics.absorb(box.value.metrics.take())
            })
        }
        let connections = self.connections
        let pointers = metrics.channels.compactMap { channel in (try? Channels(store: store).pointer(for: channel)).map { (channel, $0) } }
        let events = configuration.events
        let observe: @Sendable () -> Void = {
            metrics.observe(openConnections: connections.count)
            for (channel, pointer) in pointers {
                let value: PointerValue?
                do { value = try pointer.readValue() } catch { continue }  // unreadable: said by the requests that meet it
                if metrics.observe(channel: channel, canary: value?.canary) {
                    let said = value?.canary.map { "channel '\(channel)' now serves release \($0.release) to \($0.percent)% of visitors" }
                        ?? "channel '\(channel)' ended its canary"
                    events.say(.notice, "canary", said, [("channel", channel), ("release", value?.canary?.release),
                                                         ("percent", value?.canary.map { String($0.percent) })])
                }
                guard let flip = metrics.observe(channel: channel, release: value?.id) else { continue }
                events.say(.notice, "flip", "channel '\(channel)' now serves release \(flip.to ?? "none") (was \(flip.from))",
                           [("channel", channel), ("release", flip.to), ("previous", flip.from)])
            }
        }
        observe()
        let pool = self.pool
        tasks.append(group.next().scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            pool.submit { _ in observe() }
        })
        metricsTasks.withLock { $0 = tasks }
    }

    /// One loop's services as `start` makes them, its channels' releases loaded: for driving a
    /// `ConnectionHandler` without a socket (on an `EmbeddedChannel`, whose clock a test moves).
    func servicesForOneLoop() throws -> LoopServices {
        try makeServices(channels: preloadServedReleases(), loopCount: 1)
    }

    /// Loads what the served channels point at, so the first request loads nothing (the listening
    /// line says which release is live); returns the served channels.
    private func preloadServedReleases() -> Set<String> {
        let channels = Set([configuration.channel] + configuration.channelsByHost.values)
        for channel in channels {
            for id in (try? Channels(store: store).pointer(for: channel).readValue())??.releases ?? [] { registry.loadNow(id, announce: false) }
        }
        return channels
    }

    private func makeServices(channels: Set<String>, loopCount: Int) throws -> LoopServices {
        var watches: [String: ChannelWatch] = [:]
        for channel in channels.union(configuration.protectedChannels.keys) {
            watches[channel] = try ChannelWatch(store: store, folders: folders, channel: channel, historyDepth: configuration.fallbackHistoryEntries,
                                                events: configuration.events)
            watches[channel]!.metricsNumber = metrics.channels.firstIndex(of: channel) ?? -1
            // Read now, so a loop's first request needs no descriptor (a flood may have taken them all).
            _ = watches[channel]!.live()
            _ = watches[channel]!.recentReleases()
        }
        let previewsNumber = metrics.channels.firstIndex(of: Self.previewsChannel) ?? 0
        let router = HostRouter(
            fallback: watches[configuration.channel]!, byHost: configuration.channelsByHost.mapValues { watches[$0]! },
            releaseSuffixes: configuration.releaseHosts.compactMap(HostRouter.suffix(ofPattern:)),
            channelSuffixes: configuration.channelHosts.compactMap(HostRouter.suffix(ofPattern:))
        ) { [store, folders, configuration, metrics] name in
            if let watch = watches[name] { return watch }
            guard let watch = try? ChannelWatch(store: store, folders: folders, channel: name, historyDepth: configuration.fallbackHistoryEntries,
                                                events: configuration.events) else { return nil }
            watch.metricsNumber = metrics.channels.firstIndex(of: name) ?? previewsNumber
            return watch
        }
        let releases = LoopReleases(registry: registry)
        var purgeProblem: (@Sendable () -> String?)?
        if let purger { purgeProblem = { purger.problem() } }
        let loopMetrics = LoopMetrics(channels: metrics.channels.count)
        return LoopServices(
            responder: Responder(spa: configuration.spa, trailingSlash: configuration.trailingSlash, releases: releases, channels: router,
                                 releaseNames: releaseNames, previewsMetricsNumber: previewsNumber,
                                 sharedCacheSeconds: configuration.sharedCacheSeconds,
                                 basicAuthentication: basicAuthentication,
                                 protectedWatches: configuration.protectedChannels.keys.sorted().map { watches[$0]! },
                                 openWatches: channels.subtracting(configuration.protectedChannels.keys).sorted().map { watches[$0]! },
                                 metrics: configuration.metricsListen == nil ? metrics : nil,
                                 upstreamProblem: configuration.upstreamProblem, purgeProblem: purgeProblem,
                                 beacons: BeaconCounter(metrics: loopMetrics)),
            releases: releases, registry: registry, releaseNames: releaseNames,
            bodies: HotBodies(maxFileBytes: configuration.hotFileMaxBytes, budget: configuration.hotCacheBytes / loopCount),
            openFiles: OpenFiles(capacity: openFilesPerThread),
            accessLog: accessLog, metrics: loopMetrics,
            headerTimeout: .seconds(configuration.headerTimeoutSeconds), idleTimeout: .seconds(configuration.idleTimeoutSeconds),
            maxHeadBytes: configuration.maxHeaderBytes, maxHeaderCount: configuration.maxHeaderCount, events: configuration.events)
    }

    /// Kept descriptors and connections both need descriptors; the soft limit is often 1,024 while
    /// the hard one is far higher. (Go's runtime and nginx's `worker_rlimit_nofile` do the same.)
    /// Returns the limit now in force.
    private static func raiseDescriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(rlimitNoFile, &limit) == 0 else { return Int.max }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            if setrlimit(rlimitNoFile, &limit) != 0 { _ = getrlimit(rlimitNoFile, &limit) }  // kept as it was
        }
        return limit.rlim_cur > rlim_t(Int.max) ? Int.max : Int(limit.rlim_cur)
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
        guard listening.withLock({ $0 }) else {  // never started: nothing to drain
            quiescing.withLock { $0 = nil }
            stopBackgroundWork()
            stopLoops()
            return
        }
        let done = group.next().makePromise(of: Void.self)
        let started = quiescing.withLock { helpers in
            var drained: [EventLoopFuture<Void>]
            #if os(Linux)
            drained = socketLoops.map { $0.quiesce() }
            #else
            drained = []
            #endif
            if drained.isEmpty {
                drained = (helpers ?? []).map { helper in
                    let promise = group.next().makePromise(of: Void.self)
                    helper.initiateShutdown(promise: promise)
                    return promise.futureResult
                }
            }
            EventLoopFuture.andAllComplete(drained, on: group.next()).cascade(to: done)
            return helpers != nil
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
        stopLoops()
    }

    /// Stops the event loops: connections still open are cut off.
    private func stopLoops() {
        #if os(Linux)
        for loop in socketLoops { try? loop.syncShutdownGracefully() }
        #endif
        try? group.syncShutdownGracefully()
    }

    private func stopBackgroundWork() {
        flipWatch?.stop()
        purger?.stop()
        sweeper.withLock { $0?.cancel(); $0 = nil }
        credentialsWatch.withLock { $0?.cancel(); $0 = nil }
        metricsTasks.withLock { tasks in tasks.forEach { $0.cancel() }; tasks = [] }
        if let listener = metricsChannel.withLock({ channel in defer { channel = nil }; return channel }) { try? listener.close().wait() }
        let services = loopServices.withLock { all in defer { all = [:] }; return all }
        for loop in servingLoops {
            guard let box = services[ObjectIdentifier(loop)] else { continue }
            try? loop.submit { box.value.openFiles.closeAll() }.wait()
        }
        try? fetchPool?.syncShutdownGracefully()
        try? passwordPool.syncShutdownGracefully()
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
        let events = configuration.events
        hangUp.setEventHandler { [self] in
            guard let destination = configuration.accessLog, destination != "-" else { return }
            if let problem = reopenLogs() {
                events.say(.error, "log_reopen_failed", "kept writing the old access log: \(problem)")
            } else {
                events.say(.notice, "log_reopened", "reopened the access log \(destination)", [("file", destination)])
            }
        }
        hangUp.resume()
        sources.append(hangUp)
        for signalNumber in [SIGTERM, SIGINT] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            let name = signalNumber == SIGTERM ? "SIGTERM" : "SIGINT"
            source.setEventHandler { [connections] in
                events.say(.notice, "stopping", "\(name): stopped accepting; finishing \(connections.count) open connections "
                           + "(at most \(self.configuration.shutdownGraceSeconds) s)", [("signal", name), ("connections", String(connections.count))])
                stop.signal()
            }
            source.resume()
            sources.append(source)
        }
        onListening(try start())
        stop.wait()
        shutdown()
        sources.forEach { $0.cancel() }
        events.say(.notice, "stopped", "stopped")
    }
}

/// Counts open connections against the cap.
final class ConnectionCounter: Sendable {
    let limit: Int
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

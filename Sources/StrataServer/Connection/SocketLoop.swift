#if os(Linux)
import CLinux
import Dispatch
import Foundation
import Glibc
import NIOCore
import StrataCore
import Synchronization

/// The server's own event loop: one thread, one epoll set, a listener of its own on the port
/// (`SO_REUSEPORT`, so the kernel spreads new connections over the loops) and the connections it
/// accepted. A request costs the `read` and the `write` (or `writev`) nginx makes and little else:
/// no channel pipeline, no promise per write, no buffer allocated per read (measured against
/// NIO's channels in docs/benchmarks.md).
///
/// It is a NIO `EventLoop` too, so everything else keeps working on it unchanged: futures and
/// promises (a release loaded off the loop completes here), scheduled tasks (the once-a-second
/// metrics), `NIOLoopBound` values. Everything but `execute` and the scheduling calls runs on the
/// loop's thread only.
final class SocketLoop: EventLoop, @unchecked Sendable {
    /// The services of this loop's connections; set once, before `start`.
    var services: LoopServices!
    let connections: ConnectionCounter
    private let events: EventLog

    private let epoll: CInt
    /// Written to wake the loop when a task arrives from another thread.
    private let wake: CInt
    private var listener: CInt = -1
    /// A descriptor held back for when `accept` finds none (EMFILE): given up, it lets one
    /// pending connection be accepted and shed, so the listener does not spin (as libuv and nginx do).
    private var spare: CInt = -1
    private let thread = Atomic<UInt>(0)
    private let stopping = Atomic<Bool>(false)
    private let tasks = Mutex<[@Sendable () -> Void]>([])
    private var timers = Timers()
    private let nextTimerID = Atomic<UInt64>(1)
    /// Connections by descriptor.
    private var sockets: [SocketConnection?] = []
    private var openSockets = 0
    private var generation: UInt32 = 0
    /// Graceful shutdown: completed once the last connection has closed.
    private var drained: EventLoopPromise<Void>?
    /// Whether the thread has ended, and who waits for it to: asking again after it ended is
    /// answered at once.
    private let ending = Mutex<(ended: Bool, callbacks: [(DispatchQueue, @Sendable (Error?) -> Void)])>((false, []))
    /// Every read lands here; the reader takes it without a copy and lets go once it is used.
    var inbound = ByteBuffer()
    static let inboundCapacity = 64 * 1024
    /// How often connections' deadlines are looked at.
    private static let deadlineSweep = TimeAmount.milliseconds(250)
    private var nextSweep = NIODeadline.now()

    private static let listenerTag = UInt64.max
    private static let wakeTag = UInt64.max - 1

    init(connections: ConnectionCounter, events: EventLog) throws {
        self.connections = connections
        self.events = events
        signal(SIGPIPE, SIG_IGN)  // a write to a socket the client reset fails with EPIPE instead
        epoll = epoll_create1(CInt(EPOLL_CLOEXEC))
        wake = eventfd(0, CInt(EFD_NONBLOCK | EFD_CLOEXEC))
        guard epoll >= 0, wake >= 0 else {
            let reason = String(cString: strerror(errno))
            if epoll >= 0 { Glibc.close(epoll) }
            throw ServerError("cannot make an event loop: \(reason)")
        }
        try Self.watch(wake, tag: Self.wakeTag, events: EPOLLIN.rawValue, in: epoll)
        inbound.reserveCapacity(Self.inboundCapacity)
    }

    deinit {
        Glibc.close(epoll)
        Glibc.close(wake)
    }

    // MARK: - Listening

    /// Opens this loop's listener on the address (before `start`). Returns the port bound.
    func listen(on address: SocketAddress) throws -> Int {
        let socket = Glibc.socket(CInt(address.protocol.rawValue), CInt(SOCK_STREAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        var one: CInt = 1
        setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<CInt>.size))
        setsockopt(socket, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<CInt>.size))
        let bound = address.withSockAddr { Glibc.bind(socket, $0, socklen_t($1)) }
        guard bound == 0, Glibc.listen(socket, 1024) == 0 else {
            let failure = errno
            Glibc.close(socket)
            throw IOError(errnoCode: failure, reason: "bind")
        }
        listener = socket
        spare = Self.takeSpare()
        try Self.watch(socket, tag: Self.listenerTag, events: EPOLLIN.rawValue, in: epoll)
        return Self.port(of: socket)
    }

    private static func port(of socket: CInt) -> Int {
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }
        return SocketAddress(accepted: address)?.port ?? 0
    }

    private static func takeSpare() -> CInt {
        open("/dev/null", O_RDONLY | O_CLOEXEC)
    }

    private static func watch(_ descriptor: CInt, tag: UInt64, events: UInt32, in epoll: CInt) throws {
        var event = epoll_event(events: events, data: epoll_data_t(u64: tag))
        guard epoll_ctl(epoll, EPOLL_CTL_ADD, descriptor, &event) == 0 else {
            throw ServerError("cannot watch a socket: \(String(cString: strerror(errno)))")
        }
    }

    private func stopListening() {
        guard listener >= 0 else { return }
        Glibc.close(listener)  // leaves the epoll set with it
        listener = -1
        if spare >= 0 { Glibc.close(spare) }
        spare = -1
    }

    // MARK: - The thread

    func start(name: String) {
        let started = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            self.thread.store(UInt(pthread_self()), ordering: .releasing)
            started.signal()
            run()
        }
        thread.name = name
        thread.start()
        started.wait()
    }

    private func run() {
        let capacity = 256
        let ready = UnsafeMutablePointer<epoll_event>.allocate(capacity: capacity)
        defer { ready.deallocate() }
        while !stopping.load(ordering: .relaxed) {
            let count = epoll_wait(epoll, ready, CInt(capacity), waitMilliseconds())
            if count < 0 && errno != EINTR { break }
            for index in 0..<max(0, Int(count)) {
                let event = ready[index]
                switch event.data.u64 {
                case Self.listenerTag: acceptAll()
                case Self.wakeTag: emptyWake()
                default: socketEvent(event)
                }
            }
            runTasks()
            runDueTimers()
            // A loaded loop never sleeps in epoll_wait, so the scheduler would let it keep its core
            // for whole slices while the processes it shares the cores with (a proxy, a load
            // generator) wait. Giving up the rest of the slice after each batch lets them run;
            // their next requests then come in one bigger batch. With nothing else runnable, this
            // returns at once. Measured in docs/benchmarks.md ("A loop yields after each batch").
            sched_yield()
        }
        stopped()
    }

    /// Until the next timer, or the next deadline sweep while connections are open.
    private func waitMilliseconds() -> CInt {
        var next = timers.nextDeadline
        if openSockets > 0 { next = min(next ?? nextSweep, nextSweep) }
        guard let next else { return -1 }
        let nanoseconds = (next - .now()).nanoseconds
        return nanoseconds <= 0 ? 0 : CInt(clamping: (nanoseconds + 999_999) / 1_000_000)
    }

    private func emptyWake() {
        var count: UInt64 = 0
        _ = read(wake, &count, 8)
    }

    private func runTasks() {
        let due = tasks.withLock { tasks -> [@Sendable () -> Void] in
            defer { tasks.removeAll() }
            return tasks
        }
        for task in due { task() }
    }

    private func runDueTimers() {
        let now = NIODeadline.now()
        while let timer = timers.popDue(now: now) { timer() }
        if openSockets > 0 && now >= nextSweep {
            nextSweep = now + Self.deadlineSweep
            sweepDeadlines(now: now)
        }
    }

    /// Closes the connections whose deadline passed (one look every quarter second, rather than
    /// a timer per connection).
    private func sweepDeadlines(now: NIODeadline) {
        for socket in sockets {
            guard let socket, let connection = socket.connection else { continue }
            if case .close = connection.checkDeadline(now: now) { socket.close() }
        }
    }

    /// The loop ends: every connection closes, and whoever asked for the shutdown hears of it.
    private func stopped() {
        stopListening()
        for socket in sockets { socket?.close() }
        runTasks()
        let callbacks = ending.withLock { ending in
            ending.ended = true
            defer { ending.callbacks = [] }
            return ending.callbacks
        }
        for (queue, callback) in callbacks { queue.async { callback(nil) } }
    }

    // MARK: - Connections

    private func acceptAll() {
        while listener >= 0 {
            var address = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let descriptor = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    accept4(listener, $0, &length, CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue))
                }
            }
            guard descriptor >= 0 else {
                switch errno {
                case EINTR, ECONNABORTED: continue
                case EMFILE, ENFILE: shedOneConnection(errno); return
                default: return  // EAGAIN: none left
                }
            }
            guard connections.admit() else {
                events.sayAtMostEverySecond(.warn, "connections_full", "at the connection limit (\(connections.limit)): "
                                            + "closing new connections until others close", [("limit", String(connections.limit))])
                Glibc.close(descriptor)  // over the cap: refuse at once rather than queue
                continue
            }
            var one: CInt = 1
            setsockopt(descriptor, CInt(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<CInt>.size))
            adopt(descriptor, address: address)
        }
    }

    private func adopt(_ descriptor: CInt, address: sockaddr_storage) {
        generation &+= 1
        let socket = SocketConnection(descriptor, generation: generation, address: address, loop: self)
        let tag = UInt64(UInt32(descriptor)) | UInt64(generation) << 32
        var event = epoll_event(events: SocketConnection.readInterest, data: epoll_data_t(u64: tag))
        guard epoll_ctl(epoll, EPOLL_CTL_ADD, descriptor, &event) == 0 else {
            Glibc.close(descriptor)
            connections.leave()
            return
        }
        let index = Int(descriptor)
        if index >= sockets.count { sockets.append(contentsOf: repeatElement(nil, count: index + 1 - sockets.count)) }
        sockets[index] = socket
        openSockets += 1
        socket.connection = Connection(services, io: socket, now: .now())
        if drained != nil { socket.connection?.quiesce() }
    }

    /// `accept` found no descriptor: the spare is given up for one, and that connection is shed.
    private func shedOneConnection(_ failure: CInt) {
        events.sayAtMostEverySecond(.warn, "descriptors_exhausted",
            "cannot accept connections: \(String(cString: strerror(failure))); closing new connections "
                + "until descriptors free up (open connections keep being served)", [("errno", String(failure))])
        if spare >= 0 {
            Glibc.close(spare)
            let shed = accept4(listener, nil, nil, CInt(SOCK_CLOEXEC.rawValue))
            if shed >= 0 { Glibc.close(shed) }
            spare = Self.takeSpare()
        } else {
            // No spare to give: stop listening for a moment rather than spin.
            epoll_ctl(epoll, EPOLL_CTL_DEL, listener, nil)
            _ = scheduleTask(in: .milliseconds(100)) { [self] in
                if listener >= 0 { try? Self.watch(listener, tag: Self.listenerTag, events: EPOLLIN.rawValue, in: epoll) }
                if spare < 0 { spare = Self.takeSpare() }
            }
        }
    }

    private func socketEvent(_ event: epoll_event) {
        let index = Int(UInt32(truncatingIfNeeded: event.data.u64))
        guard index < sockets.count, let socket = sockets[index],
              socket.generation == UInt32(truncatingIfNeeded: event.data.u64 >> 32) else { return }
        socket.ready(event.events)
    }

    /// What the connection wants to hear of changed.
    func change(_ socket: SocketConnection, to interest: UInt32) {
        let tag = UInt64(UInt32(socket.descriptor)) | UInt64(socket.generation) << 32
        var event = epoll_event(events: interest, data: epoll_data_t(u64: tag))
        epoll_ctl(epoll, EPOLL_CTL_MOD, socket.descriptor, &event)
    }

    /// The connection closed its descriptor (which left the epoll set with it).
    func forget(_ socket: SocketConnection) {
        let index = Int(socket.descriptor)
        guard index < sockets.count, sockets[index] === socket else { return }
        sockets[index] = nil
        openSockets -= 1
        connections.leave()
        if openSockets == 0, let drained {
            self.drained = nil
            drained.succeed()
        }
    }

    // MARK: - Graceful shutdown

    /// Stops accepting; idle connections close, busy ones after their current answer. The future
    /// completes once none is left.
    func quiesce() -> EventLoopFuture<Void> {
        let promise = makePromise(of: Void.self)
        execute { [self] in
            stopListening()
            guard openSockets > 0 else { return promise.succeed() }
            drained = promise
            for socket in sockets { socket?.connection?.quiesce() }
        }
        return promise.futureResult
    }

    // MARK: - EventLoop

    var inEventLoop: Bool {
        pthread_equal(pthread_self(), pthread_t(thread.load(ordering: .acquiring))) != 0
    }

    func execute(_ task: @escaping @Sendable () -> Void) {
        tasks.withLock { $0.append(task) }
        var one: UInt64 = 1
        _ = write(wake, &one, 8)
    }

    func scheduleTask<T>(deadline: NIODeadline, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        let promise = makePromise(of: T.self)
        let id = nextTimerID.wrappingAdd(1, ordering: .relaxed).oldValue
        let fire: @Sendable () -> Void = {
            // Runs on the loop, where the promise may take a value that is not Sendable.
            do { promise.assumeIsolatedUnsafeUnchecked().succeed(try task()) } catch { promise.fail(error) }
        }
        onLoop { [self] in timers.add(id: id, deadline: deadline, fire) }
        return Scheduled(promise: promise) { [self] in
            onLoop { [self] in
                if timers.remove(id: id) { promise.fail(EventLoopError.cancelled) }
            }
        }
    }

    func scheduleTask<T>(in delay: TimeAmount, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        scheduleTask(deadline: .now() + delay, task)
    }

    private func onLoop(_ task: @escaping @Sendable () -> Void) {
        if inEventLoop { task() } else { execute(task) }
    }

    func shutdownGracefully(queue: DispatchQueue, _ callback: @escaping @Sendable (Error?) -> Void) {
        let ended = ending.withLock { ending in
            if !ending.ended { ending.callbacks.append((queue, callback)) }
            return ending.ended
        }
        guard !ended else { return queue.async { callback(nil) } }
        stopping.store(true, ordering: .relaxed)
        var one: UInt64 = 1
        _ = write(wake, &one, 8)
    }
}

/// A loop's few timers (the metrics hand-over, a paused listener): kept in deadline order.
private struct Timers {
    private var pending: [(deadline: NIODeadline, id: UInt64, fire: @Sendable () -> Void)] = []

    var nextDeadline: NIODeadline? { pending.first?.deadline }

    mutating func add(id: UInt64, deadline: NIODeadline, _ fire: @escaping @Sendable () -> Void) {
        let at = pending.firstIndex { $0.deadline > deadline } ?? pending.endIndex
        pending.insert((deadline, id, fire), at: at)
    }

    /// False when it had already fired (or been removed).
    mutating func remove(id: UInt64) -> Bool {
        guard let at = pending.firstIndex(where: { $0.id == id }) else { return false }
        pending.remove(at: at)
        return true
    }

    mutating func popDue(now: NIODeadline) -> (@Sendable () -> Void)? {
        guard let first = pending.first, first.deadline <= now else { return nil }
        pending.removeFirst()
        return first.fire
    }
}
extension SocketAddress {
    /// An IPv4 or IPv6 address as `accept` or `getsockname` filled it in; nil for another family.
    init?(accepted storage: sockaddr_storage) {
        var storage = storage
        switch Int32(storage.ss_family) {
        case AF_INET: self.init(withUnsafeBytes(of: &storage) { $0.loadUnaligned(as: sockaddr_in.self) })
        case AF_INET6: self.init(withUnsafeBytes(of: &storage) { $0.loadUnaligned(as: sockaddr_in6.self) })
        default: return nil
        }
    }
}
#endif

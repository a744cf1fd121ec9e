#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// A `Connection` over a NIO channel: what the tests drive on an `EmbeddedChannel` (whose clock
/// they move), and how the server serves where it has no `SocketLoop`. Only I/O and the
/// deadline's timer live here; every rule of the connection is `Connection`'s.
final class ConnectionHandler: ChannelDuplexHandler, ConnectionIO {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private let services: LoopServices
    /// Set while the handler is in a pipeline; let go of at removal (it keeps this handler too).
    private var connection: Connection<ConnectionHandler>?
    private var context: ChannelHandlerContext?
    private var deadlineCheck: Scheduled<Void>?

    init(_ services: LoopServices) {
        self.services = services
    }

    // MARK: - Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // The loop's clock, not the wall's: under test it is a clock the test moves.
        connection = Connection(services, io: self, now: context.eventLoop.now)
        scheduleDeadlineCheck(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadlineCheck?.cancel()
        deadlineCheck = nil
        connection = nil
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadlineCheck?.cancel()
        deadlineCheck = nil
        connection?.closed()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed? = event as? ChannelEvent {
            connection?.inputEnded()
        } else if event is ChannelShouldQuiesceEvent {
            connection?.quiesce()
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        connection?.failed()
    }

    // MARK: - Reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        connection?.received(&bytes)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        connection?.readComplete()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if connection?.mayRead() ?? true { context.read() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        connection?.writabilityChanged()
        context.fireChannelWritabilityChanged()
    }

    // MARK: - ConnectionIO

    var eventLoop: any EventLoop { context!.eventLoop }
    var isWritable: Bool { context?.channel.isWritable ?? false }
    var clientAddress: String { context?.remoteAddress?.ipAddress ?? "-" }

    func write(_ bytes: ByteBuffer) {
        context?.write(wrapOutboundOut(.byteBuffer(bytes)), promise: nil)
    }

    func writeFile(_ handle: NIOFileHandle, from start: Int, to end: Int, done: @escaping (Bool) -> Void) {
        guard let context else { return done(false) }
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.assumeIsolated().whenComplete { result in
            if case .success = result { done(true) } else { done(false) }
        }
        context.write(wrapOutboundOut(.fileRegion(FileRegion(fileHandle: handle, readerIndex: start, endIndex: end))), promise: written)
    }

    func flush() {
        context?.flush()
    }

    func resumeReading() {
        context?.read()
    }

    #if os(Linux)
    private static let corkOption = ChannelOptions.tcpOption(NIOBSDSocket.Option(rawValue: CInt(TCP_CORK)))
    #else
    private static let corkOption = ChannelOptions.tcpOption(NIOBSDSocket.Option(rawValue: CInt(TCP_NOPUSH)))
    #endif

    func cork(_ on: Bool) {
        try? context?.channel.syncOptions?.setOption(Self.corkOption, value: on ? 1 : 0)
    }

    /// Writes complete in order, so an empty write issued now completes only after all earlier ones.
    func closeWhenSent() {
        guard let context else { return }
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(ByteBuffer()))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    func close() {
        context?.close(promise: nil)
    }

    // MARK: - The deadline

    /// One scheduled task per connection, re-armed only when it fires: moving the deadline on
    /// costs nothing per request.
    private func scheduleDeadlineCheck(context: ChannelHandlerContext) {
        guard let connection else { return }
        deadlineCheck = context.eventLoop.assumeIsolated().scheduleTask(deadline: connection.deadline) {
            self.deadlineCheck = nil
            switch self.connection?.checkDeadline(now: context.eventLoop.now) ?? .stop {
            case .stop: return
            case .checkAgain: self.scheduleDeadlineCheck(context: context)
            case .close: context.close(promise: nil)
            }
        }
    }
}

@available(*, unavailable)
extension ConnectionHandler: Sendable {}

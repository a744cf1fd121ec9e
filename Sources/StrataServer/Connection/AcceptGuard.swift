import NIOCore
import StrataCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Keeps the listener from spinning when `accept` finds no descriptor (EMFILE, ENFILE): NIO then
/// reports the error and, the connection still pending, is called again at once — a busy loop
/// that starves the connections being served. As libuv and nginx do, one spare descriptor is
/// held; on that error it is given up so the next `accept` succeeds, and that connection is
/// closed at once (shed) if the spare cannot be taken back. Said at most once a second.
///
/// `DescriptorBudget` keeps connections below the limit, so this is the rare case of descriptors
/// taken by something else.
final class AcceptGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = Channel
    typealias InboundOut = Channel

    private let events: EventLog
    private var spare: CInt

    init(events: EventLog) {
        self.events = events
        spare = Self.takeSpare()
    }

    private static func takeSpare() -> CInt {
        open("/dev/null", O_RDONLY | O_CLOEXEC)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard let failure = error as? IOError, failure.errnoCode == EMFILE || failure.errnoCode == ENFILE else {
            context.fireErrorCaught(error)
            return
        }
        events.sayAtMostEverySecond(.warn, "descriptors_exhausted",
            "cannot accept connections: \(String(cString: strerror(failure.errnoCode))); closing new connections "
                + "until descriptors free up (open connections keep being served)", [("errno", String(failure.errnoCode))])
        if spare >= 0 {
            close(spare)
            spare = -1
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard spare < 0 else {
            context.fireChannelRead(data)
            return
        }
        spare = Self.takeSpare()
        if spare < 0 {
            unwrapInboundIn(data).close(promise: nil)  // its descriptor becomes the spare
            spare = Self.takeSpare()
        } else {
            context.fireChannelRead(data)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if spare >= 0 { close(spare) }
        spare = -1
    }
}


import NIOCore
import NIOHTTP1
import StrataCore
import SystemPackage

/// What every connection shares: the responder, the hot-file cache, the log, the timeouts.
struct ConnectionContext: Sendable {
    let responder: Responder
    let hotFiles: HotFiles
    let registry: ReleaseRegistry
    let accessLog: AccessLog?
    let headerTimeout: TimeAmount
    let idleTimeout: TimeAmount
}

/// Answers the requests of one connection, in order (NIO's pipelining handler queues the rest).
///
/// A connection must deliver a complete request head within the header timeout of opening, and
/// within the idle timeout of its previous response; otherwise it is closed, so slow clients cannot
/// hold connections. Bodies of GET requests are read and dropped.
final class RequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let shared: ConnectionContext
    private var head: HTTPRequestHead?
    /// While waiting for a request head: when to give up on this connection. Nil while a request
    /// is being answered. One repeating check per connection, rather than a timer per request.
    private var headDeadline: NIODeadline?
    private var deadlineCheck: RepeatedTask?

    init(_ shared: ConnectionContext) {
        self.shared = shared
    }

    func handlerAdded(context: ChannelHandlerContext) {
        headDeadline = .now() + shared.headerTimeout
        let channel = context.channel
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let period = TimeAmount.milliseconds(min(1000, shared.headerTimeout.nanoseconds / 4_000_000))
        deadlineCheck = context.eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { _ in
            if let deadline = loopBound.value.headDeadline, deadline < .now() { channel.close(promise: nil) }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadlineCheck?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            headDeadline = nil
            head = requestHead
        case .body:
            break
        case .end:
            guard let requestHead = head else { return }
            head = nil
            respond(to: requestHead, context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    private func respond(to requestHead: HTTPRequestHead, context: ChannelHandlerContext) {
        var reply = shared.responder.reply(to: requestHead)
        var content: ResponseContent = .none
        switch reply.body {
        case .none:
            break
        case .bytes(let buffer):
            content = .bytes(buffer)
        case .file(let folder, let path, let offset, let length, let digest, let size, let release):
            guard let loaded = load(folder: folder, path: path, offset: offset, length: length, digest: digest, size: size) else {
                // The release vanished under us (pruned while serving): forget it, answer 404.
                shared.registry.forget(release)
                reply = Reply(status: .notFound, headers: HTTPHeaders([("Date", HTTPDate.now()), ("Content-Length", "0"), ("Cache-Control", "no-cache")]),
                              body: .none, release: nil)
                break
            }
            content = loaded
        }

        let keepAlive = requestHead.isKeepAlive
        if !keepAlive { reply.headers.replaceOrAdd(name: "Connection", value: "close") }
        let isHead = requestHead.method == .HEAD
        if let log = shared.accessLog {  // before writing, so log lines keep the order of requests
            let sent: Int64
            switch content {
            case .none: sent = 0
            case .bytes(let buffer): sent = isHead ? 0 : Int64(buffer.readableBytes)
            case .region(let region, _): sent = isHead ? 0 : Int64(region.readableBytes)
            }
            log.record(client: context.remoteAddress?.ipAddress ?? "-", head: requestHead, status: Int(reply.status.code), bytes: sent, release: reply.release)
        }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: requestHead.version, status: reply.status, headers: reply.headers))), promise: nil)
        switch content {
        case .none:
            break
        case .bytes(let buffer):
            if !isHead { context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil) }
        case .region(let region, let handle):
            if isHead {
                try? handle.close()
            } else {
                context.write(wrapOutboundOut(.body(.fileRegion(region)))).whenComplete { _ in try? handle.close() }
            }
        }
        let channel = context.channel
        let finished = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if keepAlive {
            headDeadline = .now() + shared.idleTimeout
        } else {
            finished.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    private enum ResponseContent {
        case none
        case bytes(ByteBuffer)
        case region(FileRegion, NIOFileHandle)
    }

    /// Small files come from memory; large ones go out with sendfile from an open descriptor.
    private func load(folder: FilePath, path: String, offset: Int64, length: Int64, digest: String, size: Int64) -> ResponseContent? {
        if size <= Int64(shared.hotFiles.maxFileBytes) {
            guard let whole = shared.hotFiles.content(digest: digest, in: folder, path: path, size: size) else { return nil }
            return .bytes(whole.getSlice(at: whole.readerIndex + Int(offset), length: Int(length)) ?? whole)
        }
        guard let file = try? FileSystem.open(folder.appending(path), .readOnly, purpose: "read") else { return nil }
        // A FileRegion (sendfile) needs an NIOFileHandle, and NIO offers no other way than taking over
        // a descriptor; the handle is closed once the region is written.
        let handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: file.takeDescriptor().rawValue)
        return .region(FileRegion(fileHandle: handle, readerIndex: Int(offset), endIndex: Int(offset + length)), handle)
    }
}

@available(*, unavailable)
extension RequestHandler: Sendable {}

/// Answers requests the HTTP parser rejects: 431 when the head is too large or has too many
/// fields, 400 for anything else malformed. The connection is closed after.
final class ProtocolErrorResponder: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private var responseInProgress = false

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        if !responseInProgress {
            let status: HTTPResponseStatus = parserError == .headerOverflow ? .requestHeaderFieldsTooLarge : .badRequest
            let body = status == .badRequest ? "bad request\n" : "request header fields too large\n"
            var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
            buffer.writeString(body)
            let headers = HTTPHeaders([("Connection", "close"), ("Content-Type", "text/plain; charset=utf-8"),
                                       ("Content-Length", String(buffer.readableBytes)), ("Date", HTTPDate.now())])
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
        context.close(promise: nil)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head) where head.status.code >= 200: responseInProgress = true
        case .end: responseInProgress = false
        default: break
        }
        context.write(data, promise: promise)
    }
}

@available(*, unavailable)
extension ProtocolErrorResponder: Sendable {}

/// Holds back the shutdown ("quiesce") event until every byte already written has left for the
/// socket. NIO's HTTP pipelining handler closes an idle connection as soon as it sees the event,
/// and a close drops writes still queued: a large file being sent would be cut short. Writes
/// complete in order, so an empty write issued now completes only after all earlier ones.
final class QuiesceGate: ChannelInboundHandler {
    typealias InboundIn = NIOAny
    typealias OutboundOut = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        let loopBound = context.loopBound
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0))).whenComplete { _ in
            loopBound.value.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
    }
}

@available(*, unavailable)
extension QuiesceGate: Sendable {}

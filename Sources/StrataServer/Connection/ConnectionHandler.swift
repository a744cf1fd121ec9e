#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import StrataCore
import SystemPackage

/// One HTTP/1.1 connection, from its first byte to its close: the received bytes go through a
/// `RequestReader`, and each request is answered as it completes, with one deadline.
///
/// - Requests are answered in order as they complete; pipelined ones simply queue their responses
///   behind the earlier ones in the channel. Responses written during one read are flushed once.
/// - An answer that needs a release not yet loaded waits for it (loaded off the loop); reading
///   stops until it is done, and what was received behind it stays in the reader. Reading also
///   stops while the socket is not writable, so a client that pipelines without reading cannot
///   make us buffer without end.
/// - The deadline: a complete request head within the header timeout of opening, and within the
///   idle timeout of the previous response; a response that makes no progress for the idle
///   timeout is cut off too. One scheduled task per connection, re-armed only when it fires.
/// - Quiescing (graceful shutdown): an idle connection closes once what it has written is sent; a
///   busy one answers its current request with `Connection: close`, then closes.
final class ConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    /// A beacon report's body as it arrives; nil once over `BeaconCounter.maxBody`.
    private struct Beacon {
        var body: ByteBuffer?
    }

    private let services: LoopServices
    private var reader: RequestReader
    private var state: ConnectionState
    /// The request whose head arrived and whose end has not (with a beacon's body so far).
    private var current: (head: RequestHead, beacon: Beacon?)?
    /// The request whose answer waits for a release load or a password check.
    private var waiting: (head: RequestHead, body: ByteBuffer?)?
    private var needsFlush = false
    private var deadlineCheck: Scheduled<Void>?

    init(_ services: LoopServices) {
        self.services = services
        reader = RequestReader(maxHeadBytes: services.maxHeadBytes, maxFields: services.maxHeaderCount)
        state = ConnectionState(now: .now(), headerTimeout: services.headerTimeout, idleTimeout: services.idleTimeout)
    }

    // MARK: - Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        // The loop's clock, not the wall's: under test it is a clock the test moves.
        state = ConnectionState(now: context.eventLoop.now, headerTimeout: services.headerTimeout, idleTimeout: services.idleTimeout)
        scheduleDeadlineCheck(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadlineCheck?.cancel()
        deadlineCheck = nil
        _ = state.beginClosing()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed? = event as? ChannelEvent {
            if state.inputEnded() { closeWhenSent(context: context) }
            return
        }
        guard event is ChannelShouldQuiesceEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        if state.quiesce(readerIdle: reader.isIdle) { closeWhenSent(context: context) }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        closeWhenSent(context: context)
    }

    // MARK: - Reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !state.isClosing else { return }
        var bytes = unwrapInboundIn(data)
        reader.append(&bytes)
        readRequests(context: context)
    }

    /// Takes every complete part the reader holds, until it needs more bytes or an answer waits.
    private func readRequests(context: ChannelHandlerContext) {
        while state.mayAnswer {
            let part: RequestReader.Part?
            do {
                part = try reader.next()
            } catch {
                return answerRefused(error, context: context)
            }
            guard let part else { return }
            switch part {
            case .head(let head):
                state.headArrived(now: context.eventLoop.now)
                let isBeacon = BeaconCounter.isReport(head)
                if head.expectsContinue {
                    // Say "go on" only for a body we want; for any other, answer now and close,
                    // as the client may never send what it announced.
                    if isBeacon && Self.mayFitBeacon(head.framing) {
                        context.write(wrapOutboundOut(.byteBuffer(ByteBuffer(staticString: "HTTP/1.1 100 Continue\r\n\r\n"))), promise: nil)
                        needsFlush = true
                    } else {
                        state.bodyRefused()
                        answer(head, body: nil, context: context)
                        return
                    }
                }
                current = (head, isBeacon ? Beacon(body: ByteBuffer()) : nil)
            case .body(var piece):
                guard var beacon = current?.beacon else { continue }
                // At most 1 KiB is kept, so copying it as it grows costs nothing worth avoiding.
                if var body = beacon.body, body.readableBytes + piece.readableBytes <= BeaconCounter.maxBody {
                    body.writeBuffer(&piece)
                    beacon.body = body
                } else {
                    beacon.body = nil
                }
                current?.beacon = beacon
            case .end:
                guard let (head, beacon) = current else { continue }
                current = nil
                state.requestEnded()
                answer(head, body: beacon?.body, context: context)
            }
        }
    }

    private static func mayFitBeacon(_ framing: ParsedHead.Framing) -> Bool {
        if case .length(let length) = framing { return length <= BeaconCounter.maxBody }
        return true
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushIfNeeded(context: context)
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if state.readRequested(writable: context.channel.isWritable) { context.read() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        resumeReading(context: context)
        context.fireChannelWritabilityChanged()
    }

    private func resumeReading(context: ChannelHandlerContext) {
        if state.mayResumeReading(writable: context.channel.isWritable) { context.read() }
    }

    // MARK: - Answering

    private func answer(_ head: RequestHead, body: ByteBuffer? = nil, context: ChannelHandlerContext) {
        let answer = services.responder.respond(to: head, body: body)
        let wait: EventLoopFuture<Void>
        switch answer.response {
        case .needsRelease(let id): wait = services.registry.load(id, on: context.eventLoop)
        case .needsReleaseNames: wait = services.releaseNames.refresh(on: context.eventLoop)
        case .needsVerification(let attempt): wait = services.responder.basicAuthentication!.verify(attempt, on: context.eventLoop)
        default: return send(answer, for: head, context: context)
        }
        waiting = (head, body)
        state.answerWaits()
        wait.assumeIsolated().whenComplete { _ in
            guard let (head, body) = self.waiting else { return }
            self.waiting = nil
            self.state.answerReady()
            guard !self.state.isClosing else { return }
            self.answer(head, body: body, context: context)
            self.readRequests(context: context)
            self.flushIfNeeded(context: context)
            self.resumeReading(context: context)
            if self.state.closeIfInputDone() { self.closeWhenSent(context: context) }
        }
    }

    private func send(_ answer: Answer, for head: RequestHead, context: ChannelHandlerContext) {
        var response = answer.response
        var body = Body.none
        if head.method != .head {
            body = self.body(of: response, context: context)
            switch body {
            case .missing:
                // The release vanished under us (pruned while serving): forget it, answer 404.
                if case .file(let file) = response { services.releases.forget(file.index) }
                response = .generated(GeneratedResponse(status: .notFound, headers: [("Cache-Control", "no-cache")], body: ByteBuffer(), release: nil))
                body = .none
            case .unreadable(let reason):
                // There but unreadable (permissions, I/O error, no descriptors left): never a 404,
                // which caches would keep; the release stays known and the next request tries again.
                response = .generated(.unavailable(reason))
                body = .none
            default:
                break
            }
        }

        let keepAlive = state.keepsAlive(requestKeepAlive: head.keepAlive, moreReceived: reader.bufferedBytes > 0)
        let connection: ConnectionHeader = !keepAlive ? .close : (head.minorVersion == 0 ? .keepAlive : .none)
        services.heads.clear()
        let status: Int
        let release: String?
        switch response {
        case .file(let file):
            ResponseHead.write(file, connection: connection, date: services.date, into: &services.heads)
            (status, release) = (file.code, file.index.id)
        case .notFound(let index):
            ResponseHead.writeNotFound(index, connection: connection, date: services.date, into: &services.heads)
            if head.method != .head { services.heads.writeStaticString(ResponseHead.notFoundText) }
            (status, release) = (404, index.id)
        case .generated(let generated):
            ResponseHead.write(generated, connection: connection, date: services.date, into: &services.heads)
            if head.method != .head && generated.status != .notModified { body = .bytes(generated.body) }
            (status, release) = (Int(generated.status.code), generated.release)
        case .needsRelease, .needsReleaseNames, .needsVerification:
            preconditionFailure("answered only once the release is known and the password checked")
        }
        let micros = (context.eventLoop.now - state.headArrived).nanoseconds / 1000
        services.metrics.request(channel: answer.channel, status: status, bytes: body.length, micros: UInt32(clamping: max(micros, 0)))
        if let served = answer.channelRelease {
            var isPage = false
            if case .file(let file) = response { isPage = file.index.isPage(file.file) && (status == 200 || status == 304) }
            services.metrics.answered(release: served, channel: answer.channel, status: status, isPage: isPage)
        }
        if let log = services.accessLog {  // before writing, so log lines keep the order of requests
            log.record(client: context.remoteAddress?.ipAddress ?? "-", head: head, status: status, bytes: body.length, release: release)
        }

        let last: EventLoopPromise<Void>? = keepAlive ? nil : context.eventLoop.makePromise()
        switch body {
        case .none, .missing, .unreadable:
            context.write(wrapOutboundOut(.byteBuffer(services.heads)), promise: last)
        case .bytes(let bytes):
            context.write(wrapOutboundOut(.byteBuffer(services.heads)), promise: nil)
            context.write(wrapOutboundOut(.byteBuffer(bytes)), promise: last)
        case .file(let descriptor, let offset, let length):
            // Corked, the head leaves in the body's first segment instead of a packet of its own
            // (nginx's `tcp_nopush`); the last piece's write uncorks.
            Self.cork(true, context: context)
            context.write(wrapOutboundOut(.byteBuffer(services.heads)), promise: nil)
            sendFile(descriptor, offset: offset, length: length, last: last, context: context)
        }
        needsFlush = true
        state.responded(keepAlive: keepAlive, now: context.eventLoop.now)
        if !keepAlive {
            flushIfNeeded(context: context)
            last?.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    /// A request the reader refused: say why, then close (what follows cannot be framed).
    private func answerRefused(_ refusal: RequestReader.Refusal, context: ChannelHandlerContext) {
        guard !state.isClosing else { return }
        var response = GeneratedResponse.text(refusal.status, "\(refusal.reason)\n")
        response.headers.removeAll { $0.0 == "Cache-Control" || $0.0 == "X-Content-Type-Options" }
        var out = context.channel.allocator.buffer(capacity: 256)
        ResponseHead.write(response, connection: .close, date: services.date, into: &out)
        out.writeImmutableBuffer(response.body)
        context.write(wrapOutboundOut(.byteBuffer(out)), promise: nil)
        needsFlush = true
        closeWhenSent(context: context)
    }

    // MARK: - Bodies

    private enum Body {
        case none
        case bytes(ByteBuffer)
        case file(OpenFiles.Descriptor, offset: Int64, length: Int64)
        /// The file is gone (its release was pruned).
        case missing
        /// The file is there but cannot be read now: why, for the client.
        case unreadable(String)

        var length: Int64 {
            switch self {
            case .none, .missing, .unreadable: 0
            case .bytes(let bytes): Int64(bytes.readableBytes)
            case .file(_, _, let length): length
            }
        }
    }

    /// Small files come from memory (a slice of the cached bytes); large ones, and small ones a
    /// full cache does not take, go out with sendfile from a descriptor kept open.
    private func body(of response: Response, context: ChannelHandlerContext) -> Body {
        guard case .file(let file) = response, let (offset, length) = file.body else { return .none }
        let served = file.served
        let size = served.size(file.encoding)
        let key = OpenFiles.Key(release: file.index.serial, file: Int32(file.file), encoding: file.encoding)
        if size <= Int64(services.bodies.maxFileBytes) {
            let bodyKey = HotBodies.Key(digest: served.digest, encoding: file.encoding)
            var whole = services.bodies.cached(bodyKey)
            services.metrics.cache(hit: whole != nil)
            if whole == nil {
                // Read through a kept descriptor: a file read again after eviction costs no `open`.
                let descriptor: OpenFiles.Descriptor
                switch services.openFiles.borrow(key, of: file) {
                case .success(let opened): descriptor = opened
                case .failure(let failure): return unreadable(file, failure)
                }
                guard services.bodies.admits(size: Int(size)) else {
                    return .file(descriptor, offset: offset, length: length)  // sent from the page cache
                }
                whole = services.bodies.load(bodyKey, size: Int(size), from: descriptor.handle)
                services.openFiles.finished(descriptor)
            }
            guard let whole else { return .missing }
            return .bytes(whole.getSlice(at: whole.readerIndex + Int(offset), length: Int(length)) ?? whole)
        }
        switch services.openFiles.borrow(key, of: file) {
        case .success(let descriptor): return .file(descriptor, offset: offset, length: length)
        case .failure(let failure): return unreadable(file, failure)
        }
    }

    /// A file that would not open: gone (pruned), or there but unreadable — said at most once a second.
    private func unreadable(_ file: FileResponse, _ failure: Errno) -> Body {
        if failure == .noSuchFileOrDirectory || failure == .notDirectory { return .missing }
        services.events.sayAtMostEverySecond(.error, "file_unreadable", "cannot open \(file.location): \(failure.description)",
                                             [("release", file.index.id), ("file", file.location.string)])
        return .unreadable("cannot read the files of release \(file.index.id): \(failure.description)")
    }

    #if os(Linux)
    private static let corkOption = ChannelOptions.tcpOption(NIOBSDSocket.Option(rawValue: CInt(TCP_CORK)))
    #else
    private static let corkOption = ChannelOptions.tcpOption(NIOBSDSocket.Option(rawValue: CInt(TCP_NOPUSH)))
    #endif

    /// Holds partial segments back (or lets them go). Best effort: a socket that refuses only
    /// sends one more packet.
    private static func cork(_ on: Bool, context: ChannelHandlerContext) {
        try? context.channel.syncOptions?.setOption(corkOption, value: on ? 1 : 0)
    }

    /// Large files go out in pieces, so the deadline can tell a slow reader from a stalled one.
    private static let piece: Int64 = 1 << 20

    private func sendFile(_ descriptor: OpenFiles.Descriptor, offset: Int64, length: Int64, last: EventLoopPromise<Void>?,
                          context: ChannelHandlerContext) {
        var start = offset
        let end = offset + length
        repeat {
            let pieceEnd = min(end, start + Self.piece)
            let region = FileRegion(fileHandle: descriptor.handle, readerIndex: Int(start), endIndex: Int(pieceEnd))
            let written = context.eventLoop.makePromise(of: Void.self)
            let isLast = pieceEnd == end
            written.futureResult.assumeIsolated().whenComplete { result in
                if case .success = result { self.state.progressed(now: context.eventLoop.now) }
                if isLast {
                    Self.cork(false, context: context)
                    self.services.openFiles.finished(descriptor)
                    last?.completeWith(result)
                }
            }
            context.write(wrapOutboundOut(.fileRegion(region)), promise: written)
            start = pieceEnd
        } while start < end
    }

    // MARK: - Writing and closing

    private func flushIfNeeded(context: ChannelHandlerContext) {
        guard needsFlush else { return }
        needsFlush = false
        context.flush()
    }

    /// Closes once every byte written so far has left: writes complete in order, so an empty
    /// write issued now completes only after all earlier ones.
    private func closeWhenSent(context: ChannelHandlerContext) {
        guard state.beginClosing() else { return }
        needsFlush = false
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(context.channel.allocator.buffer(capacity: 0)))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    // MARK: - The deadline

    /// One scheduled task per connection, re-armed only when it fires: moving the deadline on
    /// costs nothing per request.
    private func scheduleDeadlineCheck(context: ChannelHandlerContext) {
        deadlineCheck = context.eventLoop.assumeIsolated().scheduleTask(deadline: state.deadline) {
            self.deadlineCheck = nil
            switch self.state.deadlineCheck(now: context.eventLoop.now) {
            case .stop: return
            case .checkAgain: self.scheduleDeadlineCheck(context: context)
            case .close: context.close(promise: nil)
            }
        }
    }
}

@available(*, unavailable)
extension ConnectionHandler: Sendable {}

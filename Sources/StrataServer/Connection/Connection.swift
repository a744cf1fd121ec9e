import NIOCore
import StrataCore
import SystemPackage

/// What a `Connection` asks of the socket under it. Two kinds implement it: `SocketConnection`,
/// the server's own (a descriptor in a `SocketLoop`), and `ConnectionHandler`, the same rules
/// over a NIO channel (what the tests drive on an `EmbeddedChannel`).
protocol ConnectionIO: AnyObject {
    var eventLoop: any EventLoop { get }
    /// False while what was written and not yet sent is over the high-water mark.
    var isWritable: Bool { get }
    /// The client's IP address, for the access log.
    var clientAddress: String { get }
    /// Queues bytes; they leave at the next `flush`.
    func write(_ bytes: ByteBuffer)
    /// Queues part of a file, sent from the page cache; `done` says whether it all left.
    func writeFile(_ handle: NIOFileHandle, from start: Int, to end: Int, done: @escaping (Bool) -> Void)
    func flush()
    /// Reading was held (`Connection.mayRead` said no) and may go on.
    func resumeReading()
    /// Holds partial segments back (or lets them go), so a head leaves with its file's first
    /// segment. Best effort; an IO that already sends bytes before a file with `MSG_MORE` does nothing.
    func cork(_ on: Bool)
    /// Sends everything written so far, then closes.
    func closeWhenSent()
    /// Closes at once.
    func close()
}

/// One HTTP/1.1 connection, from its first byte to its close: the received bytes go through a
/// `RequestReader`, and each request is answered as it completes. What happens on the socket is
/// the `ConnectionIO`'s job; the deadline's timer too (this says when it is and what it means).
///
/// - Requests are answered in order as they complete; pipelined ones simply queue their responses
///   behind the earlier ones. Responses written during one read are flushed once.
/// - An answer that needs a release not yet loaded waits for it (loaded off the loop); reading
///   stops until it is done, and what was received behind it stays in the reader. Reading also
///   stops while the socket is not writable, so a client that pipelines without reading cannot
///   make us buffer without end.
/// - The deadline: a complete request head within the header timeout of opening, and within the
///   idle timeout of the previous response; a response that makes no progress for the idle
///   timeout is cut off too.
/// - Quiescing (graceful shutdown): an idle connection closes once what it has written is sent; a
///   busy one answers its current request with `Connection: close`, then closes.
final class Connection<IO: ConnectionIO> {
    /// A beacon report's body as it arrives; nil once over `BeaconCounter.maxBody`.
    private struct Beacon {
        var body: ByteBuffer?
    }

    private let services: LoopServices
    /// Strong: the IO keeps this connection too, and lets go of it when the socket closes.
    private let io: IO
    private var reader: RequestReader
    private var state: ConnectionState
    /// The request whose head arrived and whose end has not (with a beacon's body so far).
    private var current: (head: RequestHead, beacon: Beacon?)?
    /// The request whose answer waits for a release load or a password check.
    private var waiting: (head: RequestHead, body: ByteBuffer?)?
    private var needsFlush = false

    init(_ services: LoopServices, io: IO, now: NIODeadline) {
        self.services = services
        self.io = io
        reader = RequestReader(maxHeadBytes: services.maxHeadBytes, maxFields: services.maxHeaderCount)
        state = ConnectionState(now: now, headerTimeout: services.headerTimeout, idleTimeout: services.idleTimeout)
    }

    // MARK: - What the socket reports

    /// Bytes arrived.
    func received(_ bytes: inout ByteBuffer) {
        guard !state.isClosing else { return }
        reader.append(&bytes)
        readRequests()
    }

    /// The bytes of one read were all handed over: what was answered leaves now.
    func readComplete() {
        flushIfNeeded()
        reader.letGoOfConsumedBytes()
    }

    /// Whether to read now; if not, `resumeReading` is called when it may.
    func mayRead() -> Bool {
        state.readRequested(writable: io.isWritable)
    }

    func writabilityChanged() {
        resumeReading()
    }

    /// The client shut its write side.
    func inputEnded() {
        if state.inputEnded() { closeWhenSent() }
    }

    /// The server begins a graceful shutdown.
    func quiesce() {
        if state.quiesce(readerIdle: reader.isIdle) { closeWhenSent() }
    }

    /// The socket failed: what can still go, goes.
    func failed() {
        closeWhenSent()
    }

    /// The socket closed.
    func closed() {
        _ = state.beginClosing()
    }

    /// When the deadline falls; `checkDeadline` says what it means then.
    var deadline: NIODeadline { state.deadline }

    /// The deadline's timer fired: stop watching, look again later, or (the deadline passed) close.
    func checkDeadline(now: NIODeadline) -> ConnectionState.DeadlineCheck {
        state.deadlineCheck(now: now)
    }

    // MARK: - Reading

    /// Takes every complete part the reader holds, until it needs more bytes or an answer waits.
    private func readRequests() {
        while state.mayAnswer {
            let part: RequestReader.Part?
            do {
                part = try reader.next()
            } catch {
                return answerRefused(error)
            }
            guard let part else { return }
            switch part {
            case .head(let head):
                state.headArrived(now: io.eventLoop.now)
                let isBeacon = BeaconCounter.isReport(head)
                if head.expectsContinue {
                    // Say "go on" only for a body we want; for any other, answer now and close,
                    // as the client may never send what it announced.
                    if isBeacon && Self.mayFitBeacon(head.framing) {
                        io.write(ByteBuffer(staticString: "HTTP/1.1 100 Continue\r\n\r\n"))
                        needsFlush = true
                    } else {
                        state.bodyRefused()
                        answer(head, body: nil)
                        return
                    }
                }
                if !isBeacon && reader.takeEndOfBodiless() {
                    // Nearly every request: answered at once, not kept in `current` (a copy of the
                    // head in and out) until its end is read.
                    state.requestEnded()
                    answer(head, body: nil)
                    continue
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
                answer(head, body: beacon?.body)
            }
        }
    }

    private static func mayFitBeacon(_ framing: ParsedHead.Framing) -> Bool {
        if case .length(let length) = framing { return length <= BeaconCounter.maxBody }
        return true
    }

    private func resumeReading() {
        if state.mayResumeReading(writable: io.isWritable) { io.resumeReading() }
    }

    // MARK: - Answering

    private func answer(_ head: RequestHead, body: ByteBuffer? = nil) {
        let answer = services.responder.respond(to: head, body: body)
        let wait: EventLoopFuture<Void>
        switch answer.response {
        case .needsRelease(let id): wait = services.registry.load(id, on: io.eventLoop)
        case .needsReleaseNames: wait = services.releaseNames.refresh(on: io.eventLoop)
        case .needsVerification(let attempt): wait = services.responder.basicAuthentication!.verify(attempt, on: io.eventLoop)
        default: return send(answer, for: head)
        }
        waiting = (head, body)
        state.answerWaits()
        wait.assumeIsolated().whenComplete { _ in
            guard let (head, body) = self.waiting else { return }
            self.waiting = nil
            self.state.answerReady()
            guard !self.state.isClosing else { return }
            self.answer(head, body: body)
            self.readRequests()
            self.flushIfNeeded()
            self.resumeReading()
            if self.state.closeIfInputDone() { self.closeWhenSent() }
        }
    }

    private func send(_ answer: Answer, for head: RequestHead) {
        var response = answer.response
        var body = Body.none
        if head.method != .head {
            body = self.body(of: response)
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
        let now = io.eventLoop.now
        let micros = (now - state.headArrived).nanoseconds / 1000
        services.metrics.request(channel: answer.channel, status: status, bytes: body.length, micros: UInt32(clamping: max(micros, 0)))
        if let served = answer.channelRelease {
            var isPage = false
            if case .file(let file) = response { isPage = file.index.isPage(file.file) && (status == 200 || status == 304) }
            services.metrics.answered(release: served, channel: answer.channel, status: status, isPage: isPage)
        }
        if let log = services.accessLog {  // before writing, so log lines keep the order of requests
            log.record(client: io.clientAddress, head: head, status: status, bytes: body.length, release: release)
        }

        switch body {
        case .none, .missing, .unreadable:
            io.write(services.heads)
        case .bytes(let bytes):
            io.write(services.heads)
            io.write(bytes)
        case .file(let descriptor, let offset, let length):
            // Corked (or, on the server's own loops, sent with `MSG_MORE`), the head leaves in the
            // body's first segment instead of a packet of its own (nginx's `tcp_nopush`); the last
            // piece's write uncorks.
            io.cork(true)
            io.write(services.heads)
            sendFile(descriptor, offset: offset, length: length)
        }
        needsFlush = true
        state.responded(keepAlive: keepAlive, now: now)
        if !keepAlive {
            needsFlush = false
            io.closeWhenSent()  // the state is already closing: nothing more is read or answered
        }
    }

    /// A request the reader refused: say why, then close (what follows cannot be framed).
    private func answerRefused(_ refusal: RequestReader.Refusal) {
        guard !state.isClosing else { return }
        var response = GeneratedResponse.text(refusal.status, "\(refusal.reason)\n")
        response.headers.removeAll { $0.0 == "Cache-Control" || $0.0 == "X-Content-Type-Options" }
        var out = ByteBuffer()
        out.reserveCapacity(256)
        ResponseHead.write(response, connection: .close, date: services.date, into: &out)
        out.writeImmutableBuffer(response.body)
        io.write(out)
        needsFlush = true
        closeWhenSent()
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
    private func body(of response: Response) -> Body {
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

    /// Large files go out in pieces, so the deadline can tell a slow reader from a stalled one.
    private static var piece: Int64 { 1 << 20 }

    private func sendFile(_ descriptor: OpenFiles.Descriptor, offset: Int64, length: Int64) {
        var start = offset
        let end = offset + length
        repeat {
            let pieceEnd = min(end, start + Self.piece)
            let isLast = pieceEnd == end
            io.writeFile(descriptor.handle, from: Int(start), to: Int(pieceEnd)) { sent in
                if sent { self.state.progressed(now: self.io.eventLoop.now) }
                if isLast {
                    self.io.cork(false)
                    self.services.openFiles.finished(descriptor)
                }
            }
            start = pieceEnd
        } while start < end
    }

    // MARK: - Writing and closing

    private func flushIfNeeded() {
        guard needsFlush else { return }
        needsFlush = false
        io.flush()
    }

    private func closeWhenSent() {
        guard state.beginClosing() else { return }
        needsFlush = false
        io.closeWhenSent()
    }
}

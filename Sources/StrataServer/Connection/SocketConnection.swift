#if os(Linux)
import CLinux
import Glibc
import NIOCore

/// One accepted socket of a `SocketLoop`: reads into the loop's buffer, writes what its
/// `Connection` answers with one `writev` per read (pipelined answers together) and large files
/// with `sendfile`, and waits for `EPOLLOUT` only when the socket would block. Level-triggered:
/// it is told of input only while it wants to read.
final class SocketConnection: ConnectionIO {
    let descriptor: CInt
    let generation: UInt32
    private let address: sockaddr_storage
    private let loop: SocketLoop
    /// Set once accepted; let go of when the socket closes (it keeps this object too).
    var connection: Connection<SocketConnection>?

    private enum Outgoing {
        case bytes(ByteBuffer)
        case file(NIOFileHandle, from: Int, to: Int, done: (Bool) -> Void)
    }

    /// Written and not yet sent, in order.
    private var outgoing: [Outgoing] = []
    private var outgoingBytes = 0
    /// Over the high-water mark since it was last under the low one (NIO's defaults: 64 and 32 KiB).
    private var overHighWater = false
    private static let highWater = 64 * 1024
    private static let lowWater = 32 * 1024
    private var waitingToWrite = false
    private var readingHeld = false
    private var inputShut = false
    private var closeOnceSent = false
    private var interest: UInt32 = SocketConnection.readInterest
    private(set) var isClosed = false

    static let readInterest = EPOLLIN.rawValue | EPOLLRDHUP.rawValue

    init(_ descriptor: CInt, generation: UInt32, address: sockaddr_storage, loop: SocketLoop) {
        self.descriptor = descriptor
        self.generation = generation
        self.address = address
        self.loop = loop
    }

    // MARK: - Events

    func ready(_ events: UInt32) {
        if events & EPOLLERR.rawValue != 0 || (events & EPOLLHUP.rawValue != 0 && (readingHeld || inputShut)) {
            // Reset, or both sides shut with nothing more to read: nothing more can be sent.
            return close()
        }
        if events & EPOLLOUT.rawValue != 0 { sendOutgoing() }
        if events & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLHUP.rawValue) != 0 && !isClosed && !readingHeld && !inputShut {
            readAvailable()
        }
    }

    /// Reads what the socket holds (a few reads at most, so one busy client cannot hold the loop),
    /// hands it over, and flushes the answers once.
    private func readAvailable() {
        guard let connection else { return }
        for _ in 0..<4 {
            loop.inbound.clear()  // the reader let go of it: the same memory again
            var result = 0
            loop.inbound.writeWithUnsafeMutableBytes(minimumWritableBytes: SocketLoop.inboundCapacity) { space in
                result = read(descriptor, space.baseAddress, space.count)
                return max(result, 0)
            }
            if result > 0 {
                connection.received(&loop.inbound)
                if result < SocketLoop.inboundCapacity || isClosed { break }
            } else if result == 0 {
                inputShut = true
                connection.inputEnded()
                break
            } else if errno == EINTR {
                continue
            } else {
                if errno != EAGAIN && errno != EWOULDBLOCK { connection.failed() }
                break
            }
        }
        connection.readComplete()
        if !isClosed && !inputShut && !connection.mayRead() { readingHeld = true }
        updateInterest()
    }

    private func updateInterest() {
        guard !isClosed else { return }
        var wanted: UInt32 = readingHeld || inputShut ? 0 : Self.readInterest
        if waitingToWrite { wanted |= EPOLLOUT.rawValue }
        guard wanted != interest else { return }
        interest = wanted
        loop.change(self, to: wanted)
    }

    // MARK: - ConnectionIO

    var eventLoop: any EventLoop { loop }
    var isWritable: Bool { !overHighWater }

    var clientAddress: String {
        SocketAddress(accepted: address)?.ipAddress ?? "-"
    }

    func write(_ bytes: ByteBuffer) {
        guard !isClosed, bytes.readableBytes > 0 else { return }
        outgoing.append(.bytes(bytes))
        added(bytes.readableBytes)
    }

    func writeFile(_ handle: NIOFileHandle, from start: Int, to end: Int, done: @escaping (Bool) -> Void) {
        guard !isClosed else { return done(false) }
        outgoing.append(.file(handle, from: start, to: end, done: done))
        added(end - start)
    }

    private func added(_ count: Int) {
        outgoingBytes += count
        if outgoingBytes > Self.highWater { overHighWater = true }
    }

    func flush() {
        if !waitingToWrite { sendOutgoing() }
    }

    func resumeReading() {
        guard readingHeld else { return }
        readingHeld = false
        updateInterest()
    }

    /// Nothing to do: bytes queued just before a file go out with `MSG_MORE` (see `sendBuffers`),
    /// so a head leaves in its body's first segment without two `setsockopt` calls per response.
    func cork(_ on: Bool) {}

    func closeWhenSent() {
        closeOnceSent = true
        flush()
        if outgoing.isEmpty { close() }
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        Glibc.close(descriptor)
        let unsent = outgoing
        outgoing = []
        outgoingBytes = 0
        for case .file(_, _, _, let done) in unsent { done(false) }
        loop.forget(self)
        let connection = self.connection
        self.connection = nil
        connection?.closed()
    }

    // MARK: - Sending

    /// Sends what it can; waits for `EPOLLOUT` if the socket is full.
    private func sendOutgoing() {
        waitingToWrite = false
        while !outgoing.isEmpty && !isClosed {
            let sent: Bool
            switch outgoing[0] {
            case .bytes: sent = sendBuffers()
            case .file(let handle, let start, let end, let done): sent = sendFile(handle, from: start, to: end, done: done)
            }
            guard sent else { break }
        }
        guard !isClosed else { return }
        if overHighWater && outgoingBytes < Self.lowWater {
            overHighWater = false
            connection?.writabilityChanged()
        }
        if outgoing.isEmpty && closeOnceSent { return close() }
        updateInterest()
    }

    /// `writev` of the buffers at the front (up to 64). True when they all left. Before a file they
    /// go with `MSG_MORE`: held for the `sendfile` that follows, as `TCP_CORK` would hold them.
    private func sendBuffers() -> Bool {
        var count = 0
        while count < outgoing.count && count < 64, case .bytes = outgoing[count] { count += 1 }
        var fileFollows = false
        if count < outgoing.count, case .file = outgoing[count] { fileFollows = true }
        let written: Int = withUnsafeTemporaryAllocation(of: iovec.self, capacity: count) { vectors in
            for index in 0..<count {
                guard case .bytes(let bytes) = outgoing[index] else { break }
                // The buffers stay in `outgoing`, unchanged, until the call returns.
                bytes.withUnsafeReadableBytes { vectors[index] = iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count) }
            }
            while true {
                let result: Int
                if fileFollows {
                    var message = msghdr()
                    message.msg_iov = vectors.baseAddress
                    message.msg_iovlen = count
                    result = sendmsg(descriptor, &message, CInt(MSG_MORE))
                } else if count == 1 {
                    result = Glibc.write(descriptor, vectors[0].iov_base, vectors[0].iov_len)
                } else {
                    result = writev(descriptor, vectors.baseAddress, CInt(count))
                }
                if result >= 0 || errno != EINTR { return result }
            }
        }
        guard written >= 0 else {
            if errno == EAGAIN || errno == EWOULDBLOCK { return wouldBlock() }
            close()  // the peer is gone
            return false
        }
        outgoingBytes -= written
        var left = written
        var finished = 0
        while finished < count, case .bytes(var bytes) = outgoing[finished] {
            if left >= bytes.readableBytes {
                left -= bytes.readableBytes
                finished += 1
            } else {
                bytes.moveReaderIndex(forwardBy: left)
                outgoing[finished] = .bytes(bytes)
                break
            }
        }
        outgoing.removeFirst(finished)
        return finished == count ? true : wouldBlock()
    }

    private func sendFile(_ handle: NIOFileHandle, from start: Int, to end: Int, done: @escaping (Bool) -> Void) -> Bool {
        var offset = off_t(start)
        var failure: CInt = 0
        let reachedEnd: Bool = (try? handle.withUnsafeFileDescriptor { file in
            while offset < off_t(end) {
                let result = sendfile(descriptor, file, &offset, end - Int(offset))
                if result > 0 { continue }
                if result == 0 { failure = EIO; return false }  // the file is shorter than it was
                if errno == EINTR { continue }
                failure = errno
                return false
            }
            return true
        }) ?? false
        outgoingBytes -= Int(offset) - start
        if reachedEnd {
            outgoing.removeFirst()
            done(true)
            return true
        }
        if failure == EAGAIN || failure == EWOULDBLOCK {
            outgoing[0] = .file(handle, from: Int(offset), to: end, done: done)
            return wouldBlock()
        }
        close()
        return false
    }

    private func wouldBlock() -> Bool {
        waitingToWrite = true
        return false
    }
}
#endif

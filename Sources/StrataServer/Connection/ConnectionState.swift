import NIOCore

/// What one connection is doing, as a value: `ConnectionHandler` reports each event and does what
/// the answer says. No I/O and no clock of its own (every event that needs the time is given it),
/// so every rule here is tested without a socket or a sleep.
///
/// - Reading stops while an answer waits off the loop, while the socket is not writable, and
///   for good once the connection is closing.
/// - One deadline: a complete head within the header timeout of opening, then within the idle
///   timeout of the last progress (a head, a response, a piece of a large body written).
/// - A connection closes after a response when the request asked it to, when the server is
///   quiescing, when a client announced a body it may never send, or when the client shut its
///   side and nothing more was received.
struct ConnectionState {
    enum Phase: Equatable {
        /// Between requests.
        case idle
        /// A head arrived; its body and end are on their way.
        case reading
        /// Closing once what was written is sent: nothing more is read or answered.
        case closing
    }

    private(set) var phase = Phase.idle
    /// An answer waits for a release load or a password check.
    private(set) var waiting = false
    private(set) var quiescing = false
    /// The client shut its write side (a half-close): answer what it sent, then close.
    private(set) var inputClosed = false
    /// The client expects `100 Continue` before a body the server does not want.
    private(set) var closeAfterAnswer = false
    private var readPending = false
    private(set) var deadline: NIODeadline
    /// When the request being answered arrived (for the latency histogram).
    private(set) var headArrived: NIODeadline
    let headerTimeout: TimeAmount
    let idleTimeout: TimeAmount

    init(now: NIODeadline, headerTimeout: TimeAmount, idleTimeout: TimeAmount) {
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
        deadline = now + headerTimeout
        headArrived = now
    }

    var isClosing: Bool { phase == .closing }
    /// Requests may be taken from the reader and answered.
    var mayAnswer: Bool { !waiting && !isClosing }

    // MARK: - Reading

    /// NIO asks to read: true to read now; false holds the read until `mayResumeReading`.
    mutating func readRequested(writable: Bool) -> Bool {
        if waiting || isClosing || !writable {
            readPending = true
            return false
        }
        return true
    }

    /// True when a held read should be issued now.
    mutating func mayResumeReading(writable: Bool) -> Bool {
        guard readPending && !waiting && !isClosing && writable else { return false }
        readPending = false
        return true
    }

    mutating func headArrived(now: NIODeadline) {
        phase = .reading
        headArrived = now
        deadline = now + idleTimeout  // for the body, if any
    }

    /// The request's body will not be asked for: its answer goes now and the connection closes after it.
    mutating func bodyRefused() {
        closeAfterAnswer = true
    }

    mutating func requestEnded() {
        if phase == .reading { phase = .idle }
    }

    mutating func answerWaits() {
        waiting = true
    }

    mutating func answerReady() {
        waiting = false
    }

    // MARK: - Responding

    /// Whether the response to a request may leave the connection open. `moreReceived`: bytes of
    /// a later request are already in hand.
    func keepsAlive(requestKeepAlive: Bool, moreReceived: Bool) -> Bool {
        requestKeepAlive && !quiescing && !closeAfterAnswer && !(inputClosed && !moreReceived)
    }

    /// A response was written; `keepAlive` as `keepsAlive` said.
    mutating func responded(keepAlive: Bool, now: NIODeadline) {
        deadline = now + idleTimeout
        if !keepAlive { phase = .closing }
    }

    /// A piece of a large body left: the client is reading.
    mutating func progressed(now: NIODeadline) {
        deadline = now + idleTimeout
    }

    // MARK: - Closing

    /// The server begins a graceful shutdown. True: close now (once what was written is sent);
    /// else the response being prepared says `Connection: close` and closes after it.
    mutating func quiesce(readerIdle: Bool) -> Bool {
        quiescing = true
        return phase == .idle && !waiting && readerIdle
    }

    /// The client shut its write side. True: close now.
    mutating func inputEnded() -> Bool {
        inputClosed = true
        return closeIfInputDone()
    }

    /// After a half-close, once every request received is answered: true to close now. (A head
    /// cut short by the shut is never answered: there is nothing to answer.)
    func closeIfInputDone() -> Bool {
        inputClosed && !waiting && !isClosing
    }

    /// Marks the connection closing; false when it already was.
    mutating func beginClosing() -> Bool {
        guard !isClosing else { return false }
        phase = .closing
        return true
    }

    // MARK: - The deadline

    enum DeadlineCheck: Equatable {
        /// Nothing to watch: the connection is closing.
        case stop
        /// Not passed yet: look again then.
        case checkAgain(at: NIODeadline)
        /// Passed: close the connection.
        case close
    }

    /// The scheduled check fired at `now`. An answer waiting off the loop is not the client's
    /// fault: the deadline moves on while it waits.
    mutating func deadlineCheck(now: NIODeadline) -> DeadlineCheck {
        if isClosing { return .stop }
        if waiting {
            deadline = max(deadline, now + .seconds(1))
            return .checkAgain(at: deadline)
        }
        return deadline > now ? .checkAgain(at: deadline) : .close
    }
}

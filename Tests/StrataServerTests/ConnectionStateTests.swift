import NIOCore
import NIOEmbedded
import StrataCore
@testable import StrataServer
import StrataTestSupport
import Testing

/// The connection's rules without a socket: `ConnectionState` alone with a made-up clock, and
/// `ConnectionHandler` on an `EmbeddedChannel` whose clock the test moves. No sleeps.
@Suite struct ConnectionStateTests {
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    static func fresh() -> ConnectionState {
        ConnectionState(now: start, headerTimeout: .seconds(10), idleTimeout: .seconds(60))
    }

    @Test func aHeadMustArriveWithinTheHeaderTimeoutThenEachRequestWithinTheIdleTimeout() {
        var state = Self.fresh()
        let answer1 = state.deadlineCheck(now: Self.start + .seconds(5))
        #expect(answer1 == .checkAgain(at: Self.start + .seconds(10)))
        let answer2 = state.deadlineCheck(now: Self.start + .seconds(10))
        #expect(answer2 == .close)

        state = Self.fresh()
        state.headArrived(now: Self.start + .seconds(9))
        let answer3 = state.deadlineCheck(now: Self.start + .seconds(10))
        #expect(answer3 == .checkAgain(at: Self.start + .seconds(69)))
        state.requestEnded()
        state.responded(keepAlive: true, now: Self.start + .seconds(20))
        let answer4 = state.deadlineCheck(now: Self.start + .seconds(69))
        #expect(answer4 == .checkAgain(at: Self.start + .seconds(80)))
        state.progressed(now: Self.start + .seconds(70))
        let answer5 = state.deadlineCheck(now: Self.start + .seconds(80))
        #expect(answer5 == .checkAgain(at: Self.start + .seconds(130)))
        let answer6 = state.deadlineCheck(now: Self.start + .seconds(130))
        #expect(answer6 == .close)
    }

    @Test func anAnswerWaitingOffTheLoopIsNotTheClientsFault() {
        var state = Self.fresh()
        state.headArrived(now: Self.start)
        state.answerWaits()
        let late = Self.start + .seconds(61)
        let answer7 = state.deadlineCheck(now: late)
        #expect(answer7 == .checkAgain(at: late + .seconds(1)))
        state.answerReady()
        let answer8 = state.deadlineCheck(now: late + .seconds(1))
        #expect(answer8 == .close)
    }

    @Test func aClosingConnectionStopsWatchingAndReading() {
        var state = Self.fresh()
        let answer9 = state.beginClosing()
        #expect(answer9)
        let answer10 = state.beginClosing()
        #expect(!answer10)
        let answer11 = state.deadlineCheck(now: Self.start + .seconds(100))
        #expect(answer11 == .stop)
        let answer12 = state.readRequested(writable: true)
        #expect(!answer12)
        let answer13 = state.mayResumeReading(writable: true)
        #expect(!answer13)
        #expect(!state.mayAnswer)
    }

    @Test func readsWaitForTheAnswerAndForTheSocketToDrain() {
        var state = Self.fresh()
        let answer14 = state.readRequested(writable: true)
        #expect(answer14)
        let answer15 = state.readRequested(writable: false)
        #expect(!answer15)
        let answer16 = state.mayResumeReading(writable: true)
        #expect(answer16)
        let answer17 = state.mayResumeReading(writable: true)
        #expect(!answer17)  // issued once
        state.answerWaits()
        let answer18 = state.readRequested(writable: true)
        #expect(!answer18)
        let answer19 = state.mayResumeReading(writable: true)
        #expect(!answer19)
        state.answerReady()
        let answer20 = state.mayResumeReading(writable: true)
        #expect(answer20)
    }

    @Test func whenAResponseClosesTheConnection() {
        let state = Self.fresh()
        #expect(state.keepsAlive(requestKeepAlive: true, moreReceived: false))
        #expect(!state.keepsAlive(requestKeepAlive: false, moreReceived: false))

        var refused = Self.fresh()
        refused.bodyRefused()
        #expect(!refused.keepsAlive(requestKeepAlive: true, moreReceived: true))

        var halfClosed = Self.fresh()
        let answer21 = halfClosed.inputEnded()
        #expect(answer21)
        #expect(halfClosed.keepsAlive(requestKeepAlive: true, moreReceived: true))  // answers the rest first
        #expect(!halfClosed.keepsAlive(requestKeepAlive: true, moreReceived: false))

        var closing = Self.fresh()
        closing.responded(keepAlive: false, now: Self.start)
        #expect(closing.isClosing)
    }

    @Test func quiescingClosesAnIdleConnectionAtOnceAndABusyOneAfterItsAnswer() {
        var idle = Self.fresh()
        let answer22 = idle.quiesce(readerIdle: true)
        #expect(answer22)
        var partial = Self.fresh()
        let answer23 = partial.quiesce(readerIdle: false)
        #expect(!answer23)  // part of a request is in: answered, then closed
        var busy = Self.fresh()
        busy.headArrived(now: Self.start)
        let answer24 = busy.quiesce(readerIdle: true)
        #expect(!answer24)
        #expect(!busy.keepsAlive(requestKeepAlive: true, moreReceived: false))
    }

    @Test func aHalfCloseWaitsForAnAnswerThatIsBeingPrepared() {
        var state = Self.fresh()
        state.answerWaits()
        let answer25 = state.inputEnded()
        #expect(!answer25)
        state.answerReady()
        #expect(state.closeIfInputDone())
    }

    // MARK: - The handler on an EmbeddedChannel

    /// A handler for the fixture store's live release, on a channel whose clock starts at zero.
    static func withEmbeddedConnection(_ body: (EmbeddedChannel, EmbeddedEventLoop, ServedStore) throws -> Void) throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            var configuration = ServerConfiguration()
            configuration.threads = 1
            let server = try StrataHTTPServer(store: served.store.store, configuration: configuration)
            defer { server.shutdown() }
            let loop = EmbeddedEventLoop()
            let services = try server.servicesForOneLoop()
            defer { services.openFiles.closeAll() }  // as the server does when it stops
            let channel = EmbeddedChannel(handler: ConnectionHandler(services), loop: loop)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
            try body(channel, loop, served)
            _ = try? channel.finish()
        }
    }

    /// Everything written so far, as text.
    static func written(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let data = try channel.readOutbound(as: IOData.self) {
            guard case .byteBuffer(let buffer) = data else { Issue.record("a file region for a small file"); continue }
            text += String(buffer: buffer)
        }
        return text
    }

    @Test func pipelinedRequestsAreAnsweredInOrderWithoutASocket() throws {
        try Self.withEmbeddedConnection { channel, _, served in
            let robots = String(decoding: try fixtureBytes("aurora-v1", "robots.txt"), as: UTF8.self)
            try channel.writeInbound(ByteBuffer(string: "GET /robots.txt HTTP/1.1\r\nHost: x\r\n\r\nHEAD /robots.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                                                + "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
            let text = try Self.written(channel)
            let statuses = text.components(separatedBy: "HTTP/1.1 ").dropFirst().map { "HTTP/1.1 " + $0.components(separatedBy: "\r\n")[0] }
            #expect(statuses == ["HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found"], "\(text)")
            #expect(text.components(separatedBy: robots).count == 2, "the GET has the body, the HEAD none")
            #expect(text.contains("Strata-Release: \(served.v1)"))
            #expect(text.contains("Connection: close"))
            #expect(!channel.isActive)
        }
    }

    @Test func aHeadThatNeverEndsIsCutOffAtTheHeaderTimeout() throws {
        try Self.withEmbeddedConnection { channel, loop, _ in
            try channel.writeInbound(ByteBuffer(string: "GET /robots.txt HTTP/1.1\r\nHost: x\r\n"))
            loop.advanceTime(by: .seconds(9))
            #expect(channel.isActive)
            loop.advanceTime(by: .seconds(1))
            #expect(!channel.isActive)
            #expect(try Self.written(channel).isEmpty)
        }
    }

    @Test func anIdleKeptAliveConnectionIsClosedAtTheIdleTimeout() throws {
        try Self.withEmbeddedConnection { channel, loop, _ in
            loop.advanceTime(by: .seconds(5))
            try channel.writeInbound(ByteBuffer(string: "GET /robots.txt HTTP/1.1\r\nHost: x\r\n\r\n"))
            #expect(try Self.written(channel).hasPrefix("HTTP/1.1 200 OK"))
            loop.advanceTime(by: .seconds(59))  // past the header timeout, within the idle one
            #expect(channel.isActive)
            loop.advanceTime(by: .seconds(1))
            #expect(!channel.isActive)
        }
    }

    @Test func aRefusedRequestIsAnsweredWithItsReasonAndClosed() throws {
        try Self.withEmbeddedConnection { channel, _, _ in
            try channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"))
            let text = try Self.written(channel)
            #expect(text.hasPrefix("HTTP/1.1 400 Bad Request"), "\(text)")
            #expect(text.hasSuffix("obs-fold: a header line starts with whitespace\n"), "\(text)")
            #expect(text.components(separatedBy: "HTTP/1.1 ").count == 2, "one answer only")
            #expect(!channel.isActive)
        }
    }

    @Test func aHalfCloseGetsItsAnswersThenTheClose() throws {
        try Self.withEmbeddedConnection { channel, _, _ in
            try channel.writeInbound(ByteBuffer(string: "GET /robots.txt HTTP/1.1\r\nHost: x\r\n\r\n"))
            channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
            let text = try Self.written(channel)
            #expect(text.hasPrefix("HTTP/1.1 200 OK"))
            #expect(!channel.isActive)
        }
    }
}

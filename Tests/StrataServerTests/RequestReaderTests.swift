import NIOCore
@testable import StrataServer
import Testing

/// The request reader alone: what it hands out for well-formed requests, fed whole and a byte at a
/// time, and the refusal for every malformed form it knows.
@Suite struct RequestReaderTests {
    /// What a part says, in a form tests can compare.
    enum Seen: Equatable, CustomStringConvertible {
        case head(String)
        case body(String)
        case end

        var description: String {
            switch self {
            case .head(let text): "head(\(text))"
            case .body(let text): "body(\(text))"
            case .end: "end"
            }
        }
    }

    struct Reading {
        var seen: [Seen] = []
        var heads: [RequestHead] = []
        var refusal: RequestReader.Refusal?
    }

    /// Feeds `bytes` in pieces of `piece` bytes (all at once by default), taking every part.
    /// `sharedBuffer`: as the server's own loop does, every piece lands in one large buffer used
    /// again for the next, and the reader lets go of what it consumed after each.
    static func read(_ bytes: [UInt8], piece: Int? = nil, limits: (Int, Int) = (16 * 1024, 100), sharedBuffer: Bool = false) -> Reading {
        var reader = RequestReader(maxHeadBytes: limits.0, maxFields: limits.1)
        var reading = Reading()
        var offset = 0
        var shared = ByteBuffer()
        shared.reserveCapacity(64 * 1024)
        while offset < bytes.count {
            let end = min(bytes.count, offset + (piece ?? bytes.count))
            var buffer = ByteBuffer(bytes: bytes[offset..<end])
            if sharedBuffer {
                shared.clear()
                shared.writeBuffer(&buffer)
                buffer = shared
            }
            offset = end
            reader.append(&buffer)
            defer { if sharedBuffer { reader.letGoOfConsumedBytes() } }
            do {
                while let part = try reader.next() {
                    switch part {
                    case .head(let head):
                        reading.heads.append(head)
                        reading.seen.append(.head("\(head.methodName) \(head.uri) 1.\(head.minorVersion)\(head.keepAlive ? "" : " close")"))
                    case .body(let body):
                        if case .body(let earlier)? = reading.seen.last {  // pieces of one body read as one
                            reading.seen[reading.seen.count - 1] = .body(earlier + String(buffer: body))
                        } else {
                            reading.seen.append(.body(String(buffer: body)))
                        }
                    case .end:
                        reading.seen.append(.end)
                    }
                }
            } catch {
                reading.refusal = error
                return reading
            }
        }
        return reading
    }

    static func read(_ text: String, piece: Int? = nil, limits: (Int, Int) = (16 * 1024, 100), sharedBuffer: Bool = false) -> Reading {
        read(Array(text.utf8), piece: piece, limits: limits, sharedBuffer: sharedBuffer)
    }

    // MARK: - Accepted

    static let accepted: [(String, [Seen])] = [
        ("GET / HTTP/1.1\r\nHost: x\r\n\r\n", [.head("GET / 1.1"), .end]),
        ("HEAD /a?b=c HTTP/1.1\r\nHost: x\r\n\r\n", [.head("HEAD /a?b=c 1.1"), .end]),
        ("GET / HTTP/1.0\r\n\r\n", [.head("GET / 1.0 close"), .end]),
        ("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", [.head("GET / 1.0"), .end]),
        ("GET / HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive, close\r\n\r\n", [.head("GET / 1.1 close"), .end]),
        ("GET / HTTP/1.2\r\nHost: x\r\n\r\n", [.head("GET / 1.1"), .end]),
        // A single LF ends a line (RFC 9112 §2.2), and empty lines before a request are skipped.
        ("GET / HTTP/1.1\nHost: x\n\n", [.head("GET / 1.1"), .end]),
        ("\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", [.head("GET / 1.1"), .end]),
        ("DELETE /x HTTP/1.1\r\nHost: x\r\n\r\n", [.head("DELETE /x 1.1"), .end]),
        ("POST /f HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world", [.head("POST /f 1.1"), .body("hello world"), .end]),
        ("POST /f HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\nhello", [.head("POST /f 1.1"), .body("hello"), .end]),
        ("POST /f HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", [.head("POST /f 1.1"), .end]),
        ("POST /f HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;name=v\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
         [.head("POST /f 1.1"), .body("hello world"), .end]),
        ("POST /f HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n", [.head("POST /f 1.1"), .end]),
        ("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
         [.head("GET /a 1.1"), .end, .head("GET /b 1.1 close"), .end]),
        // UTF-8 in the target is left to the target's own checks.
        ("GET /caf\u{e9} HTTP/1.1\r\nHost: x\r\n\r\n", [.head("GET /caf\u{e9} 1.1"), .end]),
    ]

    @Test(arguments: accepted.indices)
    func aWellFormedRequestIsReadTheSameWholeOrAByteAtATime(_ number: Int) {
        let (text, expected) = Self.accepted[number]
        for piece in [nil, 1, 3, 7] {
            for sharedBuffer in [false, true] {
                let reading = Self.read(text, piece: piece, sharedBuffer: sharedBuffer)
                let how = "\(text.debugDescription) in pieces of \(piece ?? 0)\(sharedBuffer ? ", through one shared buffer" : "")"
                #expect(reading.refusal == nil, "\(how): \(String(describing: reading.refusal))")
                #expect(reading.seen == expected, "\(how)")
            }
        }
    }

    @Test func theFieldsTheServerActsOnAreFoundWhateverTheirCase() throws {
        let text = "GET /p HTTP/1.1\r\nHOST: Example.com:80 \r\nif-none-match: \"a\"\r\nIf-None-Match: \"b\"\r\nRange: bytes=0-1\r\n"
            + "If-Range: \"a\"\r\nAccept: text/html\r\nAuthorization: Basic eDp5\r\nCookie: a=1\r\nCookie: b=2\r\n"
            + "Referer: http://r/\r\nUser-Agent: test/1\r\nAccept-Encoding: br, GZIP;q=0.5\r\nX-Other: ignored\r\n\r\n"
        let reading = Self.read(text)
        let head = try #require(reading.heads.first)
        #expect(head.string(head.fields.host) == "Example.com:80")
        #expect(head.string(head.fields.ifNoneMatch) == "\"a\"")
        #expect(head.fields.ifNoneMatchRepeats && head.fields.cookieRepeats)
        #expect(head.string(head.fields.range) == "bytes=0-1")
        #expect(head.string(head.fields.ifRange) == "\"a\"")
        #expect(head.string(head.fields.accept) == "text/html")
        #expect(head.string(head.fields.referer) == "http://r/")
        #expect(head.string(head.fields.userAgent) == "test/1")
        #expect(head.fields.encodings.accepts(.gzip))
        head.withHeaders { target, headers in
            #expect(String(decoding: target, as: UTF8.self) == "/p")
            #expect(headers.authorization == "Basic eDp5")
            #expect(headers.cookie == "a=1; b=2")
            #expect(headers.noneMatchHits("\"b\"".utf8))
            #expect(!headers.noneMatchHits("\"c\"".utf8))
        }
    }

    @Test func expectContinueIsNotedOnlyWhenABodyIsToCome() throws {
        let withBody = Self.read("POST /f HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
        #expect(try #require(withBody.heads.first).expectsContinue)
        let without = Self.read("GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\n\r\n")
        #expect(try #require(without.heads.first).expectsContinue == false)
    }

    @Test func aRefusalStaysAndNothingAfterItIsRead() {
        var reader = RequestReader()
        var bytes = ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\r\nX: a\u{0}b\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        reader.append(&bytes)
        #expect(throws: RequestReader.Refusal.self) { try reader.next() }
        #expect(throws: RequestReader.Refusal.self) { try reader.next() }
        #expect(reader.bufferedBytes == 0)
    }

    // MARK: - Refused

    static let refused: [(String, Int, String)] = [
        // Framing: two ways of saying where the body ends, or a length that cannot be trusted.
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "both Content-Length and Transfer-Encoding"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400, "both Content-Length and Transfer-Encoding"),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400, "differing Content-Length"),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\n", 400, "malformed Content-Length"),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, "malformed Content-Length"),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n", 400, "malformed Content-Length"),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n", 400, "malformed Content-Length"),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400, "malformed Content-Length"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "transfer coding"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, "transfer coding"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400, "chunked given twice"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \r\n\r\n", 400, "empty Transfer-Encoding"),
        ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "HTTP/1.0"),
        // Lines: obs-fold, bare CR, NUL and other control characters, malformed names.
        ("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400, "obs-fold"),
        ("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n", 400, "obs-fold"),
        ("GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400, "obs-fold"),
        ("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400, "bare CR"),
        ("GET / HTTP/1.1\r\nHost: x\r\r\n\r\n", 400, "bare CR"),
        ("GET / HTTP/1.1\r\nHost: x\r\n\r\r\n\r\n", 400, "bare CR"),
        ("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u{0}b\r\n\r\n", 400, "NUL in a header"),
        ("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u{1}b\r\n\r\n", 400, "control character in a header"),
        ("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u{7f}\r\n\r\n", 400, "control character in a header"),
        ("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, "malformed header line"),
        ("GET / HTTP/1.1\r\n: x\r\nHost: x\r\n\r\n", 400, "malformed header line"),
        ("GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400, "malformed header line"),
        ("GET / HTTP/1.1\r\nHost: x\r\nX(A): b\r\n\r\n", 400, "malformed header line"),
        // Host: required by HTTP/1.1, once.
        ("GET / HTTP/1.1\r\n\r\n", 400, "no Host header"),
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "more than one Host"),
        // The request line.
        ("NOT HTTP AT ALL\r\n\r\n", 400, "malformed"),
        ("GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "malformed request line"),
        ("GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400, "malformed request line"),
        ("GET /\r\nHost: x\r\n\r\n", 400, "request target"),
        ("G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "malformed request line"),
        ("GET /a\u{0}b HTTP/1.1\r\nHost: x\r\n\r\n", 400, "NUL in the request target"),
        ("GET /a\u{1}b HTTP/1.1\r\nHost: x\r\n\r\n", 400, "control character"),
        ("GET /a\rb HTTP/1.1\r\nHost: x\r\n\r\n", 400, "control character"),
        ("GET / http/1.1\r\nHost: x\r\n\r\n", 400, "malformed HTTP version"),
        ("GET / HTTP/1.1x\r\nHost: x\r\n\r\n", 400, "malformed request line"),
        ("GET / HTTP/11\r\nHost: x\r\n\r\n", 400, "malformed HTTP version"),
        ("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "HTTP/1.0 and HTTP/1.1"),
        ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, "HTTP/1.0 and HTTP/1.1"),
        // Expect.
        ("POST / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx", 417, "100-continue"),
        // Chunked framing: CRLF exactly, hex sizes that fit, extensions without control characters.
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "malformed chunk size"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", 400, "malformed chunk size"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", 400, "malformed chunk size"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n", 400, "malformed chunk size"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\u{1}\r\nhello\r\n0\r\n\r\n", 400, "malformed chunk size"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", 400, "not ended by CRLF"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", 400, "not followed by CRLF"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;\(String(repeating: "e", count: 2000))\r\n", 400, "too long"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\(String(repeating: "0", count: 2000))", 400, "too long"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n b\r\n\r\n", 400, "obs-fold"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\u{0}\r\n\r\n", 400, "NUL"),
    ]

    @Test(arguments: refused.indices)
    func aMalformedRequestIsRefusedWithItsReasonWholeOrAByteAtATime(_ number: Int) {
        let (text, status, reason) = Self.refused[number]
        for piece in [nil, 1, 5] {
            let reading = Self.read(text, piece: piece)
            #expect(reading.refusal.map { Int($0.status.code) } == status, "\(text.debugDescription) in pieces of \(piece ?? 0): \(reading.seen)")
            #expect(reading.refusal?.reason.contains(reason) == true, "\(text.debugDescription): \(String(describing: reading.refusal?.reason))")
        }
    }

    @Test func headsPastTheLimitsAre431WhetherTheirEndHasComeOrNot() {
        let limits = (1024, 10)
        let long = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 1100))\r\n\r\n"
        #expect(Self.read(long, limits: limits).refusal == .tooLarge)
        #expect(Self.read(String(long.dropLast(4)), limits: limits).refusal == .tooLarge)  // never ends: refused at the limit
        #expect(Self.read(long, piece: 100, limits: limits).refusal == .tooLarge)
        let exactly = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "a", count: 1024 - 36) + "\r\n\r\n"
        #expect(exactly.utf8.count == 1024)
        #expect(Self.read(exactly, limits: limits).seen.count == 2)
        let many = "GET / HTTP/1.1\r\nHost: x\r\n" + (0..<10).map { "X-\($0): v\r\n" }.joined() + "\r\n"
        #expect(Self.read(many, limits: limits).refusal == .tooLarge)
        #expect(Self.read("GET /\(String(repeating: "a", count: 2000)) HTTP/1.1\r\nHost: x\r\n\r\n", limits: limits).refusal == .tooLarge)
    }

    @Test func aHeadNearTheLimitMayTrickleInAByteAtATime() {
        let text = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 16_000))\r\n\r\n"
        let reading = Self.read(text, piece: 1)
        #expect(reading.seen.count == 2)
    }
    @Test func theEndOfABodilessRequestCanBeTakenAtOnceAndOnlyThen() throws {
        var reader = RequestReader()
        var bytes = ByteBuffer(string: "GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhiGET /c HTTP/1.1\r\nHost: x\r\n\r\n")
        reader.append(&bytes)
        guard case .head(let first)? = try reader.next() else { Issue.record("no first head"); return }
        #expect(first.uri == "/a")
        let taken = reader.takeEndOfBodiless()
        let takenAgain = reader.takeEndOfBodiless()
        #expect(taken)
        #expect(!takenAgain)  // taken once
        guard case .head(let post)? = try reader.next() else { Issue.record("the end of /a was handed out again"); return }
        #expect(post.uri == "/b")
        let takenBeforeBody = reader.takeEndOfBodiless()
        #expect(!takenBeforeBody)  // a body is to come
        guard case .body(let body)? = try reader.next() else { Issue.record("no body"); return }
        #expect(String(buffer: body) == "hi")
        guard case .end? = try reader.next() else { Issue.record("no end of /b"); return }
        guard case .head(let last)? = try reader.next() else { Issue.record("no third head"); return }
        #expect(last.uri == "/c")
    }

    @Test func sameComparesBytesWhetherTheyAreContiguousOrNot() {
        let tag = Array("\"2edf\"".utf8)
        #expect(HTTPSemantics.same(tag[...], "\"2edf\"".utf8))
        #expect(!HTTPSemantics.same(tag[...], "\"2edg\"".utf8))
        #expect(!HTTPSemantics.same(tag.dropLast(), tag))
        #expect(HTTPSemantics.same([UInt8](), [UInt8]()))
        #expect(HTTPSemantics.same(tag.reversed().reversed(), tag))  // no contiguous storage: compared element-wise
        #expect(!HTTPSemantics.same(tag.reversed(), tag))
    }

    /// The parser keeps the token test as two 64-bit masks; they must say what RFC 9110's list says.
    @Test func theTokenMasksHoldExactlyRFC9110sTchar() {
        let tchar = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        for byte in 0...255 {
            #expect(HeadParser.isTokenByte(UInt8(byte)) == tchar.contains(UInt8(byte)), "byte \(byte)")
        }
    }

    /// A value is scanned eight bytes at a time: a control character must be found at every offset
    /// of a word, at every length, and a tab, DEL or a byte above 0x7F handled as a lone byte is.
    @Test func aValueIsCheckedAtEveryOffsetOfTheWordScan() throws {
        for length in 0...20 {
            for offset in 0..<max(length, 1) where length > 0 {
                for (bad, allowed) in [(UInt8(0), false), (0x01, false), (0x1F, false), (0x7F, false), (0x09, true), (0x80, true), (0xFF, true), (0x20, true)] {
                    var value = [UInt8](repeating: UInt8(ascii: "v"), count: length)
                    value[offset] = bad
                    if offset == length - 1 && (bad == 0x09 || bad == 0x20) { value[offset] = UInt8(ascii: "w") }  // trailing OWS is trimmed: not what this checks
                    let bytes = Array("GET / HTTP/1.1\r\nHost: x\r\nX-Long: ".utf8) + value + Array("\r\nIf-Range: \"t\"\r\n\r\n".utf8)
                    let reading = Self.read(bytes)
                    if allowed {
                        let head = try #require(reading.heads.first, "length \(length), byte \(bad) at \(offset)")
                        #expect(head.string(head.fields.ifRange) == "\"t\"")
                    } else {
                        #expect(reading.refusal?.status == .badRequest, "length \(length), byte \(bad) at \(offset)")
                    }
                }
            }
            // Clean values of every length end where the line ends, CRLF or a lone LF.
            let value = String(repeating: "a", count: length)
            for ending in ["\r\n", "\n"] {
                let head = try #require(Self.read("GET / HTTP/1.1\r\nHost: x\r\nReferer: \(value)\(ending)\r\n").heads.first)
                #expect(head.string(head.fields.referer) == value)
            }
        }
    }

    /// Repeated `If-None-Match` and `Cookie` lines are found by reading the head again: a tag on
    /// the third line matches, cookies join in order, and other fields between them do not count.
    @Test func repeatedLinesAreReadAgainWhenTheyMatter() throws {
        let text = "GET / HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"a\"\r\nCookie: one=1\r\nX-If-None-Match: \"z\"\r\n"
            + "if-none-match: \"b\", W/\"c\"\r\nCOOKIE: two=2\r\nIf-None-Match: \"d\"\r\nCookie: three=3\r\n\r\n"
        let head = try #require(Self.read(text).heads.first)
        #expect(head.fields.ifNoneMatchRepeats && head.fields.cookieRepeats)
        head.withHeaders { _, headers in
            for tag in ["\"a\"", "\"b\"", "\"c\"", "\"d\""] { #expect(headers.noneMatchHits(tag.utf8), "\(tag)") }
            #expect(!headers.noneMatchHits("\"z\"".utf8))
            #expect(headers.cookie == "one=1; two=2; three=3")
        }
        let once = try #require(Self.read("GET / HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"a\", \"b\"\r\nCookie: c=1\r\n\r\n").heads.first)
        #expect(!once.fields.ifNoneMatchRepeats && !once.fields.cookieRepeats)
        once.withHeaders { _, headers in
            #expect(headers.noneMatchHits("\"b\"".utf8))
            #expect(headers.cookie == "c=1")
        }
    }

    /// Methods are told apart by their bytes and length alone.
    @Test func methodsAreKnownByTheirExactBytes() throws {
        for (method, known) in [("GET", RequestHead.Method.get), ("HEAD", .head), ("POST", .post), ("GETS", .other), ("get", .other), ("HEAD2", .other), ("PUT", .other), ("G", .other)] {
            let head = try #require(Self.read("\(method) / HTTP/1.1\r\nHost: x\r\n\r\n").heads.first, "\(method)")
            #expect(head.method == known, "\(method)")
            #expect(head.methodName == method)
        }
    }
}

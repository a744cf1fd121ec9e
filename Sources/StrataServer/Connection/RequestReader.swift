#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOHTTP1

/// Reads HTTP/1.1 requests (RFC 9112) out of the bytes a connection receives, one part at a time:
/// a head, the pieces of its body, its end. A value with no I/O: the connection appends what the
/// socket delivered and takes parts until it needs more.
///
/// The head is found by scanning the received bytes in place and is handed on as a slice of them:
/// nothing is copied, and no header array or string is made. It is strict where leniency lets two
/// parsers disagree about where a request ends (request smuggling): both `Content-Length` and
/// `Transfer-Encoding`, differing lengths, obs-fold, bare CR, NUL and other control characters are
/// refused with 400, and a chunked body must use CRLF exactly. A single LF ends a head line, as
/// RFC 9112 §2.2 allows. A refused request ends the connection: what follows it cannot be framed.
struct RequestReader {
    enum Part {
        case head(RequestHead)
        /// Body bytes as they arrive (a slice of the received bytes).
        case body(ByteBuffer)
        case end
    }

    /// Why a request was refused: the status to answer with (then close) and a line saying why.
    struct Refusal: Error, Equatable {
        let status: HTTPResponseStatus
        let reason: String

        static func bad(_ reason: String) -> Refusal { Refusal(status: .badRequest, reason: reason) }
        static let tooLarge = Refusal(status: .requestHeaderFieldsTooLarge, reason: "request header fields too large")
    }

    private enum State {
        case head
        /// The head was handed out; its end (it has no body) comes next.
        case endOfBodiless
        case fixedBody(remaining: Int)
        case chunkHeader
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case refused(Refusal)
    }

    let maxHeadBytes: Int
    let maxFields: Int
    private var buffer = ByteBuffer()
    private var state = State.head
    /// How far the search for the end of the head (or of the trailers) has looked, and where its
    /// current line starts: a head that trickles in is scanned once, not once per read.
    private var scanned = 0
    private var lineStart = 0

    /// The longest chunk-size line accepted (extensions included).
    static let maxChunkLine = 1024

    init(maxHeadBytes: Int = 16 * 1024, maxFields: Int = 100) {
        self.maxHeadBytes = maxHeadBytes
        self.maxFields = maxFields
    }

    /// Bytes received and not yet handed out.
    var bufferedBytes: Int { buffer.readableBytes }

    /// Between requests, with nothing of the next one received.
    var isIdle: Bool {
        if case .head = state { return buffer.readableBytes == 0 }
        return false
    }

    mutating func append(_ incoming: inout ByteBuffer) {
        if buffer.readableBytes == 0 {
            buffer = incoming  // the usual case: take the received buffer as it is, no copy
        } else {
            buffer.writeBuffer(&incoming)
        }
    }

    /// Lets go of the memory behind bytes already handed out, so a loop's receive buffer is
    /// reused for the next read instead of copied on write. Part of a request still to come keeps
    /// only its own bytes, copied out of a buffer much larger than they are (thousands of slow
    /// clients must not each hold a whole receive buffer).
    mutating func letGoOfConsumedBytes() {
        let kept = buffer.readableBytes
        if kept == 0 {
            buffer = ByteBuffer()  // shares NIO's empty storage: no allocation
        } else if buffer.capacity >= 4 * kept + 4096 {
            var copy = ByteBuffer()
            copy.reserveCapacity(kept)
            copy.writeImmutableBuffer(buffer)
            buffer = copy
        }
    }

    /// True, and the end taken, when the head just handed out has no body: its end is then the
    /// next part, and the connection may answer without keeping the head until it comes.
    mutating func takeEndOfBodiless() -> Bool {
        guard case .endOfBodiless = state else { return false }
        state = .head
        return true
    }

    /// The next part, nil when more bytes are needed. After a refusal every call throws it again.
    mutating func next() throws(Refusal) -> Part? {
        do {
            return try readPart()
        } catch {
            state = .refused(error)
            buffer = ByteBuffer()
            throw error
        }
    }

    private mutating func readPart() throws(Refusal) -> Part? {
        switch state {
        case .refused(let refusal):
            throw refusal
        case .head:
            return try readHead()
        case .endOfBodiless:
            state = .head
            return .end
        case .fixedBody(let remaining):
            guard buffer.readableBytes > 0 else { return nil }
            let piece = buffer.readSlice(length: min(remaining, buffer.readableBytes))!
            state = piece.readableBytes == remaining ? .endOfBodiless : .fixedBody(remaining: remaining - piece.readableBytes)
            return .body(piece)
        case .chunkData(let remaining):
            guard buffer.readableBytes > 0 else { return nil }
            let piece = buffer.readSlice(length: min(remaining, buffer.readableBytes))!
            state = piece.readableBytes == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - piece.readableBytes)
            return .body(piece)
        case .chunkHeader, .chunkDataEnd, .trailers:
            return try readChunkFraming()
        }
    }

    // MARK: - The head

    private mutating func readHead() throws(Refusal) -> Part? {
        // Empty lines before a request line are ignored (RFC 9112 §2.2): some clients send a CRLF
        // after a POST body.
        while let first = buffer.readableBytesView.first, first == UInt8(ascii: "\r") || first == UInt8(ascii: "\n") {
            if first == UInt8(ascii: "\r") {
                guard buffer.readableBytes >= 2 else { return nil }
                guard buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self) == UInt8(ascii: "\n") else { throw .bad("bare CR in the head") }
                buffer.moveReaderIndex(forwardBy: 2)
            } else {
                buffer.moveReaderIndex(forwardBy: 1)
            }
            (scanned, lineStart) = (0, 0)
        }
        guard let end = try findBlankLine() else { return nil }
        let bytes = buffer.readSlice(length: end)!
        (scanned, lineStart) = (0, 0)
        let parsed = bytes.withUnsafeReadableBytes { raw in
            var parser = HeadParser(raw, maxFields: maxFields)
            return Result { () throws(Refusal) in try parser.parse() }
        }
        let head = try parsed.get()
        let framed = RequestHead(bytes: bytes, parsed: head)
        switch head.framing {
        case .none: state = .endOfBodiless
        case .length(let length): state = length == 0 ? .endOfBodiless : .fixedBody(remaining: length)
        case .chunked: state = .chunkHeader
        }
        return .head(framed)
    }

    /// The offset just past the empty line that ends a head or a trailer section, or nil when it
    /// has not arrived; refuses one past `maxHeadBytes`.
    private mutating func findBlankLine() throws(Refusal) -> Int? {
        let found: Int? = buffer.withUnsafeReadableBytes { raw in
            guard let base = raw.baseAddress else { return nil }
            while scanned < raw.count {
                guard let hit = memchr(base + scanned, Int32(UInt8(ascii: "\n")), raw.count - scanned) else {
                    scanned = raw.count
                    return nil
                }
                let newline = base.distance(to: UnsafeRawPointer(hit))
                let length = newline - lineStart
                let isBlank = length == 0 || (length == 1 && raw[lineStart] == UInt8(ascii: "\r"))
                scanned = newline + 1
                lineStart = newline + 1
                if isBlank { return newline + 1 }
            }
            return nil
        }
        if let found {
            guard found <= maxHeadBytes else { throw .tooLarge }
            return found
        }
        guard buffer.readableBytes <= maxHeadBytes else { throw .tooLarge }
        return nil
    }

    // MARK: - Chunked bodies (RFC 9112 §7.1)

    private mutating func readChunkFraming() throws(Refusal) -> Part? {
        while true {
            switch state {
            case .chunkHeader:
                guard let line = try chunkLine() else { return nil }
                guard let size = Self.chunkSize(line) else { throw .bad("malformed chunk size") }
                state = size == 0 ? .trailers : .chunkData(remaining: size)
                if size > 0 { return try readPart() }
            case .chunkDataEnd:
                guard buffer.readableBytes >= 2 else { return nil }
                guard buffer.readInteger(as: UInt16.self) == 0x0D0A else { throw .bad("chunk data not followed by CRLF") }
                state = .chunkHeader
            case .trailers:
                guard let end = try findBlankLine() else { return nil }
                let trailers = buffer.readSlice(length: end)!
                (scanned, lineStart) = (0, 0)
                try Self.checkTrailers(trailers)
                state = .head
                return .end
            default:
                preconditionFailure("only chunk framing is read here")
            }
        }
    }

    /// One CRLF-terminated chunk-size line without its CRLF, or nil when it has not all arrived.
    private mutating func chunkLine() throws(Refusal) -> ByteBuffer? {
        let view = buffer.readableBytesView
        guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else {
            guard view.count <= Self.maxChunkLine else { throw .bad("chunk-size line too long") }
            return nil
        }
        let length = newline - view.startIndex
        guard length <= Self.maxChunkLine else { throw .bad("chunk-size line too long") }
        guard length >= 1, view[newline - 1] == UInt8(ascii: "\r") else { throw .bad("chunk-size line not ended by CRLF") }
        let line = buffer.readSlice(length: length - 1)!
        buffer.moveReaderIndex(forwardBy: 2)
        return line
    }

    /// `1a;name=value` → 26. Hex digits (at most 15, so the size fits an Int), then optional
    /// extensions, which are ignored but must hold no control characters.
    static func chunkSize(_ line: ByteBuffer) -> Int? {
        let bytes = line.readableBytesView
        var size = 0
        var digits = 0
        var index = bytes.startIndex
        while index < bytes.endIndex, let digit = hexValue(bytes[index]) {
            size = size << 4 | Int(digit)
            digits += 1
            index += 1
        }
        guard digits > 0, digits <= 15 else { return nil }
        let rest = bytes[index...]
        guard rest.isEmpty || rest.first == UInt8(ascii: ";") || rest.first == UInt8(ascii: " ") || rest.first == UInt8(ascii: "\t") else { return nil }
        guard rest.allSatisfy({ $0 == UInt8(ascii: "\t") || ($0 >= 0x20 && $0 != 0x7F) }) else { return nil }
        return size
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Trailer fields are read and dropped, but held to the rules of header lines.
    private static func checkTrailers(_ trailers: ByteBuffer) throws(Refusal) {
        let checked = trailers.withUnsafeReadableBytes { raw in
            var parser = HeadParser(raw, maxFields: .max)
            return Result { () throws(Refusal) in try parser.checkFieldLines() }
        }
        try checked.get()
    }
}

/// What a head's scan found, as offsets into its bytes.
struct ParsedHead {
    enum Framing: Equatable {
        case none
        case length(Int)
        case chunked
    }

    var method: RequestHead.Method = .other
    var methodRange: Range<Int> = 0..<0
    var targetRange: Range<Int> = 0..<0
    var minorVersion = 1
    var keepAlive = true
    var expectsContinue = false
    var framing = Framing.none
    var fields = RequestFields()
}

/// The offsets of the header fields the server acts on (a second line of a field kept only for
/// the two that may repeat usefully), and what `Accept-Encoding` said of gzip.
struct RequestFields {
    var host: Range<Int>?
    var ifNoneMatch: Range<Int>?
    var moreIfNoneMatch: [Range<Int>] = []
    var range: Range<Int>?
    var ifRange: Range<Int>?
    var accept: Range<Int>?
    var authorization: Range<Int>?
    var cookie: Range<Int>?
    var moreCookies: [Range<Int>] = []
    var referer: Range<Int>?
    var userAgent: Range<Int>?
    var encodings = HTTPSemantics.EncodingAcceptance()
}

/// One scan of a complete head (request line, field lines, the empty line), checking every byte.
private struct HeadParser {
    private let raw: UnsafeRawBufferPointer
    private let maxFields: Int
    private var position = 0
    private var head = ParsedHead()

    init(_ raw: UnsafeRawBufferPointer, maxFields: Int) {
        self.raw = raw
        self.maxFields = maxFields
    }

    mutating func parse() throws(RequestReader.Refusal) -> ParsedHead {
        try readRequestLine()
        var contentLength: Int?
        var chunked = false
        var transferEncoding = false
        var connectionClose = false
        var connectionKeepAlive = false
        var fieldCount = 0
        while let (name, value) = try nextField() {
            fieldCount += 1
            guard fieldCount <= maxFields else { throw .tooLarge }
            let nameBytes = raw[name]
            switch name.count {
            case 4 where Self.named(nameBytes, "host"):
                guard head.fields.host == nil else { throw .bad("more than one Host header") }
                head.fields.host = value
            case 5 where Self.named(nameBytes, "range"):
                if head.fields.range == nil { head.fields.range = value }
            case 6 where Self.named(nameBytes, "accept"):
                if head.fields.accept == nil { head.fields.accept = value }
            case 6 where Self.named(nameBytes, "cookie"):
                if head.fields.cookie == nil { head.fields.cookie = value } else { head.fields.moreCookies.append(value) }
            case 6 where Self.named(nameBytes, "expect"):
                guard HTTPSemantics.equalIgnoringCase(raw[value], "100-continue".utf8) else {
                    throw RequestReader.Refusal(status: .expectationFailed, reason: "the only expectation understood is 100-continue")
                }
                head.expectsContinue = true
            case 7 where Self.named(nameBytes, "referer"):
                if head.fields.referer == nil { head.fields.referer = value }
            case 8 where Self.named(nameBytes, "if-range"):
                if head.fields.ifRange == nil { head.fields.ifRange = value }
            case 10 where Self.named(nameBytes, "connection"):
                HTTPSemantics.forEachItem(raw[value]) { token in
                    if HTTPSemantics.equalIgnoringCase(token, "close".utf8) { connectionClose = true }
                    if HTTPSemantics.equalIgnoringCase(token, "keep-alive".utf8) { connectionKeepAlive = true }
                }
            case 10 where Self.named(nameBytes, "user-agent"):
                if head.fields.userAgent == nil { head.fields.userAgent = value }
            case 13 where Self.named(nameBytes, "if-none-match"):
                if head.fields.ifNoneMatch == nil { head.fields.ifNoneMatch = value } else { head.fields.moreIfNoneMatch.append(value) }
            case 13 where Self.named(nameBytes, "authorization"):
                if head.fields.authorization == nil { head.fields.authorization = value }
            case 14 where Self.named(nameBytes, "content-length"):
                let length = try Self.contentLength(raw[value])
                guard contentLength == nil || contentLength == length else { throw .bad("differing Content-Length values") }
                contentLength = length
            case 15 where Self.named(nameBytes, "accept-encoding"):
                head.fields.encodings.read(raw[value])
            case 17 where Self.named(nameBytes, "transfer-encoding"):
                transferEncoding = true
                var unknown = false
                var repeated = false
                HTTPSemantics.forEachItem(raw[value]) { coding in
                    if HTTPSemantics.equalIgnoringCase(coding, "chunked".utf8) {
                        if chunked { repeated = true }
                        chunked = true
                    } else {
                        unknown = true
                    }
                }
                if repeated { throw .bad("chunked given twice in Transfer-Encoding") }
                if unknown { throw RequestReader.Refusal(status: .notImplemented, reason: "the only transfer coding understood is chunked") }
            default:
                break
            }
        }
        if transferEncoding {
            guard contentLength == nil else { throw .bad("both Content-Length and Transfer-Encoding") }
            guard head.minorVersion == 1 else { throw .bad("Transfer-Encoding in an HTTP/1.0 request") }
            guard chunked else { throw .bad("an empty Transfer-Encoding") }
            head.framing = .chunked
        } else if let contentLength {
            head.framing = .length(contentLength)
        }
        if head.minorVersion == 1 && head.fields.host == nil { throw .bad("no Host header") }
        head.keepAlive = head.minorVersion == 1 ? !connectionClose : (connectionKeepAlive && !connectionClose)
        if head.framing == .none || head.framing == .length(0) { head.expectsContinue = false }
        return head
    }

    /// Field lines up to the empty line, checked and dropped (trailers).
    mutating func checkFieldLines() throws(RequestReader.Refusal) {
        while try nextField() != nil {}
    }

    // MARK: - Request line: method SP request-target SP HTTP-version

    private mutating func readRequestLine() throws(RequestReader.Refusal) {
        let methodStart = position
        while position < raw.count, Self.isTokenByte(raw[position]) { position += 1 }
        guard position > methodStart, position < raw.count, raw[position] == UInt8(ascii: " ") else {
            throw .bad("malformed request line")
        }
        head.methodRange = methodStart..<position
        head.method = Self.method(raw[head.methodRange])
        position += 1

        let targetStart = position
        while position < raw.count {
            let byte = raw[position]
            if byte == UInt8(ascii: " ") { break }
            guard byte > 0x20 && byte != 0x7F else {
                throw .bad(byte == 0 ? "NUL in the request target" : "control character or space in the request target")
            }
            position += 1
        }
        guard position > targetStart, position < raw.count else { throw .bad("malformed request line") }
        head.targetRange = targetStart..<position
        position += 1

        // HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive.
        let version = raw[position..<min(position + 8, raw.count)]
        guard version.count == 8, version.starts(with: "HTTP/".utf8), Self.isDigit(version[position + 5]),
              version[position + 6] == UInt8(ascii: "."), Self.isDigit(version[position + 7]) else {
            throw .bad("malformed HTTP version")
        }
        guard version[position + 5] == UInt8(ascii: "1") else {
            throw RequestReader.Refusal(status: .httpVersionNotSupported, reason: "only HTTP/1.0 and HTTP/1.1 are served")
        }
        head.minorVersion = version[position + 7] == UInt8(ascii: "0") ? 0 : 1
        position += 8
        try endLine("malformed request line")
    }

    // MARK: - Field lines: name ":" OWS value OWS

    /// The next field's name and value (trimmed), or nil at the empty line that ends the head.
    private mutating func nextField() throws(RequestReader.Refusal) -> (Range<Int>, Range<Int>)? {
        guard position < raw.count else { throw .bad("the head ended without an empty line") }
        if raw[position] == UInt8(ascii: "\n") || raw[position] == UInt8(ascii: "\r") {
            try endLine("bare CR in the head")
            return nil
        }
        let byte = raw[position]
        if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") {
            throw .bad("obs-fold: a header line starts with whitespace")
        }
        let nameStart = position
        while position < raw.count, Self.isTokenByte(raw[position]) { position += 1 }
        guard position > nameStart, position < raw.count, raw[position] == UInt8(ascii: ":") else {
            throw .bad("malformed header line")
        }
        let name = nameStart..<position
        position += 1
        while position < raw.count, raw[position] == UInt8(ascii: " ") || raw[position] == UInt8(ascii: "\t") { position += 1 }
        let valueStart = position
        var valueEnd = position
        while position < raw.count {
            let byte = raw[position]
            if byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n") { break }
            if byte < 0x20 && byte != UInt8(ascii: "\t") || byte == 0x7F {
                throw .bad(byte == 0 ? "NUL in a header" : "control character in a header")
            }
            position += 1
            if byte != UInt8(ascii: " ") && byte != UInt8(ascii: "\t") { valueEnd = position }
        }
        try endLine("bare CR in the head")
        return (name, valueStart..<valueEnd)
    }

    /// Consumes CRLF or LF; anything else (a CR not followed by LF) is refused with `problem`.
    private mutating func endLine(_ problem: String) throws(RequestReader.Refusal) {
        if position < raw.count, raw[position] == UInt8(ascii: "\r") { position += 1 }
        guard position < raw.count, raw[position] == UInt8(ascii: "\n") else { throw .bad(problem) }
        position += 1
    }

    // MARK: - Bytes

    /// RFC 9110 §5.6.2: `tchar`.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private static func named(_ bytes: Slice<UnsafeRawBufferPointer>, _ name: StaticString) -> Bool {
        HTTPSemantics.equalIgnoringCase(bytes, UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
    }

    private static func method(_ bytes: Slice<UnsafeRawBufferPointer>) -> RequestHead.Method {
        if HTTPSemantics.same(bytes, "GET".utf8) { return .get }
        if HTTPSemantics.same(bytes, "HEAD".utf8) { return .head }
        if HTTPSemantics.same(bytes, "POST".utf8) { return .post }
        return .other
    }

    /// `Content-Length`: digits, or a list of equal values (`42, 42`, RFC 9110 §8.6).
    private static func contentLength(_ value: Slice<UnsafeRawBufferPointer>) throws(RequestReader.Refusal) -> Int {
        var length: Int?
        var bad = false
        HTTPSemantics.forEachItem(value) { item in
            var number = 0
            for byte in item {
                guard isDigit(byte), number <= (Int.max - 9) / 10 else {
                    bad = true
                    return
                }
                number = number * 10 + Int(byte - UInt8(ascii: "0"))
            }
            if length != nil && length != number { bad = true }
            length = number
        }
        guard !bad, let length else { throw .bad("malformed Content-Length") }
        return length
    }
}

/// The head of one request: its method, target and version, and where the header fields the
/// server acts on sit in its bytes, which are a slice of what the socket delivered.
struct RequestHead {
    enum Method: Equatable {
        case get, head, post
        /// Any other token: answered with 405.
        case other
    }

    let bytes: ByteBuffer
    let method: Method
    let methodRange: Range<Int>
    let targetRange: Range<Int>
    /// 0 or 1: HTTP/1.0 or HTTP/1.1 (a later 1.x is read as 1.1).
    let minorVersion: Int
    /// The connection may carry another request after this one (RFC 9112 §9.3).
    let keepAlive: Bool
    /// `Expect: 100-continue` on a request with a body.
    let expectsContinue: Bool
    let framing: ParsedHead.Framing
    let fields: RequestFields

    fileprivate init(bytes: ByteBuffer, parsed: ParsedHead) {
        self.bytes = bytes
        method = parsed.method
        methodRange = parsed.methodRange
        targetRange = parsed.targetRange
        minorVersion = parsed.minorVersion
        keepAlive = parsed.keepAlive
        expectsContinue = parsed.expectsContinue
        framing = parsed.framing
        fields = parsed.fields
    }

    // Strings, for the access log and the rare answers that quote the request.

    var methodName: String { string(methodRange) }
    var uri: String { string(targetRange) }
    func string(_ range: Range<Int>) -> String { bytes.getString(at: bytes.readerIndex + range.lowerBound, length: range.count) ?? "" }
    func string(_ range: Range<Int>?) -> String? { range.map(string) }

    /// True when the target is exactly `path` or `path?…`.
    func targetIs(_ path: String) -> Bool {
        bytes.withUnsafeReadableBytes { raw in
            let target = raw[targetRange]
            let wanted = path.utf8
            guard target.starts(with: wanted) else { return false }
            return target.count == wanted.count || target[target.startIndex + wanted.count] == UInt8(ascii: "?")
        }
    }
}

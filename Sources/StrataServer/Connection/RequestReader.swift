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
        precondition(maxHeadBytes < Int(UInt32.max), "a head's offsets are kept in 32 bits")
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

/// Where a part of a head sits in its bytes: 8 bytes where `Range<Int>?` takes 17, so a parsed
/// head is small and copied cheaply. Heads are far shorter than 4 GiB (`RequestReader.init`).
struct Span: Equatable {
    let start: UInt32
    let end: UInt32

    static let absent = Span(start: .max, end: .max)

    private init(start: UInt32, end: UInt32) {
        self.start = start
        self.end = end
    }

    init(_ start: Int, _ end: Int) {
        self.start = UInt32(truncatingIfNeeded: start)
        self.end = UInt32(truncatingIfNeeded: end)
    }

    var isPresent: Bool { start != .max }
    var range: Range<Int> { Int(start)..<Int(end) }
    var count: Int { Int(end &- start) }
}

/// What a head's scan found, as offsets into its bytes.
struct ParsedHead {
    enum Framing: Equatable {
        case none
        case length(Int)
        case chunked
    }

    var method: RequestHead.Method = .other
    var methodSpan = Span.absent
    var targetSpan = Span.absent
    var minorVersion = 1
    var keepAlive = true
    var expectsContinue = false
    var framing = Framing.none
    var fields = RequestFields()
}

/// Where the header fields the server acts on are (the first line of each), and what
/// `Accept-Encoding` said. Of the two fields whose repeated lines matter, only the fact is kept:
/// the rare head with more than one is read again (`HeadParser.values`). No array, so a parsed
/// head holds no reference to count.
struct RequestFields {
    var host = Span.absent
    var ifNoneMatch = Span.absent
    var ifNoneMatchRepeats = false
    var range = Span.absent
    var ifRange = Span.absent
    var accept = Span.absent
    var authorization = Span.absent
    var cookie = Span.absent
    var cookieRepeats = false
    var referer = Span.absent
    var userAgent = Span.absent
    var encodings = HTTPSemantics.EncodingAcceptance()
}

/// One scan of a complete head (request line, field lines, the empty line), checking every byte.
/// The loops keep their position in a local, so it stays in a register.
struct HeadParser {
    typealias Refusal = RequestReader.Refusal

    private let raw: UnsafeRawBufferPointer
    private let maxFields: Int
    private var position = 0
    private var head = ParsedHead()

    init(_ raw: UnsafeRawBufferPointer, maxFields: Int) {
        self.raw = raw
        self.maxFields = maxFields
    }

    mutating func parse() throws(Refusal) -> ParsedHead {
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
            let valueBytes = raw[value.range]
            switch name.count {
            case 4 where named(name, "host"):
                guard !head.fields.host.isPresent else { throw .bad("more than one Host header") }
                head.fields.host = value
            case 5 where named(name, "range"):
                if !head.fields.range.isPresent { head.fields.range = value }
            case 6 where named(name, "accept"):
                if !head.fields.accept.isPresent { head.fields.accept = value }
            case 6 where named(name, "cookie"):
                if head.fields.cookie.isPresent { head.fields.cookieRepeats = true } else { head.fields.cookie = value }
            case 6 where named(name, "expect"):
                guard HTTPSemantics.equalIgnoringCase(valueBytes, "100-continue".utf8) else {
                    throw Refusal(status: .expectationFailed, reason: "the only expectation understood is 100-continue")
                }
                head.expectsContinue = true
            case 7 where named(name, "referer"):
                if !head.fields.referer.isPresent { head.fields.referer = value }
            case 8 where named(name, "if-range"):
                if !head.fields.ifRange.isPresent { head.fields.ifRange = value }
            case 10 where named(name, "connection"):
                HTTPSemantics.forEachItem(valueBytes) { token in
                    if HTTPSemantics.equalIgnoringCase(token, "close".utf8) { connectionClose = true }
                    if HTTPSemantics.equalIgnoringCase(token, "keep-alive".utf8) { connectionKeepAlive = true }
                }
            case 10 where named(name, "user-agent"):
                if !head.fields.userAgent.isPresent { head.fields.userAgent = value }
            case 13 where named(name, "if-none-match"):
                if head.fields.ifNoneMatch.isPresent { head.fields.ifNoneMatchRepeats = true } else { head.fields.ifNoneMatch = value }
            case 13 where named(name, "authorization"):
                if !head.fields.authorization.isPresent { head.fields.authorization = value }
            case 14 where named(name, "content-length"):
                let length = try Self.contentLength(valueBytes)
                guard contentLength == nil || contentLength == length else { throw .bad("differing Content-Length values") }
                contentLength = length
            case 15 where named(name, "accept-encoding"):
                head.fields.encodings.read(valueBytes)
            case 17 where named(name, "transfer-encoding"):
                transferEncoding = true
                var unknown = false
                var repeated = false
                HTTPSemantics.forEachItem(valueBytes) { coding in
                    if HTTPSemantics.equalIgnoringCase(coding, "chunked".utf8) {
                        if chunked { repeated = true }
                        chunked = true
                    } else {
                        unknown = true
                    }
                }
                if repeated { throw .bad("chunked given twice in Transfer-Encoding") }
                if unknown { throw Refusal(status: .notImplemented, reason: "the only transfer coding understood is chunked") }
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
        if head.minorVersion == 1 && !head.fields.host.isPresent { throw .bad("no Host header") }
        head.keepAlive = head.minorVersion == 1 ? !connectionClose : (connectionKeepAlive && !connectionClose)
        if head.framing == .none || head.framing == .length(0) { head.expectsContinue = false }
        return head
    }

    /// Field lines up to the empty line, checked and dropped (trailers).
    mutating func checkFieldLines() throws(Refusal) {
        while try nextField() != nil {}
    }

    /// Every value of the field `name` (lowercase) in a head `parse` accepted, in order: for the
    /// two fields whose repeated lines count, which `RequestFields` only says are repeated.
    static func values(of name: StaticString, in head: UnsafeRawBufferPointer) -> [Span] {
        var parser = HeadParser(head, maxFields: .max)
        guard (try? parser.readRequestLine()) != nil else { return [] }
        var found: [Span] = []
        while let field = try? parser.nextField() {
            if field.name.count == name.utf8CodeUnitCount && parser.named(field.name, name) { found.append(field.value) }
        }
        return found
    }

    // MARK: - Request line: method SP request-target SP HTTP-version

    private mutating func readRequestLine() throws(Refusal) {
        let count = raw.count
        var at = position
        while at < count, Self.isTokenByte(raw[at]) { at += 1 }
        guard at > position, at < count, raw[at] == UInt8(ascii: " ") else { throw .bad("malformed request line") }
        head.methodSpan = Span(position, at)
        head.method = method(head.methodSpan)
        at += 1

        let targetStart = at
        while at < count {
            let byte = raw[at]
            if byte == UInt8(ascii: " ") { break }
            guard byte > 0x20 && byte != 0x7F else {
                throw .bad(byte == 0 ? "NUL in the request target" : "control character or space in the request target")
            }
            at += 1
        }
        guard at > targetStart, at < count else { throw .bad("malformed request line") }
        head.targetSpan = Span(targetStart, at)
        at += 1

        // HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive.
        guard count - at >= 8, holds("HTTP/", at: at), Self.isDigit(raw[at + 5]),
              raw[at + 6] == UInt8(ascii: "."), Self.isDigit(raw[at + 7]) else {
            throw .bad("malformed HTTP version")
        }
        guard raw[at + 5] == UInt8(ascii: "1") else {
            throw Refusal(status: .httpVersionNotSupported, reason: "only HTTP/1.0 and HTTP/1.1 are served")
        }
        head.minorVersion = raw[at + 7] == UInt8(ascii: "0") ? 0 : 1
        position = at + 8
        try endLine("malformed request line")
    }

    // MARK: - Field lines: name ":" OWS value OWS

    /// The next field's name and value (trimmed), or nil at the empty line that ends the head.
    private mutating func nextField() throws(Refusal) -> (name: Span, value: Span)? {
        let count = raw.count
        var at = position
        guard at < count else { throw .bad("the head ended without an empty line") }
        let first = raw[at]
        if first == UInt8(ascii: "\n") || first == UInt8(ascii: "\r") {
            try endLine("bare CR in the head")
            return nil
        }
        if first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
            throw .bad("obs-fold: a header line starts with whitespace")
        }
        let nameStart = at
        while at < count, Self.isTokenByte(raw[at]) { at += 1 }
        guard at > nameStart, at < count, raw[at] == UInt8(ascii: ":") else { throw .bad("malformed header line") }
        let name = Span(nameStart, at)
        at += 1
        while at < count, raw[at] == UInt8(ascii: " ") || raw[at] == UInt8(ascii: "\t") { at += 1 }
        let valueStart = at
        at = try Self.endOfValue(raw, from: at)
        var valueEnd = at
        while valueEnd > valueStart, raw[valueEnd - 1] == UInt8(ascii: " ") || raw[valueEnd - 1] == UInt8(ascii: "\t") { valueEnd -= 1 }
        position = at
        try endLine("bare CR in the head")
        return (name, Span(valueStart, valueEnd))
    }

    /// The offset of the CR or LF that ends a field value starting at `start`; refuses NUL and
    /// other control characters but tab. Eight bytes at a time while none of them is below 0x20
    /// or DEL (the usual value: no tab), then byte by byte through the eight that hold one.
    static func endOfValue(_ raw: UnsafeRawBufferPointer, from start: Int) throws(Refusal) -> Int {
        let count = raw.count
        var at = start
        while true {
            while count - at >= 8 {
                let word = raw.loadUnaligned(fromByteOffset: at, as: UInt64.self)
                let belowSpace = (word &- 0x2020_2020_2020_2020) & ~word & 0x8080_8080_8080_8080
                let delete = word ^ 0x7F7F_7F7F_7F7F_7F7F
                let isDelete = (delete &- 0x0101_0101_0101_0101) & ~delete & 0x8080_8080_8080_8080
                if belowSpace | isDelete != 0 { break }
                at += 8
            }
            let stop = min(at + 8, count)
            guard at < stop else { return at }
            while at < stop {
                let byte = raw[at]
                if byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n") { return at }
                if byte < 0x20 && byte != UInt8(ascii: "\t") || byte == 0x7F {
                    throw .bad(byte == 0 ? "NUL in a header" : "control character in a header")
                }
                at += 1
            }
        }
    }

    /// Consumes CRLF or LF; anything else (a CR not followed by LF) is refused with `problem`.
    private mutating func endLine(_ problem: String) throws(Refusal) {
        if position < raw.count, raw[position] == UInt8(ascii: "\r") { position += 1 }
        guard position < raw.count, raw[position] == UInt8(ascii: "\n") else { throw .bad(problem) }
        position += 1
    }

    // MARK: - Bytes

    /// RFC 9110 §5.6.2 `tchar`, as one bit per byte below 128: `!#$%&'*+-.^_`|~`, digits, letters.
    private static let tokenBytesBelow64: UInt64 = 0x03FF_6CFA_0000_0000
    private static let tokenBytesFrom64: UInt64 = 0x57FF_FFFF_C7FF_FFFE

    static func isTokenByte(_ byte: UInt8) -> Bool {
        if byte < 64 { return tokenBytesBelow64 >> byte & 1 != 0 }
        if byte < 128 { return tokenBytesFrom64 >> (byte - 64) & 1 != 0 }
        return false
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    /// A field name (a token, checked) against a lowercase one of the same length. Setting the
    /// 0x20 bit lowers a letter and leaves `-` as it is; no other token byte becomes a letter or `-`.
    private func named(_ span: Span, _ name: StaticString) -> Bool {
        let wanted = name.utf8Start
        var index = 0
        var at = Int(span.start)
        while index < name.utf8CodeUnitCount {
            guard raw[at] | 0x20 == wanted[index] else { return false }
            index += 1
            at += 1
        }
        return true
    }

    private func method(_ span: Span) -> RequestHead.Method {
        let start = Int(span.start)
        switch span.count {
        case 3 where holds("GET", at: start): return .get
        case 4 where holds("HEAD", at: start): return .head
        case 4 where holds("POST", at: start): return .post
        default: return .other
        }
    }

    /// The head has exactly `text` at `offset` (the caller checked there is room for it).
    private func holds(_ text: StaticString, at offset: Int) -> Bool {
        memcmp(raw.baseAddress! + offset, text.utf8Start, text.utf8CodeUnitCount) == 0
    }

    /// `Content-Length`: digits, or a list of equal values (`42, 42`, RFC 9110 §8.6).
    private static func contentLength(_ value: Slice<UnsafeRawBufferPointer>) throws(Refusal) -> Int {
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
    private let parsed: ParsedHead

    fileprivate init(bytes: ByteBuffer, parsed: ParsedHead) {
        self.bytes = bytes
        self.parsed = parsed
    }

    var method: Method { parsed.method }
    var targetSpan: Span { parsed.targetSpan }
    /// 0 or 1: HTTP/1.0 or HTTP/1.1 (a later 1.x is read as 1.1).
    var minorVersion: Int { parsed.minorVersion }
    /// The connection may carry another request after this one (RFC 9112 §9.3).
    var keepAlive: Bool { parsed.keepAlive }
    /// `Expect: 100-continue` on a request with a body.
    var expectsContinue: Bool { parsed.expectsContinue }
    var framing: ParsedHead.Framing { parsed.framing }
    var fields: RequestFields { parsed.fields }

    // Strings, for the access log and the rare answers that quote the request.

    var methodName: String { string(parsed.methodSpan) ?? "" }
    var uri: String { string(parsed.targetSpan) ?? "" }
    /// The bytes at `span` as a string; nil for an absent field.
    func string(_ span: Span) -> String? {
        guard span.isPresent else { return nil }
        return bytes.getString(at: bytes.readerIndex + Int(span.start), length: span.count) ?? ""
    }

    /// True when the target is exactly `path` or `path?…`.
    func targetIs(_ path: String) -> Bool {
        bytes.withUnsafeReadableBytes { raw in
            let target = raw[parsed.targetSpan.range]
            let wanted = path.utf8
            guard target.starts(with: wanted) else { return false }
            return target.count == wanted.count || target[target.startIndex + wanted.count] == UInt8(ascii: "?")
        }
    }
}

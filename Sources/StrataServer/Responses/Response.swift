import NIOCore
import NIOHTTP1
import StrataCore
import SystemPackage

/// What to send for one request, as `Responder` decided it.
enum Response {
    /// A file of a release; its head is made of the index's prepared lines.
    case file(FileResponse)
    /// A release's plain "not found" (it has no `404.html`): prepared too.
    case notFound(ReleaseIndex)
    /// Anything else: errors, redirects, the `/_strata/` endpoints. Built per request.
    case generated(GeneratedResponse)
    /// The answer needs a release this loop has not loaded: load it off the loop, then ask again.
    case needsRelease(String)
    /// The answer needs what a release host's name means: refresh the names off the loop, then ask again.
    case needsReleaseNames
    /// The answer needs a password checked (slowly, on purpose): check it off the loop, then ask again.
    case needsVerification(BasicAuthentication.Attempt)
}

/// A response and what it says of itself for the connection's counts.
struct Answer {
    var response: Response
    /// The channel the request was for (its number in `ServerMetrics.channels`).
    var channel = 0
    /// The release that answered a channel URL; nil for versioned URLs, endpoints and refusals.
    var channelRelease: String?

    init(_ response: Response, channel: Int = 0) {
        self.response = response
        self.channel = channel
    }
}

/// One request as the responder sees it: its headers and target, the channel it is for, and
/// whether its credentials were checked (then no answer to it may be `public`).
///
/// It borrows the request's bytes: it lives only while `Responder.respond` runs.
struct RequestContext {
    let headers: RequestHeaders
    /// The request target as received.
    let uri: Slice<UnsafeRawBufferPointer>
    let channel: ChannelWatch
    /// For a `--release-host` request, the release's name (then `channel` is only the default one,
    /// for `/_strata/` endpoints).
    var releaseHost: String?
    var authenticated = false
    /// Pages say `X-Robots-Tag: noindex` (release hosts, channels that expire).
    var noindex = false
    /// A channel URL: its pages may go to shared caches under `--shared-cache-ttl`.
    var sharesPages = false

    /// For the rare answers that quote the target (redirects).
    var uriString: String { String(decoding: uri, as: UTF8.self) }
}

struct FileResponse {
    enum Status {
        case ok
        /// The release's `404.html`, sent with 404.
        case notFound
        case notModified
        case partial(first: Int64, last: Int64)
        case unsatisfiable
    }

    let index: ReleaseIndex
    let file: Int
    let status: Status
    /// The variant to send; nil for the file's own bytes.
    let encoding: ContentEncoding?
    let immutable: Bool
    /// Answered to an authenticated request: shared caches must not keep it (`private`, not `public`).
    var isPrivate = false
    /// Says `X-Robots-Tag: noindex`: a preview, not for search engines.
    var noindex = false
    /// A channel's page under `--shared-cache-ttl`: shared caches may keep it until the flip.
    var shared: SharedCacheLines?
    /// Answered from one side of a canary split.
    var split: SplitAnswer?

    var served: ServedFile { index.files[file] }

    /// The bytes of the representation to send: (offset, length), or nil for none.
    var body: (offset: Int64, length: Int64)? {
        switch status {
        case .ok, .notFound: (0, served.size(encoding))
        case .partial(let first, let last): (first, last - first + 1)
        case .notModified, .unsatisfiable: nil
        }
    }

    /// Where the representation is on disk (read only when it is not in memory or open already).
    var location: FilePath {
        encoding.map { index.folder.appending(ReleaseLayout.variant(of: served.digest.hex, $0)) } ?? index.folder.appending(index.path(of: file))
    }

    var code: Int {
        switch status {
        case .ok: 200
        case .notFound: 404
        case .notModified: 304
        case .partial: 206
        case .unsatisfiable: 416
        }
    }
}

struct GeneratedResponse {
    var status: HTTPResponseStatus
    /// Every header but `Server`, `Date`, `Content-Length` and `Connection`.
    var headers: [(String, String)]
    var body: ByteBuffer
    /// The release that answered, for the access log.
    var release: String?

    /// `text/plain` with the usual headers.
    static func text(_ status: HTTPResponseStatus, _ text: String, release: String? = nil) -> GeneratedResponse {
        var headers = [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-cache"), ("X-Content-Type-Options", "nosniff")]
        if let release { headers.append(("Strata-Release", release)) }
        return GeneratedResponse(status: status, headers: headers, body: ByteBuffer(string: text), release: release)
    }

    /// Kept from shared caches, for one side of a canary split, with a new visitor's cookie.
    mutating func markSplit(_ split: SplitAnswer) {
        if let field = headers.firstIndex(where: { $0.0 == "Cache-Control" }) {
            let value = headers[field].1
            if value.hasPrefix("public") {
                headers[field].1 = "private" + value.dropFirst("public".count)
            } else if !value.hasPrefix("private") && value != "no-store" {
                headers[field].1 = "private, " + value
            }
        }
        if let cookie = split.setCookie { headers.append(("Set-Cookie", cookie)) }
    }

    /// 503 with the reason; never cached, retried soon.
    static func unavailable(_ reason: String) -> GeneratedResponse {
        GeneratedResponse(status: .serviceUnavailable,
                          headers: [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store"),
                                    ("X-Content-Type-Options", "nosniff"), ("Retry-After", "5")],
                          body: ByteBuffer(string: "service unavailable: \(reason)\n"), release: nil)
    }
}

/// How the response speaks of the connection.
enum ConnectionHeader {
    /// HTTP/1.1 keep-alive: nothing to say.
    case none
    /// HTTP/1.0 keep-alive must be said.
    case keepAlive
    case close
}

/// Writes response heads. File heads are prepared lines copied in order; only `Date` (one per
/// loop and second) and the rare `Content-Range` are formatted per request.
enum ResponseHead {
    /// `Content-Encoding` lines by `ContentEncoding.number`.
    static let contentEncodingLines: [StaticString] = ["Content-Encoding: gzip\r\n", "Content-Encoding: br\r\n", "Content-Encoding: zstd\r\n"]

    /// Room for every line a file head may hold that is not prepared: the static lines, a
    /// `Content-Range`, `Connection`, `Date` and the empty line come to well under this.
    private static let unpreparedRoom = 1024

    static func write(_ response: FileResponse, connection: ConnectionHeader, date: DateLine, into out: inout ByteBuffer) {
        let index = response.index
        let file = response.served
        var bound = unpreparedRoom + ReleaseIndex.entityTagLineLength + Int(file.lines(response.encoding).count)
            + Int(index.statusLines.longest) + Int(index.typeLines[Int(file.type)].count)
        if let plan = index.plan(of: file) { bound += Int(plan.lines.count) }
        if let shared = response.shared { bound += shared.cacheControl.count + shared.tags.count }
        if let cookie = response.split?.setCookie { bound += cookie.utf8.count }
        out.writeHead(atMost: bound) { writeFile(response, connection: connection, date: date, into: &$0) }
    }

    private static func writeFile(_ response: FileResponse, connection: ConnectionHeader, date: DateLine, into out: inout HeadWriter) {
        let index = response.index
        let file = response.served
        let status: ReleaseIndex.Lines
        switch response.status {
        case .ok: status = index.statusLines.ok
        case .notFound: status = index.statusLines.notFound
        case .notModified: status = index.statusLines.notModified
        case .partial: status = index.statusLines.partialContent
        case .unsatisfiable: status = index.statusLines.rangeNotSatisfiable
        }
        let representation = file.lines(response.encoding)
        // `_headers` and `immutable` are for answers that carry (or confirm) the file, never for errors.
        let succeeded: Bool
        switch response.status {
        case .ok, .partial, .notModified: succeeded = true
        case .notFound, .unsatisfiable: succeeded = false
        }
        let plan = succeeded ? index.plan(of: file) : nil
        let dropped = plan?.dropped ?? []
        index.lines.withUnsafeBytes { lines in
            func copy(_ part: ReleaseIndex.Lines) {
                out.write(UnsafeRawBufferPointer(rebasing: lines[Int(part.start)..<(Int(part.start) + Int(part.count))]))
            }
            /// Prepared lines but those whose name is `name` (lowercase, with its colon).
            func copyLines(_ part: ReleaseIndex.Lines, without name: StaticString) {
                let block = UnsafeRawBufferPointer(rebasing: lines[Int(part.start)..<(Int(part.start) + Int(part.count))])
                var start = 0
                while start < block.count {
                    var end = start
                    while end < block.count && block[end] != 0x0A { end += 1 }
                    end = min(end + 1, block.count)
                    let line = UnsafeRawBufferPointer(rebasing: block[start..<end])
                    let named = line.count >= name.utf8CodeUnitCount
                        && HTTPSemantics.equalIgnoringCase(line.prefix(name.utf8CodeUnitCount),
                                                           UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
                    if !named { out.write(line) }
                    start = end
                }
            }
            func copyEntityTag() {
                let start = Int(representation.start)
                out.write(UnsafeRawBufferPointer(rebasing: lines[start..<(start + ReleaseIndex.entityTagLineLength)]))
            }
            func copyType() {
                if !dropped.contains(.contentType) { copy(index.typeLines[Int(file.type)]) }
                if !dropped.contains(.noSniff) { out.write("X-Content-Type-Options: nosniff\r\n") }
            }
            func acceptRanges() {
                if !dropped.contains(.acceptRanges) { out.write("Accept-Ranges: bytes\r\n") }
            }
            copy(status)
            let immutable = response.immutable && succeeded
            // During a canary a channel answer is one side's: no shared cache may keep it, whatever
            // `_headers` says (a hash-named file is the same on both sides, and stays shared).
            let splitPrivately = response.split != nil && !immutable
            if !dropped.contains(.cacheControl) || splitPrivately {
                if immutable {
                    out.write(response.isPrivate || response.split?.setCookie != nil
                              ? "Cache-Control: private, max-age=31536000, immutable\r\n"
                              : "Cache-Control: public, max-age=31536000, immutable\r\n")
                } else if response.split != nil {
                    out.write("Cache-Control: private, no-cache\r\n")
                } else if let shared = response.shared {
                    out.write(shared.cacheControl)
                } else {
                    out.write("Cache-Control: no-cache\r\n")
                }
            }
            if let shared = response.shared, response.split == nil, !immutable { out.write(shared.tags) }
            if !file.variants.isEmpty && !dropped.contains(.vary) { out.write("Vary: Accept-Encoding\r\n") }
            if response.noindex { out.write("X-Robots-Tag: noindex\r\n") }
            if let plan {
                if splitPrivately && dropped.contains(.cacheControl) {
                    copyLines(plan.lines, without: "cache-control:")
                } else {
                    copy(plan.lines)
                }
            }
            if let cookie = response.split?.setCookie {
                out.write("Set-Cookie: ")
                out.write(formatted: cookie)
                out.write("\r\n")
            }
            switch response.status {
            case .notModified:
                copyEntityTag()
            case .ok, .notFound:
                copyType()
                if let encoding = response.encoding {
                    out.write(Self.contentEncodingLines[encoding.number])
                } else if case .ok = response.status {
                    acceptRanges()
                }
                copy(representation)
            case .partial(let first, let last):
                copyType()
                acceptRanges()
                copyEntityTag()
                out.write(formatted: "Content-Range: bytes \(first)-\(last)/\(file.size)\r\nContent-Length: \(last - first + 1)\r\n")
            case .unsatisfiable:
                out.write("Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nAccept-Ranges: bytes\r\n")
                copyEntityTag()
                out.write(formatted: "Content-Range: bytes */\(file.size)\r\nContent-Length: 0\r\n")
            }
        }
        finish(connection: connection, date: date, into: &out)
    }

    /// The body of a release's plain 404.
    static let notFoundText: StaticString = "not found\n"

    static func writeNotFound(_ index: ReleaseIndex, connection: ConnectionHeader, date: DateLine, into out: inout ByteBuffer) {
        let status = index.statusLines.notFound
        out.writeHead(atMost: unpreparedRoom + Int(status.count)) { out in
            index.lines.withUnsafeBytes { lines in
                out.write(UnsafeRawBufferPointer(rebasing: lines[Int(status.start)..<(Int(status.start) + Int(status.count))]))
            }
            out.write("Content-Type: text/plain; charset=utf-8\r\nCache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\nContent-Length: 10\r\n")
            finish(connection: connection, date: date, into: &out)
        }
    }

    static func write(_ response: GeneratedResponse, connection: ConnectionHeader, date: DateLine, into out: inout ByteBuffer) {
        let bound = response.headers.reduce(unpreparedRoom + response.status.reasonPhrase.utf8.count) { $0 + $1.0.utf8.count + $1.1.utf8.count + 4 }
        out.writeHead(atMost: bound) { out in
            out.write(formatted: "HTTP/1.1 \(response.status.code) \(response.status.reasonPhrase)\r\nServer: strata\r\n")
            for (name, value) in response.headers {
                out.write(formatted: name)
                out.write(": ")
                out.write(formatted: value)
                out.write("\r\n")
            }
            if response.status != .notModified && response.status != .noContent {
                out.write(formatted: "Content-Length: \(response.body.readableBytes)\r\n")
            }
            finish(connection: connection, date: date, into: &out)
        }
    }

    private static func finish(connection: ConnectionHeader, date: DateLine, into out: inout HeadWriter) {
        switch connection {
        case .none: break
        case .keepAlive: out.write("Connection: keep-alive\r\n")
        case .close: out.write("Connection: close\r\n")
        }
        date.write(into: &out)
        out.write("\r\n")
    }
}

import Foundation
import NIOCore
import NIOHTTP1
import StrataCore
import SystemPackage

/// What to send back: status, headers, and where the body comes from.
struct Reply {
    enum Body {
        case none
        case bytes(ByteBuffer)
        /// `length` bytes of the file at `path` from `offset`. `digest` names the content for the
        /// in-memory cache (any file with that digest has the same bytes).
        case file(folder: FilePath, path: String, offset: Int64, length: Int64, digest: String, size: Int64, release: String)
    }

    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: Body
    /// The release that answered, for the access log.
    var release: String?
}

/// Decides every response from the request head alone. No I/O beyond what lookups need (one `stat`
/// of the pointer, manifests loaded once per release); bodies are read by the connection handler.
struct Responder: Sendable {
    let configuration: ServerConfiguration
    let registry: ReleaseRegistry
    let channels: ChannelRouter

    static let immutable = "public, max-age=31536000, immutable"
    static let revalidate = "no-cache"

    func reply(to head: HTTPRequestHead) -> Reply {
        guard head.method == .GET || head.method == .HEAD else {
            var reply = text(.methodNotAllowed, "method not allowed\n")
            reply.headers.add(name: "Allow", value: "GET, HEAD")
            return reply
        }
        let target: RequestTarget
        do {
            target = try RequestTarget.parse(head.uri)
        } catch {
            return text(.badRequest, "bad request: \(error.reason)\n")
        }

        let channel = channels.watch(forHost: head.headers.first(name: "Host"))
        switch target.segments.first {
        case "_strata":
            return strataEndpoint(target, channel: channel, head: head)
        case "_v":
            guard target.segments.count >= 2, Fingerprint.isReleaseID(target.segments[1]),
                  let index = registry.index(target.segments[1]) else {
                return text(.notFound, "no such release\n")
            }
            let rest = RequestTarget(segments: Array(target.segments.dropFirst(2)), isFolder: target.isFolder, query: target.query)
            return serve(rest, from: index, versioned: true, channel: channel, head: head)
        default:
            guard let id = channel.currentRelease() else {
                return unavailable("channel '\(channel.name)' has no release yet; run `strata activate` to make one live")
            }
            guard let index = registry.index(id) else {
                return unavailable("channel '\(channel.name)' points at release \(id), which is not in the store")
            }
            return serve(target, from: index, versioned: false, channel: channel, head: head)
        }
    }

    // MARK: - Files

    private func serve(_ target: RequestTarget, from index: ReleaseIndex, versioned: Bool, channel: ChannelWatch,
                       head: HTTPRequestHead) -> Reply {
        let isHidden = target.segments.enumerated().contains { position, segment in
            segment.hasPrefix(".") && !(position == 0 && segment == ".well-known")
        }
        let joined = target.segments.joined(separator: "/")
        let path = target.isFolder || joined.isEmpty ? (joined.isEmpty ? "index.html" : joined + "/index.html") : joined

        if !isHidden {
            if let file = index.files[path] {
                return fileReply(file, in: index, status: .ok, immutable: versioned || file.isHashNamed, head: head)
            }
            if !target.isFolder, !joined.isEmpty, index.files[joined + "/index.html"] != nil {
                return redirectToFolder(head.uri)
            }
            if !versioned && HashedName.matches(path), let (file, older) = fromRecentRelease(path, current: index.id, channel: channel) {
                return fileReply(file, in: older, status: .ok, immutable: true, head: head)
            }
            if configuration.spa, !Self.hasExtension(target.segments.last), HTTPSemantics.acceptsHTML(head.headers["Accept"]),
               let page = index.files["index.html"] {
                return fileReply(page, in: index, status: .ok, immutable: false, head: head)
            }
        }
        if let page = index.files["404.html"] {
            return fileReply(page, in: index, status: .notFound, immutable: false, head: head)
        }
        var reply = text(.notFound, "not found\n")
        reply.headers.add(name: "Strata-Release", value: index.id)
        reply.release = index.id
        return reply
    }

    /// A hash-named file the current release lacks, from a release this channel served recently:
    /// a page loaded before a flip still gets its chunks.
    private func fromRecentRelease(_ path: String, current: String, channel: ChannelWatch) -> (ServedFile, ReleaseIndex)? {
        for id in channel.recentReleases() where id != current {
            if let older = registry.index(id), let file = older.files[path] { return (file, older) }
        }
        return nil
    }

    private func fileReply(_ file: ServedFile, in index: ReleaseIndex, status: HTTPResponseStatus, immutable: Bool,
                           head: HTTPRequestHead) -> Reply {
        let request = head.headers
        let rangeHeader = status == .ok ? request.first(name: "Range") : nil
        // Ranges are served from the identity bytes only.
        let variant = rangeHeader == nil ? file.gzip.flatMap { HTTPSemantics.acceptsGzip(request["Accept-Encoding"]) ? $0 : nil } : nil
        let etag = variant?.etag ?? file.etag

        var headers = HTTPHeaders()
        headers.reserveCapacity(12)
        headers.add(name: "Date", value: HTTPDate.now())
        headers.add(name: "Server", value: "strata")
        headers.add(name: "Strata-Release", value: index.id)
        headers.add(name: "ETag", value: etag)
        headers.add(name: "Cache-Control", value: immutable ? Self.immutable : Self.revalidate)
        if file.gzip != nil { headers.add(name: "Vary", value: "Accept-Encoding") }

        if status == .ok && HTTPSemantics.noneMatchHits(request["If-None-Match"], etag: etag) {
            return Reply(status: .notModified, headers: headers, body: .none, release: index.id)
        }
        headers.add(name: "Content-Type", value: file.contentType)
        headers.add(name: "X-Content-Type-Options", value: "nosniff")

        if let variant {
            headers.add(name: "Content-Encoding", value: "gzip")
            headers.add(name: "Content-Length", value: String(variant.size))
            return Reply(status: status, headers: headers,
                         body: .file(folder: index.folder, path: variant.location, offset: 0, length: variant.size, digest: variant.sha256,
                                     size: variant.size, release: index.id),
                         release: index.id)
        }
        if status == .ok { headers.add(name: "Accept-Ranges", value: "bytes") }
        var answer = HTTPSemantics.RangeAnswer.whole
        if let rangeHeader {
            let ifRange = request.first(name: "If-Range")
            if ifRange == nil || HTTPSemantics.ifRangeHolds(ifRange!, etag: file.etag) {
                answer = HTTPSemantics.range(rangeHeader, length: file.size)
            }
        }
        switch answer {
        case .whole:
            headers.add(name: "Content-Length", value: String(file.size))
            return Reply(status: status, headers: headers,
                         body: .file(folder: index.folder, path: file.path, offset: 0, length: file.size, digest: file.sha256, size: file.size, release: index.id),
                         release: index.id)
        case .partial(let first, let last):
            headers.add(name: "Content-Range", value: "bytes \(first)-\(last)/\(file.size)")
            headers.add(name: "Content-Length", value: String(last - first + 1))
            return Reply(status: .partialContent, headers: headers,
                         body: .file(folder: index.folder, path: file.path, offset: first, length: last - first + 1, digest: file.sha256,
                                     size: file.size, release: index.id),
                         release: index.id)
        case .unsatisfiable:
            headers.replaceOrAdd(name: "Content-Type", value: "text/plain; charset=utf-8")
            headers.add(name: "Content-Range", value: "bytes */\(file.size)")
            headers.add(name: "Content-Length", value: "0")
            return Reply(status: .rangeNotSatisfiable, headers: headers, body: .none, release: index.id)
        }
    }

    private func redirectToFolder(_ uri: String) -> Reply {
        var path = Substring(uri)
        var query = Substring("")
        if let mark = path.firstIndex(where: { $0 == "?" || $0 == "#" }) {
            query = path[mark...].hasPrefix("?") ? path[mark...].prefix { $0 != "#" } : ""
            path = path[..<mark]
        }
        var reply = text(.movedPermanently, "moved to \(path)/\n")
        reply.headers.add(name: "Location", value: path + "/" + query)
        return reply
    }

    private static func hasExtension(_ segment: String?) -> Bool {
        guard let segment, let dot = segment.lastIndex(of: ".") else { return false }
        return dot != segment.startIndex
    }

    // MARK: - /_strata/

    private func strataEndpoint(_ target: RequestTarget, channel: ChannelWatch, head: HTTPRequestHead) -> Reply {
        guard target.segments.count == 2 else { return text(.notFound, "not found\n") }
        switch target.segments[1] {
        case "config.json", "config.js":
            return configReply(channel.config(), script: target.segments[1] == "config.js", head: head)
        case "health":
            guard let id = channel.currentRelease(), registry.index(id) != nil else {
                return unavailable("channel '\(channel.name)' has no release in the store")
            }
            return text(.ok, "ok \(id)\n")
        case "release":
            guard let id = channel.currentRelease(), let index = registry.index(id) else {
                return unavailable("channel '\(channel.name)' has no release in the store")
            }
            struct Live: Encodable {
                let channel: String
                let id: String
                let label: String?
                let activated: String?
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let json = (try? encoder.encode(Live(channel: channel.name, id: id, label: index.release.label, activated: channel.activationTime(of: id)))) ?? Data()
            var reply = text(.ok, String(decoding: json, as: UTF8.self) + "\n")
            reply.headers.replaceOrAdd(name: "Content-Type", value: "application/json")
            reply.release = id
            return reply
        default:
            return text(.notFound, "not found\n")
        }
    }

    // MARK: - Small replies

    /// The channel's runtime config, as JSON or as a script setting `window.STRATA_CONFIG`. Always
    /// revalidated: the ETag names the config version, so a `config set` shows on the next load.
    private func configReply(_ config: ConfigVersion, script: Bool, head: HTTPRequestHead) -> Reply {
        let etag = "\"config-\(config.id)\(script ? "-js" : "")\""
        var headers = HTTPHeaders([
            ("Date", HTTPDate.now()), ("Server", "strata"),
            ("Content-Type", script ? "text/javascript; charset=utf-8" : "application/json"),
            ("ETag", etag), ("Cache-Control", Self.revalidate), ("X-Content-Type-Options", "nosniff"),
        ])
        if HTTPSemantics.noneMatchHits(head.headers["If-None-Match"], etag: etag) {
            return Reply(status: .notModified, headers: headers, body: .none, release: nil)
        }
        var buffer = ByteBuffer()
        if script { buffer.writeString("window.STRATA_CONFIG = ") }
        buffer.writeBytes(config.bytes)
        buffer.writeString(script ? ";\n" : "\n")
        headers.add(name: "Content-Length", value: String(buffer.readableBytes))
        return Reply(status: .ok, headers: headers, body: head.method == .HEAD ? .none : .bytes(buffer), release: nil)
    }

    private func unavailable(_ reason: String) -> Reply {
        var reply = text(.serviceUnavailable, "service unavailable: \(reason)\n")
        reply.headers.replaceOrAdd(name: "Cache-Control", value: "no-store")
        reply.headers.add(name: "Retry-After", value: "5")
        return reply
    }

    private func text(_ status: HTTPResponseStatus, _ body: String) -> Reply {
        var buffer = ByteBuffer()
        buffer.writeString(body)
        let headers = HTTPHeaders([
            ("Date", HTTPDate.now()), ("Server", "strata"), ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", String(buffer.readableBytes)), ("Cache-Control", Self.revalidate),
            ("X-Content-Type-Options", "nosniff"),
        ])
        return Reply(status: status, headers: headers, body: .bytes(buffer), release: nil)
    }
}

import Foundation
import NIOCore
import NIOHTTP1
import StrataCore
import SystemPackage

/// Decides every response from the request head alone, for the connections of one event loop.
/// No I/O beyond what lookups need (one `stat` of the pointer); bodies are the connection's job.
/// A cached file answer allocates nothing: the path is looked up as the request's own bytes.
final class Responder {
    private let spa: Bool
    private let trailingSlash: TrailingSlash
    private let releases: LoopReleases
    private let channels: HostRouter
    /// What `--release-host` names mean.
    private let releaseNames: ReleaseNames?
    /// Where requests for release hosts and for channels met through `--channel-host` are counted.
    private let previewsMetricsNumber: Int
    /// `--shared-cache-ttl`: how long shared caches may keep a channel's pages (a purge on flip
    /// clears them sooner); nil: they revalidate every time (`no-cache`).
    private let sharedCacheSeconds: Int?

    /// Protected channels, and per protected channel a watch of its history (for `/_v/` URLs).
    let basicAuthentication: BasicAuthentication?
    private let protectedWatches: [ChannelWatch]
    /// Channels this server serves without protection: a release live on one is public.
    private let openWatches: [ChannelWatch]
    /// Where `/_strata/metrics` reads from; nil when metrics are served on another address.
    private let metrics: ServerMetrics?
    /// Browser error reports (`/_strata/beacon`), counted per release.
    let beacons: BeaconCounter

    /// A serve node's report on its upstream bucket, for `/_strata/health`.
    private let upstreamProblem: (@Sendable () -> String?)?
    /// Purge targets that keep failing, for `/_strata/health`.
    private let purgeProblem: (@Sendable () -> String?)?

    init(spa: Bool, trailingSlash: TrailingSlash = .add, releases: LoopReleases, channels: HostRouter,
         releaseNames: ReleaseNames? = nil, previewsMetricsNumber: Int = 0, sharedCacheSeconds: Int? = nil,
         basicAuthentication: BasicAuthentication? = nil, protectedWatches: [ChannelWatch] = [], openWatches: [ChannelWatch] = [],
         metrics: ServerMetrics? = nil, upstreamProblem: (@Sendable () -> String?)? = nil, purgeProblem: (@Sendable () -> String?)? = nil,
         beacons: BeaconCounter = BeaconCounter()) {
        self.purgeProblem = purgeProblem
        self.releaseNames = releaseNames
        self.previewsMetricsNumber = previewsMetricsNumber
        self.sharedCacheSeconds = sharedCacheSeconds
        self.metrics = metrics
        self.beacons = beacons
        self.basicAuthentication = basicAuthentication
        self.protectedWatches = protectedWatches
        self.openWatches = openWatches
        self.trailingSlash = trailingSlash
        self.upstreamProblem = upstreamProblem
        self.spa = spa
        self.releases = releases
        self.channels = channels
    }

    /// `body` is what a `POST` to the beacon carried (nil for anything else, or past its cap).
    func respond(to head: RequestHead, body: ByteBuffer? = nil) -> Answer {
        let isBeacon = BeaconCounter.isReport(head)
        guard head.method == .get || head.method == .head || isBeacon else {
            var reply = GeneratedResponse.text(.methodNotAllowed, "method not allowed\n")
            reply.headers.append(("Allow", "GET, HEAD"))
            return Answer(.generated(reply))
        }
        return head.withHeaders { uri, headers in
            let target: RequestTarget
            do throws(RequestTarget.Refusal) {
                target = try RequestTarget.parse(uri)
            } catch {
                return Answer(.generated(.text(.badRequest, "bad request: \(error.reason)\n")))
            }
            var request: RequestContext
            switch channels.route(forHost: headers.host) {
            case .channel(let watch):
                request = RequestContext(headers: headers, uri: uri, channel: watch)
            case .release(let name):
                request = RequestContext(headers: headers, uri: uri, channel: channels.fallback, releaseHost: name)
            case .noChannel:
                return Answer(.generated(.text(.notFound, "no such channel\n")), channel: previewsMetricsNumber)
            }
            let channel = request.releaseHost == nil ? max(request.channel.metricsNumber, 0) : previewsMetricsNumber
            if isBeacon && request.releaseHost != nil {
                return Answer(.generated(.text(.notFound, "not found\n")), channel: channel)  // rollouts are for channels
            }
            if isBeacon {
                return Answer(authorize(&request) ?? .generated(beacons.receive(body, live: request.channel.live(), channel: channel)), channel: channel)
            }
            var servedRelease: String?
            let response = switch target.path {
            case .raw(let path): route(path, target, &request, servedRelease: &servedRelease)
            case .decoded(let path): route(path, target, &request, servedRelease: &servedRelease)
            }
            var answer = Answer(response, channel: channel)
            answer.channelRelease = servedRelease
            return answer
        }
    }

    /// `servedRelease` is set to the release that answers a channel URL (what the per-release
    /// counts a rollout reads are for).
    private func route<Path: BidirectionalCollection<UInt8>>(_ path: Path, _ target: RequestTarget, _ request: inout RequestContext,
                                                             servedRelease: inout String?) -> Response where Path.SubSequence == Path {
        let (channel, headers) = (request.channel, request.headers)
        let slash = path.firstIndex(of: UInt8(ascii: "/")) ?? path.endIndex
        let first = path[..<slash]
        let rest = slash == path.endIndex ? path[slash...] : path[path.index(after: slash)...]
        if HTTPSemantics.same(first, "_strata".utf8) {
            // Health stays open: load balancers probe it without credentials, and it tells only the release id.
            if !HTTPSemantics.same(rest, "health".utf8), let refusal = authorize(&request) { return refusal }
            return strataEndpoint(rest, channel: channel, headers: headers)
        }
        if HTTPSemantics.same(first, "_v".utf8) {
            let idEnd = rest.firstIndex(of: UInt8(ascii: "/")) ?? rest.endIndex
            let id = rest[..<idEnd]
            guard id.count == Fingerprint.idLength, id.allSatisfy(Self.isLowercaseHex) else {
                return .generated(.text(.notFound, "no such release\n"))
            }
            switch releases.lookup(id) {
            case .found(let index):
                if let refusal = authorize(versioned: index.id, &request) { return refusal }
                let inside = idEnd == rest.endIndex ? rest[idEnd...] : rest[rest.index(after: idEnd)...]
                let isFolder = target.isFolder || idEnd == rest.endIndex
                return serve(inside, isFolder: isFolder, isHidden: target.isHidden, from: index, versioned: true, request)
            case .absent: return .generated(.text(.notFound, "no such release\n"))
            case .unreadable(let reason): return .generated(.unavailable(reason))
            case .unknown: return .needsRelease(String(decoding: id, as: UTF8.self))
            }
        }
        if let name = request.releaseHost { return serveReleaseHost(name, path, target, &request) }
        if let refusal = authorize(&request) { return refusal }
        guard let live = channel.live() else {
            return .generated(.unavailable(channel.pointerProblem ?? "channel '\(channel.name)' has no release yet; run `strata activate` to make one live"))
        }
        // A channel that ends (a preview) is not for search engines.
        request.noindex = live.expires != nil
        request.sharesPages = true
        let (id, split) = Self.assign(live, headers: headers)
        switch releases.lookup(id) {
        case .found(let index):
            servedRelease = index.id
            let response = serve(path, isFolder: target.isFolder, isHidden: target.isHidden, from: index, versioned: false, request)
            return split.map { Self.mark(response, $0) } ?? response
        case .absent: return .generated(.unavailable("channel '\(channel.name)' points at release \(id), which is not in the store"))
        case .unreadable(let reason): return .generated(.unavailable(reason))
        case .unknown: return .needsRelease(id)
        }
    }

    /// A `--release-host` request: the release its name names, served at the root as a channel
    /// would serve it (its rules, 404 page and trailing-slash policy), from that release alone.
    private func serveReleaseHost<Path: BidirectionalCollection<UInt8>>(_ name: String, _ path: Path, _ target: RequestTarget,
                                                                       _ request: inout RequestContext) -> Response where Path.SubSequence == Path {
        guard let releaseNames else { return .generated(.text(.notFound, "no such release\n")) }
        switch releaseNames.resolve(name) {
        case .none: return .generated(.text(.notFound, "no such release\n"))
        case .unknown: return .needsReleaseNames
        case .release(let id):
            switch releases.lookup(id) {
            case .found(let index):
                if let refusal = authorize(versioned: index.id, &request) { return refusal }
                request.noindex = true
                return serve(path, isFolder: target.isFolder, isHidden: target.isHidden, from: index, versioned: false, request)
            case .absent: return .generated(.text(.notFound, "no such release\n"))
            case .unreadable(let reason): return .generated(.unavailable(reason))
            case .unknown: return .needsRelease(id)
            }
        }
    }

    // MARK: - Canaries

    /// The release this request gets from what the channel's pointer holds, and, during a canary,
    /// how its answer must speak of the split.
    private static func assign(_ live: PointerValue, headers: RequestHeaders) -> (String, SplitAnswer?) {
        guard let canary = live.canary else { return (live.id, nil) }
        let assignment = CanarySplit.assign(cookieHeader: headers.cookie, canary: canary)
        return (assignment.canary ? canary.release : live.id, SplitAnswer(setCookie: assignment.newCookie))
    }

    private static func mark(_ response: Response, _ split: SplitAnswer) -> Response {
        switch response {
        case .file(var file):
            file.split = split
            return .file(file)
        case .notFound(let index):
            var reply = GeneratedResponse.text(.notFound, String(describing: ResponseHead.notFoundText), release: index.id)
            reply.markSplit(split)
            return .generated(reply)
        case .generated(var reply):
            reply.markSplit(split)
            return .generated(reply)
        case .needsRelease, .needsReleaseNames, .needsVerification:
            return response  // asked again once ready, and assigned again then
        }
    }

    // MARK: - Protected channels

    private func authorize(_ request: inout RequestContext) -> Response? {
        guard let basicAuthentication, basicAuthentication.channels.contains(request.channel.name) else { return nil }
        return authorize([request.channel.name], &request)
    }

    /// A release's versioned URL is protected when the release was live (recently) on a protected
    /// channel and on none of the open channels this server serves.
    private func authorize(versioned id: String, _ request: inout RequestContext) -> Response? {
        guard basicAuthentication != nil else { return nil }
        let protecting = protectedWatches.filter { $0.serves(id) || $0.recentReleases().contains(id) }.map(\.name)
        guard !protecting.isEmpty else { return nil }
        if openWatches.contains(where: { $0.serves(id) || $0.recentReleases().contains(id) }) { return nil }
        return authorize(protecting, &request)
    }

    /// Nil when the request's credentials are good for one of `channels` (then it is answered
    /// privately); else 401, a check to run first, or 503.
    private func authorize(_ channels: [String], _ request: inout RequestContext) -> Response? {
        guard let basicAuthentication else { return nil }
        var attempt: BasicAuthentication.Attempt?
        var busy = false
        for name in channels {
            switch basicAuthentication.decide(channel: name, authorization: request.headers.authorization) {
            case .allowed:
                request.authenticated = true
                return nil
            case .challenge: continue
            case .verify(let pending): attempt = attempt ?? pending
            case .busy: busy = true
            }
        }
        if let attempt { return .needsVerification(attempt) }
        if busy { return .generated(.unavailable("too many password checks at once")) }
        var reply = GeneratedResponse.text(.unauthorized, "authentication required\n")
        reply.headers.append(("WWW-Authenticate", "Basic realm=\"\(channels[0])\", charset=\"UTF-8\""))
        return .generated(reply)
    }

    private static func isLowercaseHex(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
    }

    // MARK: - Files

    private func serve<Path: BidirectionalCollection<UInt8>>(_ path: Path, isFolder: Bool, isHidden: Bool, from index: ReleaseIndex,
                                                             versioned: Bool, _ request: RequestContext) -> Response where Path.SubSequence == Path {
        let (channel, headers) = (request.channel, request.headers)
        if !isHidden {
            let rules = versioned ? nil : index.redirects
            if let rules, rules.hasForced, let rule = rules.first(path, forcedOnly: true) {
                return apply(rule, to: path, isFolder: isFolder, in: index, request)
            }
            if let found = locate(path, isFolder: isFolder, in: index) {
                switch found {
                case .file(let file):
                    return fileResponse(file, in: index, notFound: false, immutable: versioned || index.files[file].isHashNamed, request)
                case .redirect(let addSlash):
                    return .generated(addSlash ? redirectToFolder(request.uriString) : redirectWithoutSlash(request.uriString))
                }
            }
            // A page of yesterday's HTML asks for yesterday's assets: look in recent releases first,
            // so a catch-all rule (`/* /index.html 200`) does not answer for a missing script.
            if !versioned && request.releaseHost == nil && !isFolder && (HashedName.matches(path) || index.hasImmutableOverrides) {
                for id in channel.recentReleases() where id != index.id {
                    switch releases.lookup(id) {
                    case .found(let older):
                        if let file = older.find(path), older.files[file].isHashNamed {
                            return fileResponse(file, in: older, notFound: false, immutable: true, request)
                        }
                    case .absent, .unreadable: continue
                    case .unknown: return .needsRelease(id)
                    }
                }
            }
            if let rules, let rule = rules.first(path, forcedOnly: false) {
                return apply(rule, to: path, isFolder: isFolder, in: index, request)
            }
            if spa, !Self.hasExtension(path), HTTPSemantics.acceptsHTML(headers.accept), let page = index.indexPage {
                return fileResponse(page, in: index, notFound: false, immutable: false, request)
            }
        }
        return notFound(in: index, request)
    }

    private func notFound(in index: ReleaseIndex, _ request: RequestContext) -> Response {
        if let page = index.notFoundPage {
            return fileResponse(page, in: index, notFound: true, immutable: false, request)
        }
        return .notFound(index)
    }

    private enum Located {
        case file(Int)
        /// To the same path with a slash added (true) or removed (false).
        case redirect(addSlash: Bool)
    }

    /// The file a path names, by the trailing-slash policy: `docs/` (or `docs`) is `docs/index.html`,
    /// and `about` is `about.html` when there is no `about` file or folder.
    private func locate<Path: BidirectionalCollection<UInt8>>(_ path: Path, isFolder: Bool, in index: ReleaseIndex) -> Located? {
        if path.isEmpty { return index.indexPage.map(Located.file) }
        if isFolder {
            if let page = index.findIndex(path) { return trailingSlash == .remove ? .redirect(addSlash: false) : .file(page) }
            if let page = index.findPage(path) { return trailingSlash == .off ? .file(page) : .redirect(addSlash: false) }
            return nil
        }
        if let file = index.find(path) { return .file(file) }
        if let page = index.findIndex(path) { return trailingSlash == .add ? .redirect(addSlash: true) : .file(page) }
        return index.findPage(path).map(Located.file)
    }

    /// Answers with a `_redirects` rule: a redirect (the query passed on), or a file of the release
    /// served with 200 or 404.
    private func apply<Path: Collection<UInt8>>(_ rule: RedirectRule, to path: Path, isFolder: Bool, in index: ReleaseIndex,
                                                _ request: RequestContext) -> Response {
        let uri = request.uriString
        var values = rule.from.match(String(decoding: path, as: UTF8.self)) ?? [:]
        // `/old-blog/*  /blog/:splat` keeps the slash `/old-blog/post/` had: `/blog/post/`, not a
        // second redirect to add it back.
        if isFolder, rule.to.endsWithSplat, let splat = values["splat"], !splat.isEmpty { values["splat"] = splat + "/" }
        let query = Self.query(of: uri)
        guard rule.isRewrite else {
            var location = rule.to.expand(values, encoded: true)
            if !query.isEmpty { location += (rule.to.hasQuery ? "&" : "?") + query }
            var reply = GeneratedResponse.text(HTTPResponseStatus(statusCode: rule.status), "moved to \(location)\n", release: index.id)
            reply.headers.append(("Location", location))
            return .generated(reply)
        }
        var target = Substring(rule.to.expand(values, encoded: false))
        if let end = target.firstIndex(where: { $0 == "?" || $0 == "#" }) { target = target[..<end] }
        let isFolder = target.hasSuffix("/")
        let trimmed = Array(target.split(separator: "/").joined(separator: "/").utf8)
        let file = trimmed.isEmpty ? index.indexPage
            : isFolder ? index.findIndex(trimmed) : (index.find(trimmed) ?? index.findIndex(trimmed) ?? index.findPage(trimmed))
        guard let file else { return notFound(in: index, request) }
        let missing = rule.status == 404
        return fileResponse(file, in: index, notFound: missing, immutable: !missing && index.files[file].isHashNamed, request)
    }

    /// The query of a request target, without `?`.
    private static func query(of uri: String) -> Substring {
        guard let mark = uri.firstIndex(of: "?") else { return "" }
        return uri[uri.index(after: mark)...].prefix { $0 != "#" }
    }

    private func fileResponse(_ number: Int, in index: ReleaseIndex, notFound: Bool, immutable: Bool, _ request: RequestContext) -> Response {
        let headers = request.headers
        let file = index.files[number]
        let range = notFound ? nil : headers.range
        // Ranges are served from the identity bytes only.
        let encoding = range == nil && !file.variants.isEmpty ? headers.encodings.choose(from: file.variants) : nil
        let representation = file.lines(encoding)
        // Shared caches may keep a channel's page (not a release host's, not one behind a password).
        let shared = request.sharesPages && !immutable && !request.authenticated
            ? sharedCacheSeconds.map { request.channel.sharedCacheLines(release: index.id, seconds: $0) } : nil
        func response(_ status: FileResponse.Status) -> Response {
            .file(FileResponse(index: index, file: number, status: status, encoding: encoding, immutable: immutable,
                               isPrivate: request.authenticated, noindex: request.noindex, shared: shared))
        }
        if !notFound && headers.noneMatchHits(index.entityTag(representation)) {
            return response(.notModified)
        }
        guard let range else { return response(notFound ? .notFound : .ok) }
        if let ifRange = headers.ifRange, !HTTPSemantics.ifRangeHolds(ifRange, etag: index.entityTag(file.identity)) {
            return response(.ok)
        }
        switch HTTPSemantics.range(range, length: file.size) {
        case .whole: return response(.ok)
        case .partial(let first, let last): return response(.partial(first: first, last: last))
        case .unsatisfiable: return response(.unsatisfiable)
        }
    }

    private func redirectWithoutSlash(_ uri: String) -> GeneratedResponse {
        let pathEnd = uri.firstIndex(where: { $0 == "?" || $0 == "#" }) ?? uri.endIndex
        var path = uri[..<pathEnd]
        while path.count > 1 && path.hasSuffix("/") { path = path.dropLast() }
        let query = Self.query(of: uri)
        let location = path + (query.isEmpty ? "" : "?" + query)
        var reply = GeneratedResponse.text(.movedPermanently, "moved to \(location)\n")
        reply.headers.append(("Location", String(location)))
        return reply
    }

    private func redirectToFolder(_ uri: String) -> GeneratedResponse {
        var path = Substring(uri)
        var query = Substring("")
        if let mark = path.firstIndex(where: { $0 == "?" || $0 == "#" }) {
            query = path[mark...].hasPrefix("?") ? path[mark...].prefix { $0 != "#" } : ""
            path = path[..<mark]
        }
        var reply = GeneratedResponse.text(.movedPermanently, "moved to \(path)/\n")
        reply.headers.append(("Location", path + "/" + query))
        return reply
    }

    private static func hasExtension<Path: BidirectionalCollection<UInt8>>(_ path: Path) -> Bool {
        let nameStart = path.lastIndex(of: UInt8(ascii: "/")).map { path.index(after: $0) } ?? path.startIndex
        let name = path[nameStart...]
        guard let dot = name.lastIndex(of: UInt8(ascii: ".")) else { return false }
        return dot != name.startIndex
    }

    // MARK: - /_strata/

    private func strataEndpoint<Path: Collection<UInt8>>(_ rest: Path, channel: ChannelWatch, headers: RequestHeaders) -> Response {
        let name = String(decoding: rest, as: UTF8.self)
        switch name {
        case "config.json", "config.js":
            return .generated(configReply(channel.config(), script: name == "config.js", headers: headers))
        case "metrics":
            guard let metrics else { return .generated(.text(.notFound, "not found\n")) }
            return .generated(Self.metricsReply(metrics))
        case "rollout.js":
            guard let live = channel.live() else { return noRelease(channel) }
            let (id, split) = Self.assign(live, headers: headers)
            let reply = BeaconCounter.script(release: id, headers: headers)
            return split.map { Self.mark(.generated(reply), $0) } ?? .generated(reply)
        case "health":
            guard let live = channel.live() else { return noRelease(channel) }
            let id = live.id
            switch releases.lookup(id) {
            case .found(let index):
                // The index is in memory, but a probe must learn when the files cannot be read
                // (a store unmounted, or its permissions changed): one open of the folder.
                if let problem = Self.unreadableFolder(index) { return .generated(.unavailable(problem)) }
                // A node cut off from its bucket still serves what it holds: healthy, and it says so.
                let upstream = upstreamProblem?().map { "upstream: \($0)\n" } ?? ""
                // Caches that were not told of a flip serve the old pages: the node is well, and says so.
                let purge = purgeProblem?().map { "purge: \($0)\n" } ?? ""
                let canary = live.canary.map { "canary \($0.release) \($0.percent)%\n" } ?? ""
                return .generated(.text(.ok, "ok \(id)\n" + canary + upstream + purge))
            case .absent: return noRelease(channel)
            case .unreadable(let reason): return .generated(.unavailable(reason))
            case .unknown: return .needsRelease(id)
            }
        case "release":
            guard let live = channel.live() else { return noRelease(channel) }
            let (id, split) = Self.assign(live, headers: headers)
            switch releases.lookup(id) {
            case .found(let index):
                let reply = Response.generated(liveRelease(index, channel: channel, canary: live.canary))
                return split.map { Self.mark(reply, $0) } ?? reply
            case .absent: return noRelease(channel)
            case .unreadable(let reason): return .generated(.unavailable(reason))
            case .unknown: return .needsRelease(id)
            }
        default:
            return .generated(.text(.notFound, "not found\n"))
        }
    }

    /// Why the release's folder cannot be opened, or nil when it can.
    private static func unreadableFolder(_ index: ReleaseIndex) -> String? {
        do {
            try FileDescriptor.open(index.folder, .readOnly, options: [.directory, .closeOnExec]).close()
            return nil
        } catch {
            return "cannot read the files of release \(index.id): \((error as? Errno)?.description ?? "\(error)")"
        }
    }

    /// 503 for a channel with nothing to serve: why (its pointer unreadable), or that it has no release.
    private func noRelease(_ channel: ChannelWatch) -> Response {
        .generated(.unavailable(channel.pointerProblem ?? "channel '\(channel.name)' has no release in the store"))
    }

    /// The Prometheus text format (version 0.0.4).
    static func metricsReply(_ metrics: ServerMetrics) -> GeneratedResponse {
        var buffer = ByteBuffer()
        buffer.writeBytes(metrics.render())
        return GeneratedResponse(status: .ok, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8"), ("Cache-Control", "no-store")],
                                 body: buffer, release: nil)
    }

    /// The release this visitor gets (during a canary, its side and the canary's percent too).
    private func liveRelease(_ index: ReleaseIndex, channel: ChannelWatch, canary: Canary?) -> GeneratedResponse {
        struct Live: Encodable {
            let channel: String
            let id: String
            let label: String?
            let activated: String?
            /// During a canary: `canary` or `stable`.
            let side: String?
            let canaryPercent: Int?
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let live = Live(channel: channel.name, id: index.id, label: index.release.label, activated: channel.activationTime(of: index.id),
                        side: canary.map { $0.release == index.id ? "canary" : "stable" }, canaryPercent: canary?.percent)
        let json = (try? encoder.encode(live)) ?? Data()
        var reply = GeneratedResponse.text(.ok, String(decoding: json, as: UTF8.self) + "\n", release: index.id)
        reply.headers[0] = ("Content-Type", "application/json")
        return reply
    }

    /// The channel's runtime config, as JSON or as a script setting `window.STRATA_CONFIG`. Always
    /// revalidated: the ETag names the config version, so a `config set` shows on the next load.
    private func configReply(_ config: ConfigVersion, script: Bool, headers: RequestHeaders) -> GeneratedResponse {
        let etag = "\"config-\(config.id)\(script ? "-js" : "")\""
        let fields = [("Content-Type", script ? "text/javascript; charset=utf-8" : "application/json"),
                      ("ETag", etag), ("Cache-Control", "no-cache"), ("X-Content-Type-Options", "nosniff")]
        if headers.noneMatchHits(etag.utf8) {
            return GeneratedResponse(status: .notModified, headers: Array(fields.dropFirst()), body: ByteBuffer(), release: nil)
        }
        var buffer = ByteBuffer()
        if script { buffer.writeString("window.STRATA_CONFIG = ") }
        buffer.writeBytes(config.bytes)
        buffer.writeString(script ? ";\n" : "\n")
        return GeneratedResponse(status: .ok, headers: fields, body: buffer, release: nil)
    }
}

import ArgumentParser
import Foundation
import StrataCore
import StrataObjectStore
import StrataServer

extension TrailingSlash: ExpressibleByArgument {}
extension LogFormat: ExpressibleByArgument {}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve a channel over HTTP, and every release at /_v/<id>/.",
        discussion: """
            Each request reads the channel's pointer (one stat), so `strata activate` and `rollback`
            take effect for the next request, with no restart. Files come from the release's
            manifest only; .strata/ and dotfiles (except .well-known/) are never served.
            SIGTERM or SIGINT stops accepting, lets in-flight responses finish, and exits 0.
            /_strata/config.json and /_strata/config.js serve the channel's runtime config
            (`strata config`). --channel-for-host serves other channels to other host names.
            A release's _redirects and _headers (Netlify syntax) apply to its channel
            URLs; /about serves about.html when there is no such file or folder;
            --trailing-slash says how /docs and /docs/ are answered.

            With --root s3://BUCKET/PREFIX it is a serve node: it keeps the releases it serves in a
            local cache (--cache, a local store), polls each served channel's pointer every --poll
            (a conditional GET), and switches only once the new release is whole in the cache.
            /_v/<id>/ URLs of releases not yet cached are fetched on demand. --cache-max bounds the
            cache (releases no channel serves are evicted). /_strata/health says when the bucket
            cannot be reached; the node keeps serving what it holds.

            With --trust KEY.pub (repeatable) only releases signed by one of the keys (`publish
            --sign`) are served: any other is answered 503 with the reason, and a serve node never
            switches to it (it keeps serving what it has and says why on /_strata/health).

            Examples:
              strata serve --port 8080
              strata serve --root s3://site-bucket/prod --cache /var/cache/strata --poll 1s
              strata serve --channel staging --spa --access-log -
              strata serve --channel production --channel-for-host staging.example.com=staging
              strata serve --channel-for-host preview.example.com=preview --protect preview=preview.users
              strata serve --release-host '*.preview.example.com' --channel-host '*.pr.example.com'

            --release-host serves a release at the root of its own host name, before it is live
            anywhere: <id>.preview.example.com, a unique id prefix, or its label (compared without
            case). Its pages use their site-absolute links from that release alone, with its
            _redirects, _headers, 404 page and trailing-slash policy, marked no-cache and
            X-Robots-Tag: noindex. An unknown name is a plain 404, never another release.
            --channel-host serves every channel by name the same way (like --channel-for-host for
            all of them; channels made with --expires are marked noindex too); a name that is no
            channel, or one that expired or was deleted, is a 404. --protect applies on these
            hosts as on the channel URLs (a release host is protected when its release's
            versioned URL is). Point a wildcard DNS record (and certificate) at the server.

            Behind a CDN or Varnish, --shared-cache-ttl lets it keep channel pages (public,
            max-age=0, s-maxage=N, tagged Surrogate-Key, Cache-Tag and xkey with
            strata-channel-<name> and strata-release-<id>), and --purge tells it to drop a
            channel's pages within a second of its flip: a Varnish PURGE (or BAN) with the tag,
            or Cloudflare's or Fastly's purge-by-tag API (token in CLOUDFLARE_API_TOKEN or
            FASTLY_API_TOKEN); --on-flip runs a command instead. Purges are retried with backoff;
            one that keeps failing shows on /_strata/health. Serve nodes of one bucket send one
            purge per flip between them. docs/operations.md has tested configurations.
            """)

    @OptionGroup var options: StoreOptions

    @Option(help: ArgumentHelp("Serve each release at the root of its own host: '*.preview.example.com' makes "
                               + "<id, id prefix or label>.preview.example.com serve that release (repeatable).", valueName: "pattern"))
    var releaseHost: [String] = []

    @Option(help: ArgumentHelp("Serve each channel on its own host: '*.pr.example.com' makes <channel>.pr.example.com "
                               + "serve that channel (repeatable).", valueName: "pattern"))
    var channelHost: [String] = []

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port, printed on start).")
    var port = 8080

    @OptionGroup var channel: ChannelOption

    @OptionGroup var trust: TrustOption

    @Flag(help: "Single-page app: an unknown path without an extension, asked for as HTML, gets /index.html.")
    var spa = false

    @Option(help: ArgumentHelp("/docs and /docs/ for docs/index.html: add (redirect to /docs/), remove (redirect to /docs), off (serve both).",
                               valueName: "add|remove|off"))
    var trailingSlash: TrailingSlash = .add

    @Option(help: ArgumentHelp("Require HTTP Basic authentication for this channel, users from this file (`strata password`); repeatable.",
                               valueName: "channel=file"))
    var protect: [String] = []

    /// `--protect` entries as channel → file.
    func protectedChannels() throws -> [String: String] {
        var map: [String: String] = [:]
        for (channel, file) in try Self.pairs(protect, option: "--protect", shape: "channel=file") {
            do { try Names.validateChannel(channel) } catch let error as StrataError { throw ValidationError(error.message) }
            if map[channel] != nil { throw ValidationError("--protect gives channel '\(channel)' twice") }
            map[channel] = file
        }
        return map
    }

    /// `name=value` entries of a repeatable option, split at the first `=`; both sides non-empty.
    static func pairs(_ entries: [String], option: String, shape: String) throws -> [(String, String)] {
        try entries.map { entry in
            guard let equals = entry.firstIndex(of: "="), equals != entry.startIndex, entry.index(after: equals) != entry.endIndex else {
                throw ValidationError("\(option) '\(entry)' is not \(shape)")
            }
            return (String(entry[..<equals]), String(entry[entry.index(after: equals)...]))
        }
    }

    @Option(help: ArgumentHelp("Log one line per request to this file, or - for standard output.", valueName: "file"))
    var accessLog: String?

    @Option(help: ArgumentHelp("Serve Prometheus metrics on this address only (GET /metrics), not at /_strata/metrics of the main port.",
                               valueName: "host:port"))
    var metricsListen: String?

    // `--access-log-format` is the name the operations issue gave; scripts still use it.
    @Option(name: [.customLong("log-format"), .customLong("access-log-format")],
            help: ArgumentHelp("Access log and stderr events: combined (nginx's formats) or json (one object per line).",
                               valueName: "combined|json"))
    var logFormat: LogFormat = .combined

    @Option(help: ArgumentHelp("Hash-named files of releases named in this many latest history entries stay reachable on the channel URL.", valueName: "n"))
    var fallbackHistory = 10

    @Option(help: ArgumentHelp("Most simultaneous connections.", valueName: "n"))
    var maxConnections = 4096

    @Option(help: ArgumentHelp("Seconds a new connection has to send a complete request head.", valueName: "s"))
    var headerTimeout: Int64 = 10

    @Option(help: ArgumentHelp("Seconds an idle keep-alive connection stays open.", valueName: "s"))
    var idleTimeout: Int64 = 60

    @Option(help: ArgumentHelp("Serve this channel to requests for this host name (repeatable); others get --channel.",
                               valueName: "host=channel"))
    var channelForHost: [String] = []

    /// `--channel-for-host` entries as host → channel.
    func hostChannels() throws -> [String: String] {
        var map: [String: String] = [:]
        for (name, channel) in try Self.pairs(channelForHost, option: "--channel-for-host", shape: "host=channel") {
            let host = name.lowercased()
            do { try Names.validateChannel(channel) } catch let error as StrataError { throw ValidationError(error.message) }
            if let earlier = map[host], earlier != channel {
                throw ValidationError("--channel-for-host gives '\(host)' two channels ('\(earlier)' and '\(channel)')")
            }
            map[host] = channel
        }
        return map
    }

    @Option(help: ArgumentHelp("Let shared caches (CDNs, Varnish) keep channel pages this long (30s, 10m, 1h, 1d): "
                               + "public, max-age=0, s-maxage=N with tag headers for purging; off by default.", valueName: "span"))
    var sharedCacheTTL: String?

    /// `--shared-cache-ttl` in seconds: `30s`, `10m`, `1h`, `1d`, or a number of seconds.
    static func cacheSeconds(_ text: String) -> Int? {
        let units: [(String, Int)] = [("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)]
        let (digits, scale) = units.first { text.hasSuffix($0.0) }.map { (text.dropLast($0.0.count), $0.1) } ?? (Substring(text), 1)
        guard let count = Int(digits), String(count) == digits, count >= 1, count <= 365 * 86_400 / scale else { return nil }
        return count * scale
    }

    @Option(help: ArgumentHelp("When a channel flips, purge its pages here (repeatable): http://varnish:6081/ (PURGE with "
                               + "xkey-purge), ban+http://… (BAN), or Cloudflare's or Fastly's purge API URL.", valueName: "url"))
    var purge: [String] = []

    @Option(help: ArgumentHelp("When a channel flips, run this shell command with the channel, the new release and the previous one "
                               + "($1 $2 $3, and STRATA_CHANNEL, STRATA_RELEASE, STRATA_PREVIOUS_RELEASE, STRATA_CACHE_TAG).",
                               valueName: "command"))
    var onFlip: String?

    /// `--purge` and `--on-flip` as targets; an API URL needs its token in the environment.
    func purgeTargets() throws -> [PurgeTarget] {
        let environment = ProcessInfo.processInfo.environment
        var targets = try purge.map { text in
            do { return try PurgeTarget.parse(text, environment: environment) } catch let error as StrataError {
                throw ValidationError(error.message)
            }
        }
        if let onFlip {
            guard !onFlip.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("--on-flip needs a command") }
            targets.append(.command(onFlip))
        }
        return targets
    }

    @Option(help: ArgumentHelp("A serve node's local cache of an s3:// store (a folder; created if missing).", valueName: "dir"))
    var cache: String?

    @Option(help: ArgumentHelp("How often a serve node checks the bucket's pointers (500ms, 1s, 2m).", valueName: "interval"))
    var poll = "1s"

    @Option(help: ArgumentHelp("Most content a serve node's cache keeps (512M, 10G); releases no channel serves go first.",
                               valueName: "size"))
    var cacheMax: String?

    /// `--poll` in seconds.
    static func seconds(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            return Double(text.dropLast(suffix.count)).map { $0 * scale }
        }
        return Double(text)
    }

    func validate() throws {
        _ = try hostChannels()
        _ = try purgeTargets()
        for (option, patterns) in [("--release-host", releaseHost), ("--channel-host", channelHost)] {
            for pattern in patterns where !ServerConfiguration.isHostPattern(pattern.lowercased()) {
                throw ValidationError("\(option) '\(pattern)' is not a pattern like '*.preview.example.com' (no port)")
            }
        }
        _ = try protectedChannels()
        guard let interval = Self.seconds(poll), interval >= 0.05, interval <= 3600 else {
            throw ValidationError("--poll '\(poll)' is not an interval from 50ms to 60m (like 500ms, 1s, 2m)")
        }
        if let sharedCacheTTL, Self.cacheSeconds(sharedCacheTTL) == nil {
            throw ValidationError("--shared-cache-ttl '\(sharedCacheTTL)' is not a span from 1s to 365d (like 30s, 10m, 1h, 1d)")
        }
        if let cacheMax, ByteCount.parse(cacheMax) == nil { throw ValidationError("--cache-max '\(cacheMax)' is not a size (like 512M, 10G)") }
        let remote = S3Location.isObjectStore(options.rootPath)
        if remote && cache == nil { throw ValidationError("--root \(options.rootPath) is an object store: give the node a local --cache folder") }
        if !remote && (cache != nil || cacheMax != nil) { throw ValidationError("--cache and --cache-max are for serve nodes of an s3:// --root") }
        if !(0...65535).contains(port) { throw ValidationError("--port must be 0…65535") }
        if fallbackHistory < 0 { throw ValidationError("--fallback-history must be 0 or more") }
        if maxConnections < 1 { throw ValidationError("--max-connections must be at least 1") }
        if headerTimeout < 1 || idleTimeout < 1 { throw ValidationError("timeouts must be at least 1 second") }
    }

    func run() throws {
        let events = EventLog(format: logFormat)
        var settings = ServerConfiguration()
        settings.events = events
        let store: Store
        var node: ServeNode?
        if S3Location.isObjectStore(options.rootPath), let cache {
            let remote = OpenedObjectStores.keep(try S3Store(root: options.rootPath, environment: ProcessInfo.processInfo.environment))
            store = Store(root: cache, lockTimeout: options.lockTimeout)
            let follower = try ServeNode(remote: remote, cache: store, channels: [channel.channel] + Array(try hostChannels().values),
                                         poll: Self.seconds(poll)!, cacheMax: cacheMax.flatMap(ByteCount.parse), trust: try trust.keys(),
                                         events: events, followsEveryChannel: !channelHost.isEmpty)
            try follower.prepareCache()
            follower.syncOnce()  // serve the live releases from the first request, when the bucket answers
            settings.fetchMissingRelease = { follower.fetch($0) }
            settings.upstreamProblem = { follower.upstreamProblem() }
            settings.releaseNamesStore = Store(backend: remote, lockTimeout: options.lockTimeout)
            settings.purgeClaim = { purge in
                switch follower.purgeOutcome(channel: purge.channel, release: purge.release) {
                case .send(let delay): .purge(after: delay)
                case .skip(let why): .skip(why)
                }
            }
            node = follower
        } else {
            store = try options.readable()
        }
        settings.trust = try trust.keys()
        settings.host = host
        settings.port = port
        settings.channel = channel.channel
        settings.spa = spa
        settings.trailingSlash = trailingSlash
        settings.protectedChannels = try protectedChannels()
        settings.accessLog = accessLog
        settings.accessLogFormat = logFormat
        settings.metricsListen = metricsListen
        settings.fallbackHistoryEntries = fallbackHistory
        settings.maxConnections = maxConnections
        settings.headerTimeoutSeconds = headerTimeout
        settings.idleTimeoutSeconds = idleTimeout
        settings.channelsByHost = try hostChannels()
        settings.sharedCacheSeconds = sharedCacheTTL.flatMap(Self.cacheSeconds)
        settings.purgeTargets = try purgeTargets()
        settings.releaseHosts = releaseHost.map { $0.lowercased() }
        settings.channelHosts = channelHost.map { $0.lowercased() }
        let server: StrataHTTPServer
        do {
            server = try StrataHTTPServer(store: store, configuration: settings)
        } catch let error as ServerError {
            throw StrataError(.invalidInput, error.description)
        }
        do {
            try server.runUntilSignalled { bound in
                let url = "http://\(host):\(bound)/"
                let live = (try? Channels(store: store).pointer(for: settings.channel).read()) ?? nil
                events.say(.notice, "listening", "serving channel '\(settings.channel)' of \(store.location) on \(url) (versioned: /_v/<id>/)"
                               + ", release \(live ?? "none yet")",
                           [("channel", settings.channel), ("release", live), ("store", store.location), ("url", url)])
                if let node {
                    node.start()
                    events.say(.notice, "following", "following \(node.remote.location) every \(poll) into the cache \(store.location)",
                               [("bucket", node.remote.location), ("cache", store.location)])
                }
                for (name, channel) in settings.channelsByHost.sorted(by: { $0.key < $1.key }) {
                    events.say(.notice, "host", "host \(name) -> channel '\(channel)'", [("host", name), ("channel", channel)])
                }
                for pattern in settings.releaseHosts {
                    events.say(.notice, "host", "hosts \(pattern) -> the release of that id, id prefix or label", [("host", pattern)])
                }
                for pattern in settings.channelHosts {
                    events.say(.notice, "host", "hosts \(pattern) -> the channel of that name", [("host", pattern)])
                }
                if let port = server.metricsPort, let address = metricsListen {
                    let url = "http://\(address.split(separator: ":").dropLast().joined(separator: ":")):\(port)/metrics"
                    events.say(.notice, "metrics", "metrics on \(url)", [("url", url)])
                }
                for target in settings.purgeTargets {
                    events.say(.notice, "purging", "on each flip, purging \(target.name)", [("target", target.name)])
                }
                for channel in settings.protectedChannels.keys.sorted() {
                    events.say(.notice, "protected", "channel '\(channel)' requires a password (users in \(settings.protectedChannels[channel]!))",
                               [("channel", channel), ("users", settings.protectedChannels[channel]!)])
                }
            }
        } catch let error as ServerError {
            throw StrataError(.io, error.description)
        }
        node?.stop()
    }
}

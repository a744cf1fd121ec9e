import Foundation
import NIOCore
import StrataCore

/// Everything `strata serve` can be told. The defaults are what a production deploy wants.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    /// 0 asks the system for a free port (tests); the bound port is reported once listening.
    public var port = 8080
    public var channel = "current"
    /// Host names served from another channel than `channel` (lowercase name, no port → channel).
    public var channelsByHost: [String: String] = [:]
    /// `--release-host '*.preview.example.com'`: `<id, id prefix or label>.preview.example.com`
    /// serves that release at the root, as a channel would, marked `noindex`.
    public var releaseHosts: [String] = []
    /// Where release hosts' names are looked up, when not in the served store: a serve node's
    /// bucket, so a preview the cache lacks is found, then fetched like a versioned URL's release.
    public var releaseNamesStore: Store?
    /// `--channel-host '*.pr.example.com'`: `<channel>.pr.example.com` serves that channel.
    public var channelHosts: [String] = []

    /// True for what `--release-host` and `--channel-host` take: `*.` and a lowercase host name.
    public static func isHostPattern(_ pattern: String) -> Bool {
        HostRouter.suffix(ofPattern: pattern) != nil
    }
    /// `--shared-cache-ttl`: channel pages say `public, max-age=0, s-maxage=<this>` with tags
    /// naming the channel and release, so a CDN keeps them until the flip's purge; nil: `no-cache`.
    public var sharedCacheSeconds: Int?
    /// `--purge URL` and `--on-flip CMD`: told to drop a channel's pages when it flips.
    public var purgeTargets: [PurgeTarget] = []
    /// Waits between a failed purge's attempts (tests shorten them).
    public var purgeRetryDelays = FlipPurger.standardRetryDelays
    /// A serve node's say in who purges a flip (one node per flip, not all of them); nil: this
    /// server purges every flip it sees.
    public var purgeClaim: (@Sendable (PurgeRequest) -> FlipPurger.Decision)?
    /// Single-page apps: an unknown path without an extension, asked for as HTML, gets `/index.html`.
    public var spa = false
    /// How `/docs` and `/docs/` are answered when `docs/index.html` exists.
    public var trailingSlash = TrailingSlash.add
    /// Channels that require HTTP Basic authentication: channel → credentials file (`strata password`).
    public var protectedChannels: [String: String] = [:]
    /// Where to write one line per request: a file path, "-" for standard output, nil for none.
    public var accessLog: String?
    public var accessLogFormat = LogFormat.combined
    /// Where the server says what happens to it (listening, flips, releases loaded, errors).
    public var events = EventLog()
    /// Serve `/_strata/metrics` on this `host:port` only, instead of on the main port.
    public var metricsListen: String?
    /// How many of the channel's latest history entries name releases whose hash-named files may
    /// still be fetched through the channel URL after a flip.
    public var fallbackHistoryEntries = 10
    /// Worker threads; defaults to one per core.
    public var threads = System.coreCount
    /// Connections on NIO's channels instead of the server's own event loops (`SocketLoop`, Linux
    /// only). The own loops are faster; NIO's are what other platforms get, kept for comparing.
    public var nioChannels = false
    /// `--trust`: only releases signed by one of these keys are served; any other is answered 503
    /// with the reason, on its channel URL and its versioned URL alike.
    public var trust: TrustedKeys?

    // A serve node (the store is a local cache of an object store).
    /// Called on the fetch pool for a release the store lacks (a `/_v/<id>/` URL of a
    /// release not yet local): it may bring the release into the store, which is then read again.
    public var fetchMissingRelease: (@Sendable (String) -> Void)?
    /// What `/_strata/health` adds about the store's upstream: nil when all is well, else one line
    /// saying what is wrong (the node keeps serving what it holds).
    public var upstreamProblem: (@Sendable () -> String?)?

    // Hardening.
    /// A request's whole head (request line and header lines), in bytes (431 beyond).
    public var maxHeaderBytes = 16 * 1024
    /// Header fields in one request (431 beyond).
    public var maxHeaderCount = 100
    /// From a connection's first byte (or the end of its previous response) to a complete request head.
    public var headerTimeoutSeconds: Int64 = 10
    /// A keep-alive connection with nothing to read or write for this long is closed.
    public var idleTimeoutSeconds: Int64 = 60
    /// Connections beyond this are closed as soon as they are accepted.
    public var maxConnections = 4096
    /// On SIGTERM/SIGINT, how long in-flight responses may take to finish before the server exits anyway.
    public var shutdownGraceSeconds: Int64 = 30

    // Speed.
    /// Files up to this size are kept in memory once read (keyed by content digest); larger ones
    /// go out with sendfile from a descriptor kept open. Above about 32 KiB, copying the bytes
    /// into the socket costs more CPU than the `sendfile` call that lends it the page cache.
    public var hotFileMaxBytes = 32 * 1024
    /// The memory for hot files, all releases together.
    public var hotCacheBytes = 12 * 1024 * 1024
    /// Descriptors each event loop keeps open between requests, at most (nginx's
    /// `open_file_cache`): a thread meets every file of a site. The server raises its descriptor
    /// limit to the hard limit at start; under a lower one it keeps fewer (`DescriptorBudget`).
    public var openFilesPerThread = 16384

    public init() {}
}

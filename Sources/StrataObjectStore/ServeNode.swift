import Foundation
import StrataCore
import Synchronization
import SystemPackage

/// A serve node: follows the channels it serves in an object store and keeps a local store (the
/// cache) in step, so the local fast path serves them.
///
/// Every `poll` it asks for each channel's pointer object with `If-None-Match` (a 304 costs no
/// body). On a change it mirrors the release into the cache (`ReleaseMirror`) and only then moves
/// the cache's pointer, so the server switches only to a release it holds whole, and keeps
/// serving the previous one meanwhile. Each channel's runtime config is copied the same way. When
/// the bucket cannot be reached it keeps what it has and reports the problem (`upstreamProblem`,
/// shown on `/_strata/health`). A release the bucket names that is invalid (`ManifestRules`) or, with
/// `trust`, not signed by a trusted key is refused the same way: the node keeps serving what it has
/// and says why, until the pointer moves again.
public final class ServeNode: @unchecked Sendable {
    public let remote: S3Store
    public let cache: Store
    /// The bucket seen through the same seam as any store (pointers, manifests).
    private let remoteStore: Store
    /// The channels followed from the start; with `followsEveryChannel`, the bucket's others join
    /// as they appear.
    public let channels: [String]
    /// Follow every channel of the bucket (`--channel-host` serves them all by name).
    public let followsEveryChannel: Bool
    /// How often the bucket's channels are listed when following them all: every five polls, at
    /// least 2 s apart (a LIST costs more than the conditional GETs of a poll).
    var channelListingInterval: TimeInterval { max(2, 5 * poll) }
    public let poll: TimeInterval
    /// Where sync failures and fetched releases are said.
    private let events: EventLog
    /// Content bytes the cache may hold before releases no channel serves are evicted.
    public let cacheMax: Int64?

    private let mirror: ReleaseMirror
    private let state = Mutex<State>(State())

    private struct State {
        /// The pointer's stamp each channel was last mirrored at.
        var seen: [String: PointerStamp] = [:]
        /// The same for each channel's config pointer.
        var seenConfig: [String: PointerStamp] = [:]
        /// Channels whose pointer names a release the node refuses: at which stamp, and why.
        var refused: [String: (stamp: PointerStamp, reason: String)] = [:]
        /// Set while the last poll failed: since when, and why.
        var failing: (since: String, reason: String)?
        var stopped = false
        /// Releases fetched on demand lately, newest last: spared by eviction while clients use them.
        var fetched: [String] = []
        /// The bucket pointer each channel last switched to: its ETag names the flip for `PurgeClaims`.
        var switched: [String: (stamp: PointerStamp, value: PointerValue)] = [:]
        /// Channels found by listing the bucket, and when it was last listed.
        var listedChannels: [String] = []
        var listed: Date?
    }

    /// How many releases fetched on demand are spared by eviction.
    static let sparedFetches = 8

    /// `cache` must be a store in a folder (the server serves its files by path).
    public init(remote: S3Store, cache: Store, channels: [String], poll: TimeInterval, cacheMax: Int64?, trust: TrustedKeys? = nil,
                events: EventLog = EventLog(), followsEveryChannel: Bool = false) throws {
        self.followsEveryChannel = followsEveryChannel
        guard let folders = cache.folders else {
            throw StrataError(.invalidInput, "a serve node's --cache must be a folder, not \(cache.location)")
        }
        self.events = events
        self.remote = remote
        self.cache = cache
        remoteStore = Store(backend: remote, lockTimeout: cache.lockTimeout)
        self.channels = Array(Set(channels)).sorted()
        self.poll = poll
        self.cacheMax = cacheMax
        mirror = ReleaseMirror(remote: remote, cache: cache, cacheFolders: folders, trust: trust)
        // The other nodes see a flip within a poll or two, then mirror the release before switching.
        purgeClaims = PurgeClaims(client: remote.client, layout: remote.layout, settle: 2 * poll + 2)
    }

    /// Who purges a flip, among the nodes of this bucket.
    public let purgeClaims: PurgeClaims

    /// Creates the cache store if needed. Call once before serving.
    public func prepareCache() throws {
        try cache.withWriteLock {}
    }

    /// One round: every channel checked, changes mirrored and switched. Errors are recorded, not thrown.
    public func syncOnce() {
        do {
            for channel in try followedChannels() {
                try follow(channel)
                try followConfig(channel)
            }
            state.withLock { $0.failing = nil }
        } catch {
            let reason = (error as? StrataError)?.message ?? String(describing: error)
            state.withLock { state in
                if state.failing == nil { state.failing = (Timestamp.now(), reason) } else { state.failing!.reason = reason }
            }
            events.sayAtMostEverySecond(.error, "sync_failed", "cannot sync from \(remote.location): \(reason)")
        }
    }

    /// The channels to follow this round: those given, and when following every channel, those
    /// the bucket listed last (listed again every `channelListingInterval`).
    private func followedChannels() throws -> [String] {
        guard followsEveryChannel else { return channels }
        let (names, due) = state.withLock { state in
            (state.listedChannels, state.listed.map { Date().timeIntervalSince($0) >= channelListingInterval } ?? true)
        }
        guard due else { return Array(Set(channels + names)).sorted() }
        let listed = try remoteStore.backend.pointers(.releases).names().filter { (try? Names.validateChannel($0)) != nil }
        state.withLock { state in
            state.listedChannels = listed
            state.listed = Date()
        }
        return Array(Set(channels + listed)).sorted()
    }

    /// Polls on a thread of its own until `stop()`.
    public func start() {
        let thread = Thread { [self] in
            while !state.withLock({ $0.stopped }) {
                Thread.sleep(forTimeInterval: poll)
                syncOnce()
            }
        }
        thread.name = "strata-serve-node"
        thread.start()
    }

    public func stop() {
        state.withLock { $0.stopped = true }
    }

    /// nil while the bucket answers and every channel's release was taken; else what went wrong.
    public func upstreamProblem() -> String? {
        state.withLock { state in
            var problems = state.failing.map { ["cannot sync from \(remote.location) since \($0.since): \($0.reason)"] } ?? []
            problems += state.refused.keys.sorted().map { "channel '\($0)': \(state.refused[$0]!.reason)" }
            return problems.isEmpty ? nil : problems.joined(separator: "; ")
        }
    }

    /// Whether this node purges the caches for the flip it just made on `channel` (to `release`,
    /// nil when the channel ended): one node per flip (`PurgeClaims`).
    public func purgeOutcome(channel: String, release: String?) -> PurgeClaims.Outcome {
        guard let switched = state.withLock({ $0.switched[channel] }), case .entityTag(let tag) = switched.stamp else {
            return .send(after: 0)  // not a switch this node made from the bucket: nothing to share
        }
        let ended = release == nil
        guard ended || switched.value.id == release || switched.value.canary?.release == release else { return .send(after: 0) }
        let flip = tag.filter { $0.isLetter || $0.isNumber } + (ended ? "-ended" : "")
        return purgeClaims.claim(channel: channel, flip: flip)
    }

    /// A release asked for by its versioned URL: mirrored on demand (errors leave it absent).
    public func fetch(_ id: String) {
        guard Fingerprint.isReleaseID(id) else { return }
        do {
            guard try remote.containsRelease(id) else { return }
            try mirror.mirror(id)
            state.withLock { state in
                state.fetched.removeAll { $0 == id }
                state.fetched.append(id)
                if state.fetched.count > Self.sparedFetches { state.fetched.removeFirst() }
            }
            try evictIfOverBudget()
        } catch {
            events.say(.error, "fetch_failed", "cannot fetch release \(id): \((error as? StrataError)?.message ?? "\(error)")", [("release", id)])
        }
    }

    private func follow(_ channel: String) throws {
        let pointer = try Channels(store: remoteStore).pointer(for: channel)
        let known = state.withLock { $0.seen[channel] }
        guard case .changed(let read) = try pointer.readIfChanged(since: known) else { return }
        if let refusal = state.withLock({ $0.refused[channel] }), refusal.stamp == read.stamp { return }  // said already
        let id = read.value
        do {
            // An expired (or deleted) channel is copied as it is, without its releases: it serves nothing.
            for release in read.pointer.releases where !read.pointer.isExpired() { try mirror.mirror(release) }
        } catch let error as StrataError where error.kind == .corrupt || error.kind == .invalidInput {
            // The bucket names a release this node will not serve: keep serving what it has.
            state.withLock { $0.refused[channel] = (read.stamp, error.message) }
            events.say(.error, "release_refused", "channel '\(channel)' of \(remote.location) names release \(id), refused: \(error.message)",
                       [("channel", channel), ("release", id)])
            return
        }
        let channels = Channels(store: cache)
        state.withLock { $0.switched[channel] = (read.stamp, read.pointer) }  // before the server can see the switch
        if try channels.pointer(for: channel).stampedRead()?.pointer != read.pointer {
            _ = try channels.adopt(read.pointer, channel: channel)
            events.say(.info, "synced", "channel '\(channel)' of \(remote.location) moved to \(Channels.describe(read.pointer)): now whole in the cache",
                       [("channel", channel), ("release", id), ("canary", read.pointer.canary?.release)])
        }
        state.withLock { state in
            state.seen[channel] = read.stamp
            state.refused[channel] = nil
        }
        try evictIfOverBudget()
    }

    /// The channel's runtime config (`strata config`), copied when its pointer changes.
    private func followConfig(_ channel: String) throws {
        let configs = ChannelConfigs(store: remoteStore)
        let known = state.withLock { $0.seenConfig[channel] }
        guard case .changed(let read) = try configs.pointer(for: channel).readIfChanged(since: known) else { return }
        _ = try ChannelConfigs(store: cache).adopt(try configs.version(read.value), channel: channel)
        state.withLock { $0.seenConfig[channel] = read.stamp }
    }

    /// Past `cacheMax`, removes the releases no channel of the cache points at and not fetched on
    /// demand lately (oldest first), then frees their content, until the cache fits or only those
    /// are left.
    private func evictIfOverBudget() throws {
        guard let cacheMax, let pool = cache.folders?.layout.pool else { return }
        guard try Self.contentBytes(pool) > cacheMax else { return }
        try cache.withWriteLock {
            let live = Set(try Channels(store: cache).all().flatMap(\.releases)).union(state.withLock { $0.fetched })
            for release in try ReleaseCatalog(cache).summaries() where !live.contains(release.id) {
                try cache.backend.removeRelease(release.id)
                _ = try cache.backend.collectUnreferencedContent()
                if try Self.contentBytes(pool) <= cacheMax { return }
            }
        }
    }

    /// Bytes of the files under `folder` (the cache's content pool).
    static func contentBytes(_ folder: FilePath) throws -> Int64 {
        var total: Int64 = 0
        guard let enumerator = FileManager.default.enumerator(atPath: folder.string) else { return 0 }
        while let name = enumerator.nextObject() as? String {
            if let size = (try? FileManager.default.attributesOfItem(atPath: folder.string + "/" + name))?[.size] as? NSNumber,
               (enumerator.fileAttributes?[.type] as? FileAttributeType) == .typeRegular {
                total += size.int64Value
            }
        }
        return total
    }
}

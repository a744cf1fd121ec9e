import StrataCore

/// Follows one channel's pointers (release and config) and history for the connections of one
/// event loop. Each loop has its own, so nothing here is locked or shared between threads.
///
/// The pointer is checked on every request by its stamp, through a `PointerWatcher` (locally one
/// `fstat` of the pointers' folder): `activate` replaces the pointer whole, so a different stamp
/// means a flip, and only then is the pointer read again. A request that starts after `activate`
/// returned therefore sees the new release.
final class ChannelWatch {
    let name: String
    /// Its index in `ServerMetrics.channels` (served channels, sorted); -1 for a watch kept only
    /// to protect versioned URLs.
    var metricsNumber = -1
    private let historyDepth: Int
    private let release: Pointer
    private let configPointer: Pointer
    private let configs: ChannelConfigs
    private let releaseWatcher: any PointerWatcher
    private let configWatcher: any PointerWatcher
    private var pointer = Cached<PointerValue?>(stamp: nil, value: nil)
    private var history = Cached<[HistoryEntry]>(stamp: nil, value: [])
    private var cachedConfig = Cached<ConfigVersion>(stamp: nil, value: .empty)

    struct Cached<Value> {
        var stamp: PointerStamp?
        var value: Value
    }

    private let events: EventLog

    init(store: Store, folders: any ReleaseFolders, channel: String, historyDepth: Int, events: EventLog = EventLog()) throws {
        name = channel
        self.events = events
        release = try Channels(store: store).pointer(for: channel)
        configs = ChannelConfigs(store: store)
        configPointer = try configs.pointer(for: channel)
        releaseWatcher = folders.pointerWatcher(channel, family: .releases)
        configWatcher = folders.pointerWatcher(channel, family: .configs)
        self.historyDepth = historyDepth
    }

    /// The head lines that let shared caches keep this channel's pages (`--shared-cache-ttl`),
    /// made once per release the channel serves.
    func sharedCacheLines(release: String, seconds: Int) -> SharedCacheLines {
        if let shared, shared.release == release { return shared }
        shared = SharedCacheLines(channel: name, release: release, seconds: seconds)
        return shared!
    }

    private var shared: SharedCacheLines?

    /// The channel's runtime config (empty when none was ever set), re-read only when its pointer
    /// changes, like the release pointer.
    func config() -> ConfigVersion {
        let stamp = configWatcher.stamp()
        if cachedConfig.stamp == stamp { return cachedConfig.value }
        let version = stamp == nil ? .empty : ((try? configs.current(name)) ?? nil) ?? .empty
        cachedConfig = Cached(stamp: stamp, value: version)
        return version
    }

    /// Why the pointer could not be read at the last try (then `currentRelease()` is nil).
    private(set) var pointerProblem: String?

    /// The release everyone (but a canary's share) gets, or nil when there is no pointer (or it is unreadable).
    func currentRelease() -> String? {
        live()?.id
    }

    /// True when `id` is the channel's stable release or its canary.
    func serves(_ id: String) -> Bool {
        guard let live = live() else { return false }
        return live.id == id || live.canary?.release == id
    }

    /// What the pointer holds: the stable release and any canary; nil when there is none, or the
    /// channel expired (checked against the clock on each call: expiring needs no write).
    func live() -> PointerValue? {
        guard let value = storedValue() else { return nil }
        if value.expires != nil && value.isExpired() { return nil }
        return value
    }

    private func storedValue() -> PointerValue? {
        let stamp = releaseWatcher.stamp()
        if stamp != nil && pointer.stamp == stamp { return pointer.value }
        let read: Pointer.Stamped?
        do {
            read = try release.stampedRead()
            pointerProblem = nil
        } catch {
            read = nil
            pointerProblem = "cannot read the pointer of channel '\(name)': \((error as? StrataError)?.message ?? "\(error)")"
            events.sayAtMostEverySecond(.error, "pointer_unreadable", pointerProblem!, [("channel", name)])
        }
        pointer = Cached(stamp: read?.stamp, value: read?.pointer)
        return read?.pointer
    }

    /// Releases the channel served recently, newest first: the ids its last few history entries name.
    func recentReleases() -> [String] {
        var seen = Set<String>()
        var ids: [String] = []
        for entry in recentHistory().reversed() {
            for id in [entry.to, entry.from].compactMap({ $0 }) where seen.insert(id).inserted {
                ids.append(id)
            }
        }
        return ids
    }

    /// When the channel last moved to `id`, from its history.
    func activationTime(of id: String) -> String? {
        recentHistory().last { $0.to == id }?.time
    }

    private func recentHistory() -> [HistoryEntry] {
        let stamp = release.historyStamp()
        if history.stamp == stamp { return history.value }
        let entries = Array(((try? release.history()) ?? []).suffix(historyDepth))
        history = Cached(stamp: stamp, value: entries)
        return entries
    }
}

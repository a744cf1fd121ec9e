import StrataCore
import Synchronization

/// Follows one channel's pointers (release and config) and history on behalf of every request.
///
/// The pointer is checked on every request by its stamp (one `stat`): `activate` replaces the
/// pointer whole, so a different stamp means a flip, and only then is the pointer read again. A
/// request that starts after `activate` returned therefore sees the new release.
final class ChannelWatch: Sendable {
    let name: String
    private let historyDepth: Int
    private let release: Pointer
    private let configPointer: Pointer
    private let configs: ChannelConfigs
    private let pointer = Mutex<Cached<String?>>(Cached(stamp: nil, value: nil))
    private let history = Mutex<Cached<[HistoryEntry]>>(Cached(stamp: nil, value: []))
    private let cachedConfig = Mutex<Cached<ConfigVersion>>(Cached(stamp: nil, value: .empty))

    struct Cached<Value: Sendable>: Sendable {
        var stamp: PointerStamp?
        var value: Value
    }

    init(store: Store, channel: String, historyDepth: Int) throws {
        name = channel
        release = try Channels(store: store).pointer(for: channel)
        configs = ChannelConfigs(store: store)
        configPointer = try configs.pointer(for: channel)
        self.historyDepth = historyDepth
    }

    /// The channel's runtime config (empty when none was ever set), re-read only when its pointer
    /// changes, like the release pointer.
    func config() -> ConfigVersion {
        let stamp = configPointer.stamp()
        if let cached = cachedConfig.withLock({ $0.stamp == stamp ? $0.value : nil }) { return cached }
        let version = stamp == nil ? .empty : ((try? configs.current(name)) ?? nil) ?? .empty
        cachedConfig.withLock { $0 = Cached(stamp: stamp, value: version) }
        return version
    }

    /// The release id the pointer names, or nil when there is no pointer (or it is unreadable).
    func currentRelease() -> String? {
        let stamp = release.stamp()
        if let cached = pointer.withLock({ $0.stamp == stamp && stamp != nil ? $0 : nil }) { return cached.value }
        let read = (try? release.stampedRead()) ?? nil
        pointer.withLock { $0 = Cached(stamp: read?.stamp, value: read?.value) }
        return read?.value
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
        if let cached = history.withLock({ $0.stamp == stamp ? $0.value : nil }) { return cached }
        let entries = Array(((try? release.history()) ?? []).suffix(historyDepth))
        history.withLock { $0 = Cached(stamp: stamp, value: entries) }
        return entries
    }
}

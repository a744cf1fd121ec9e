#if canImport(Glibc)
import Glibc
#endif
import StrataCore
import Synchronization

/// Follows one channel's pointer file and history on behalf of every request.
///
/// The pointer is checked on every request with a single `stat`: `activate` renames a new file over
/// the pointer, so a different inode (or time, or size) means a flip, and only then is the file read
/// again. A request that starts after `activate` returned therefore sees the new release.
final class ChannelWatch: Sendable {
    let name: String
    private let pointerPath: String
    private let historyPath: String
    private let historyDepth: Int
    /// Reads pointer and history files the way every other command does; only the change check is ours.
    private let channels: Channels
    private let pointer = Mutex<Cached<String?>>(Cached(stamp: nil, value: nil))
    private let history = Mutex<Cached<[HistoryEntry]>>(Cached(stamp: nil, value: []))
    private let configPointerPath: String
    private let configs: ChannelConfigs
    private let cachedConfig = Mutex<Cached<ConfigVersion>>(Cached(stamp: nil, value: .empty))

    struct Cached<Value: Sendable>: Sendable {
        var stamp: FileStamp?
        var value: Value
    }

    init(store: Store, channel: String, historyDepth: Int) {
        name = channel
        channels = Channels(store: store)
        pointerPath = store.layout.channel(channel)
        historyPath = store.layout.history(channel)
        self.historyDepth = historyDepth
        configs = ChannelConfigs(store: store)
        configPointerPath = store.layout.configPointer(channel)
    }

    /// The channel's runtime config (empty when none was ever set), re-read only when its pointer
    /// file changes, like the release pointer.
    func config() -> ConfigVersion {
        let stamp = FileStamp(path: configPointerPath)
        if let cached = cachedConfig.withLock({ $0.stamp == stamp ? $0.value : nil }) { return cached }
        let version = stamp == nil ? .empty : ((try? configs.current(name)) ?? nil) ?? .empty
        cachedConfig.withLock { $0 = Cached(stamp: stamp, value: version) }
        return version
    }

    /// The release id the pointer names, or nil when there is no pointer (or it is unreadable).
    func currentRelease() -> String? {
        let stamp = FileStamp(path: pointerPath)
        if let cached = pointer.withLock({ $0.stamp == stamp && stamp != nil ? $0 : nil }) { return cached.value }
        let id = stamp == nil ? nil : (try? channels.pointer(name)) ?? nil
        pointer.withLock { $0 = Cached(stamp: id == nil ? nil : stamp, value: id) }
        return id
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
        let stamp = FileStamp(path: historyPath)
        if let cached = history.withLock({ $0.stamp == stamp ? $0.value : nil }) { return cached }
        let entries = ((try? channels.history(name)) ?? []).suffix(historyDepth)
        history.withLock { $0 = Cached(stamp: stamp, value: Array(entries)) }
        return Array(entries)
    }
}

/// What `stat` says about a file, enough to tell that it was replaced or changed.
struct FileStamp: Equatable, Sendable {
    let device: UInt64
    let inode: UInt64
    let size: Int64
    let modifiedSeconds: Int
    let modifiedNanoseconds: Int

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        modifiedSeconds = info.st_mtim.tv_sec
        modifiedNanoseconds = info.st_mtim.tv_nsec
    }
}

/// Picks the channel a request is for by its Host header: `--channel-for-host name=channel`
/// entries first, the default channel for every other host.
struct ChannelRouter: Sendable {
    let fallback: ChannelWatch
    let byHost: [String: ChannelWatch]

    func watch(forHost host: String?) -> ChannelWatch {
        guard !byHost.isEmpty, let host else { return fallback }
        return byHost[Self.hostName(host)] ?? fallback
    }

    /// `Staging.Example.com:8080` → `staging.example.com`; `[::1]:80` → `[::1]`.
    static func hostName(_ header: String) -> String {
        var name = Substring(header.lowercased())
        if name.hasPrefix("[") {
            if let close = name.firstIndex(of: "]") { name = name[...close] }
        } else if let colon = name.lastIndex(of: ":") {
            name = name[..<colon]
        }
        if name.hasSuffix(".") { name = name.dropLast() }
        return String(name)
    }
}

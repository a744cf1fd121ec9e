/// Picks what a request is for by its Host header: `--channel-for-host name=channel` entries
/// first, then `--release-host` patterns (a release by name), then `--channel-host` patterns (a
/// channel by name), and the default channel for every other host. One per event loop, like its
/// watches: the watches of channels met through `--channel-host` are made here on first use.
final class HostRouter {
    let fallback: ChannelWatch
    private let byHost: [String: ChannelWatch]
    /// `--release-host '*.preview.example.com'` as `.preview.example.com`.
    private let releaseSuffixes: [String]
    private let channelSuffixes: [String]
    /// A watch of the named channel, or nil for a name that is not a channel name.
    private let makeWatch: (String) -> ChannelWatch?
    /// Watches of channels reached by `--channel-host`, by name (bounded: names come from clients).
    private var dynamic: [String: ChannelWatch] = [:]
    static let dynamicWatchesKept = 256
    private let routesByHost: Bool

    enum Route {
        case channel(ChannelWatch)
        /// A `--release-host` name: a release id, id prefix or label (lowercase).
        case release(String)
        /// A `--channel-host` name that is no channel (never activated, expired or deleted).
        case noChannel(String)
    }

    init(fallback: ChannelWatch, byHost: [String: ChannelWatch] = [:], releaseSuffixes: [String] = [], channelSuffixes: [String] = [],
         makeWatch: @escaping (String) -> ChannelWatch? = { _ in nil }) {
        self.fallback = fallback
        self.byHost = byHost
        self.releaseSuffixes = releaseSuffixes
        self.channelSuffixes = channelSuffixes
        self.makeWatch = makeWatch
        routesByHost = !byHost.isEmpty || !releaseSuffixes.isEmpty || !channelSuffixes.isEmpty
    }

    func route<Host: Collection<UInt8>>(forHost host: Host?) -> Route {
        guard routesByHost, let host else { return .channel(fallback) }
        let name = Self.hostName(String(decoding: host, as: UTF8.self))
        if let watch = byHost[name] { return .channel(watch) }
        if let release = Self.prefix(of: name, before: releaseSuffixes) { return .release(release) }
        if let channel = Self.prefix(of: name, before: channelSuffixes) { return channelRoute(channel) }
        return .channel(fallback)
    }

    /// A channel that is not there (never activated, expired, deleted) is "no channel", not a 503:
    /// on these hosts the name is the client's to choose.
    private func channelRoute(_ channel: String) -> Route {
        if let watch = dynamic[channel] {
            if Self.exists(watch) { return .channel(watch) }
            dynamic[channel] = nil
            return .noChannel(channel)
        }
        // Kept only for a channel that exists (or whose pointer cannot be read, which it says):
        // unknown names cost a stat each and leave nothing behind.
        guard let watch = makeWatch(channel), Self.exists(watch) else { return .noChannel(channel) }
        if dynamic.count >= Self.dynamicWatchesKept { dynamic.removeAll() }
        dynamic[channel] = watch
        return .channel(watch)
    }

    private static func exists(_ watch: ChannelWatch) -> Bool {
        watch.live() != nil || watch.pointerProblem != nil
    }

    /// `pr-7` of `pr-7.preview.example.com` for the suffix `.preview.example.com`.
    private static func prefix(of name: String, before suffixes: [String]) -> String? {
        for suffix in suffixes where name.hasSuffix(suffix) && name.utf8.count > suffix.utf8.count {
            return String(name.dropLast(suffix.count))
        }
        return nil
    }

    /// `*.preview.example.com` as `.preview.example.com`; nil unless it is `*.` and a host name.
    static func suffix(ofPattern pattern: String) -> String? {
        guard pattern.hasPrefix("*."), pattern.count > 2 else { return nil }
        let rest = pattern.dropFirst(2)
        let labels = rest.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.allSatisfy({ label in
            !label.isEmpty && label.utf8.count <= 63 && label.first != "-" && label.last != "-"
                && label.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "-") }
        }) else { return nil }
        return "." + rest
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

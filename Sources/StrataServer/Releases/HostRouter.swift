/// Picks the channel a request is for by its Host header: `--channel-for-host name=channel`
/// entries first, the default channel for every other host. One per event loop, like its watches.
struct HostRouter {
    let fallback: ChannelWatch
    let byHost: [String: ChannelWatch]

    func watch<Host: Collection<UInt8>>(forHost host: Host?) -> ChannelWatch {
        guard !byHost.isEmpty, let host else { return fallback }
        return byHost[Self.hostName(String(decoding: host, as: UTF8.self))] ?? fallback
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

/// The tags a channel's shareable answers carry for CDNs (`Surrogate-Key`, `Cache-Tag`, `xkey`),
/// and the one a purge names when the channel flips. Channel names and ids have no spaces or
/// commas, so every CDN's tag syntax takes them.
public enum CacheTags {
    /// `strata-channel-<name>`: every page of the channel, whatever release it came from.
    public static func channel(_ name: String) -> String {
        "strata-channel-" + name
    }

    /// `strata-release-<id>`: the pages one release answered.
    public static func release(_ id: String) -> String {
        "strata-release-" + id
    }

    public static func tags(channel name: String, release id: String) -> [String] {
        [channel(name), release(id)]
    }
}

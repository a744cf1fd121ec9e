import StrataCore

/// What lets a shared cache (a CDN, Varnish, nginx's `proxy_cache`) keep a channel's page until the
/// channel flips: `Cache-Control` with `s-maxage` (browsers still revalidate: `max-age=0`), and the
/// channel's and release's tags in the three headers CDNs read (`Surrogate-Key` for Fastly,
/// `Cache-Tag` for Cloudflare, `xkey` for Varnish), by which a purge on flip finds them.
struct SharedCacheLines {
    let release: String
    let cacheControl: [UInt8]
    let tags: [UInt8]

    init(channel: String, release: String, seconds: Int) {
        self.release = release
        cacheControl = Array("Cache-Control: public, max-age=0, s-maxage=\(seconds)\r\n".utf8)
        let tags = CacheTags.tags(channel: channel, release: release)
        self.tags = Array(("Surrogate-Key: \(tags.joined(separator: " "))\r\n"
            + "Cache-Tag: \(tags.joined(separator: ","))\r\n"
            + "xkey: \(tags.joined(separator: " "))\r\n").utf8)
    }
}

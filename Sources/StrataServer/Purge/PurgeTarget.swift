import Foundation
import StrataCore

/// Where a purge goes when a channel flips (`--purge URL`, `--on-flip CMD`), and how it is said.
///
/// The URL says which protocol:
/// - `http://varnish:6081/` (or https): an HTTP `PURGE` carrying the tag in `xkey-purge`, which
///   Varnish's xkey module purges by (docs/operations.md has the VCL);
/// - `ban+http://varnish:6081/`: a `BAN` with the same header, for a VCL that bans by tag;
/// - `https://api.cloudflare.com/client/v4/zones/<zone>/purge_cache`: Cloudflare's purge by tag,
///   `{"tags":[…]}` with `Authorization: Bearer $CLOUDFLARE_API_TOKEN`;
/// - `https://api.fastly.com/service/<service>/purge`: Fastly's purge by surrogate key,
///   `{"surrogate_keys":[…]}` with `Fastly-Key: $FASTLY_API_TOKEN`.
/// The API formats are recognised by their paths, so a test (or a proxy) can serve them anywhere.
public struct PurgeTarget: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case varnishPurge
        case varnishBan
        case cloudflare(token: String)
        case fastly(token: String)
        /// `--on-flip`: a shell command given the channel and both release ids.
        case command(String)
    }

    public let kind: Kind
    /// The URL requests go to (nil for a command).
    public let url: URL?
    /// How logs, metrics and `/_strata/health` name it: the URL without credentials or query, or
    /// `on-flip`.
    public let name: String

    public static let cloudflareTokenVariable = "CLOUDFLARE_API_TOKEN"
    public static let fastlyTokenVariable = "FASTLY_API_TOKEN"

    /// `--on-flip CMD`.
    public static func command(_ command: String) -> PurgeTarget {
        PurgeTarget(kind: .command(command), url: nil, name: "on-flip")
    }

    /// A `--purge` URL, with the tokens its API needs from `environment`; throws one line naming
    /// what is wrong.
    public static func parse(_ text: String, environment: [String: String]) throws -> PurgeTarget {
        var address = text
        var ban = false
        if address.hasPrefix("ban+") {
            ban = true
            address.removeFirst(4)
        }
        guard let url = URL(string: address), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty else {
            throw StrataError(.invalidInput, "--purge '\(Escaped.path(text))' is not an http:// or https:// URL (ban+http:// for a BAN)")
        }
        guard url.user == nil && url.password == nil else {
            throw StrataError(.invalidInput, "--purge '\(Escaped.path(text))' carries credentials; API tokens come from the environment")
        }
        let name = "\(ban ? "ban+" : "")\(scheme)://\(host)\(url.port.map { ":\($0)" } ?? "")\(url.path.isEmpty ? "/" : url.path)"
        let parts = url.path.split(separator: "/")
        func token(_ variable: String, _ service: String) throws -> String {
            guard let token = environment[variable], !token.isEmpty else {
                throw StrataError(.invalidInput, "--purge \(name) is \(service)'s purge API: set \(variable) to an API token")
            }
            return token
        }
        if parts.count == 5, parts[0] == "client", parts[1] == "v4", parts[2] == "zones", parts[4] == "purge_cache" {
            guard !ban else { throw StrataError(.invalidInput, "--purge \(name): ban+ is for Varnish, not Cloudflare's API") }
            return PurgeTarget(kind: .cloudflare(token: try token(cloudflareTokenVariable, "Cloudflare")), url: url, name: name)
        }
        if parts.count == 3, parts[0] == "service", parts[2] == "purge" {
            guard !ban else { throw StrataError(.invalidInput, "--purge \(name): ban+ is for Varnish, not Fastly's API") }
            return PurgeTarget(kind: .fastly(token: try token(fastlyTokenVariable, "Fastly")), url: url, name: name)
        }
        return PurgeTarget(kind: ban ? .varnishBan : .varnishPurge, url: url, name: name)
    }
}

/// One purge: what changed on which channel, and the tag every cache is told to drop.
public struct PurgeRequest: Sendable, Equatable {
    public let channel: String
    /// The release the channel serves now (nil: it expired or was deleted) and the one before.
    public let release: String?
    public let previous: String?

    public init(channel: String, release: String?, previous: String?) {
        self.channel = channel
        self.release = release
        self.previous = previous
    }

    public var tag: String { CacheTags.channel(channel) }
}

import StrataCore

/// Where a store's objects are, under its prefix:
///
///     strata-store.json          marker: this prefix is a Strata store
///     content/<sha256>           file bytes, by their SHA-256, written once
///     variants/<sha256>.<gz|br|zst>  that content's precompressed variants, written once
///     releases/<id>.json         a release's manifest, written last: the release exists once it does
///     channels/<name>            a channel's pointer: `<id>\n`, then its history, one JSON line per flip
///     configs/channels/<name>    a config channel's pointer, the same way
///     configs/versions/<id>      a runtime config version, by its id
///     pins/<id>                  an empty object: release <id> is pinned
///     leases/<uuid>              a publish in progress (prune leaves content alone while one is fresh)
///     locks/prune                held while a prune deletes content
///     locks/write                the writers' lease (`S3WriteLock`): one writer at a time
///     probes/<uuid>              a conditional-write probe, removed at once (`ConditionalWriteProbe`)
///     purges/<channel>/<flip>    which serve node purges the caches for one flip (`PurgeClaims`)
struct S3Layout: Sendable {
    let location: S3Location

    var marker: String { location.key("strata-store.json") }
    var contentFolder: String { location.key("content/") }
    func content(_ sha256: String) -> String { contentFolder + sha256 }
    var variantsFolder: String { location.key("variants/") }
    func variant(of sha256: String, _ encoding: ContentEncoding) -> String { variantsFolder + sha256 + encoding.fileSuffix }
    var releasesFolder: String { location.key("releases/") }
    func manifest(_ id: String) -> String { releasesFolder + id + ".json" }
    var channelsFolder: String { location.key("channels/") }
    var configChannelsFolder: String { location.key("configs/channels/") }
    func configVersion(_ id: String) -> String { location.key("configs/versions/" + id) }
    var pinsFolder: String { location.key("pins/") }
    func pin(_ id: String) -> String { pinsFolder + id }
    var leasesFolder: String { location.key("leases/") }
    var pruneLock: String { location.key("locks/prune") }
    var writeLock: String { location.key("locks/write") }
    func probe(_ name: String) -> String { location.key("probes/" + name) }
    func purgeClaims(of channel: String) -> String { location.key("purges/" + channel + "/") }

    /// The release id of a manifest key, or nil for anything else.
    func releaseID(ofManifest key: String) -> String? {
        guard key.hasPrefix(releasesFolder), key.hasSuffix(".json") else { return nil }
        return String(key.dropFirst(releasesFolder.count).dropLast(".json".count))
    }
}

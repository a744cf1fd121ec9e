/// Where everything lives inside a store. The one place that spells out paths.
///
/// ```
/// <root>/strata-store.json      marker: this folder is a Strata store
/// <root>/releases/<id>/         immutable releases (files 0444, folders 0555)
/// <root>/releases/<id>/.strata/ release metadata (manifest.json, variants/), never served, not fingerprinted
/// <root>/channels/<name>        pointer files: "<id>\n"
/// <root>/history/<name>.jsonl   append-only log of every flip of that channel
/// <root>/pins/<id>              a release prune must keep
/// <root>/pool/<ab>/<sha256>     content-addressed hard links, so unchanged files are never copied again
/// <root>/pool/<ab>/<sha256>.gz  the gzip variant of that content, so it is never compressed again
/// <root>/configs/versions/<id>.json   runtime config versions, content-addressed, never rewritten
/// <root>/configs/channels/<name>      a channel's config pointer: "<id>\n"
/// <root>/configs/history/<name>.jsonl every change of that pointer
/// <root>/staging/               work in progress; anything here without a live owner is debris
/// <root>/lock                   the writers' lock (flock), holding pid, host and time of the holder
/// ```
public struct StoreLayout: Sendable, Equatable {
    public let root: String

    public init(root: String) {
        var trimmed = root
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.root = trimmed
    }

    public var marker: String { root + "/strata-store.json" }
    public var releases: String { root + "/releases" }
    public var channels: String { root + "/channels" }
    public var history: String { root + "/history" }
    public var pins: String { root + "/pins" }
    public var pool: String { root + "/pool" }
    public var staging: String { root + "/staging" }
    public var lockFile: String { root + "/lock" }
    public var configs: String { root + "/configs" }
    var configVersions: String { configs + "/versions" }
    var configChannels: String { configs + "/channels" }
    var configHistories: String { configs + "/history" }

    /// The folders a writable store has.
    var folders: [String] { [releases, channels, history, pins, pool, staging, configs] }

    /// True for a name directly under the root that a store (or one being created) holds.
    func isPartOfLayout(_ name: String) -> Bool {
        let marker = FileSystem.baseName(of: self.marker)
        let own = folders.map(FileSystem.baseName(of:)) + [marker, FileSystem.baseName(of: lockFile)]
        return own.contains(name) || name.hasPrefix("." + marker + ".tmp-")
    }

    public func release(_ id: String) -> String { releases + "/" + id }
    public func metadata(_ id: String) -> String { release(id) + "/" + ReleaseLayout.metadataFolder }
    public func manifest(_ id: String) -> String { release(id) + "/" + ReleaseLayout.manifestPath }
    public func channel(_ name: String) -> String { channels + "/" + name }
    public func history(_ channel: String) -> String { history + "/" + channel + ".jsonl" }
    public func pin(_ id: String) -> String { pins + "/" + id }
    public func configVersion(_ id: String) -> String { configVersions + "/" + id + ".json" }
    public func configPointer(_ channel: String) -> String { configChannels + "/" + channel }
    public func configHistory(_ channel: String) -> String { configHistories + "/" + channel + ".jsonl" }

    /// The pool entry for content with this SHA-256, fanned out by its first two hex digits.
    public func pooled(_ sha256: String) -> String { pool + "/" + sha256.prefix(2) + "/" + sha256 }

    /// The pool entry for the gzip variant of content with this SHA-256.
    public func pooledGzipVariant(of sha256: String) -> String { pooled(sha256) + ".gz" }
}

/// Names inside one release folder.
public enum ReleaseLayout {
    /// Strata's own metadata; never served and never part of the fingerprint.
    public static let metadataFolder = ".strata"
    public static let manifestPath = ".strata/manifest.json"
    /// Precompressed copies, named by the SHA-256 of the content they compress.
    public static let variantsFolder = ".strata/variants"

    public static func gzipVariant(of sha256: String) -> String { variantsFolder + "/" + sha256 + ".gz" }
}

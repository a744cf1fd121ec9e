import SystemPackage

/// Where everything lives inside a local store. The one place that spells out paths.
///
/// ```
/// <root>/strata-store.json      marker: this folder is a Strata store
/// <root>/releases/<id>/         immutable releases (files 0444, folders 0555)
/// <root>/releases/<id>/.strata/ release metadata (manifest.json, variants/), never served, not fingerprinted
/// <root>/channels/<name>        pointer files: "<id>\n"
/// <root>/history/<name>.jsonl   append-only log of every flip of that channel
/// <root>/pins/<id>              a release prune must keep
/// <root>/pool/<ab>/<sha256>     content-addressed hard links, so unchanged files are never copied again
/// <root>/pool/<ab>/<sha256>.gz  its variants (also .br, .zst), so that content is never compressed again
/// <root>/configs/versions/<id>.json   runtime config versions, content-addressed, never rewritten
/// <root>/configs/channels/<name>      a channel's config pointer: "<id>\n"
/// <root>/configs/history/<name>.jsonl every change of that pointer
/// <root>/staging/               work in progress; anything here without a live owner is debris
/// <root>/lock                   the writers' lock (flock), holding pid, host and time of the holder
/// <root>/flips                  a counter every flip adds one to; servers map it (see `FlipCounter`)
/// ```
public struct StoreLayout: Sendable, Equatable {
    public let root: FilePath

    public init(root: FilePath) {
        self.root = root  // FilePath drops trailing slashes itself
    }

    public var marker: FilePath { root.appending("strata-store.json") }
    public var releases: FilePath { root.appending("releases") }
    public var channels: FilePath { root.appending("channels") }
    public var history: FilePath { root.appending("history") }
    public var pins: FilePath { root.appending("pins") }
    public var pool: FilePath { root.appending("pool") }
    public var staging: FilePath { root.appending("staging") }
    public var lockFile: FilePath { root.appending("lock") }
    public var flipCounter: FilePath { root.appending("flips") }
    public var configs: FilePath { root.appending("configs") }
    var configVersions: FilePath { configs.appending("versions") }
    var configChannels: FilePath { configs.appending("channels") }
    var configHistories: FilePath { configs.appending("history") }

    /// The folders a writable store has.
    var folders: [FilePath] { [releases, channels, history, pins, pool, staging, configs] }

    /// True for a name directly under the root that a store (or one being created) holds.
    func isPartOfLayout(_ name: String) -> Bool {
        let own = (folders + [marker, lockFile, flipCounter]).map { $0.lastComponent!.string }
        let written = [marker, flipCounter].map { "." + $0.lastComponent!.string + ".tmp-" }
        return own.contains(name) || written.contains { name.hasPrefix($0) }
    }

    public func release(_ id: String) -> FilePath { releases.appending(id) }
    public func manifest(_ id: String) -> FilePath { release(id).appending(ReleaseLayout.manifestPath) }
    public func pin(_ id: String) -> FilePath { pins.appending(id) }
    public func configVersion(_ id: String) -> FilePath { configVersions.appending(id + ".json") }

    /// The pool entry for content with this SHA-256, fanned out by its first two hex digits.
    public func pooled(_ sha256: String) -> FilePath { pool.appending(String(sha256.prefix(2))).appending(sha256) }

    /// The pool entry for a variant of content with this SHA-256.
    public func pooledVariant(of sha256: String, _ encoding: ContentEncoding) -> FilePath {
        pool.appending(String(sha256.prefix(2))).appending(sha256 + encoding.fileSuffix)
    }
}

/// Names inside one release folder.
public enum ReleaseLayout {
    /// Strata's own metadata; never served and never part of the fingerprint.
    public static let metadataFolder = ".strata"
    public static let manifestPath = ".strata/manifest.json"
    /// Precompressed copies, named by the SHA-256 of the content they compress.
    public static let variantsFolder = ".strata/variants"

    public static func variant(of sha256: String, _ encoding: ContentEncoding) -> String { variantsFolder + "/" + sha256 + encoding.fileSuffix }
    public static func gzipVariant(of sha256: String) -> String { variant(of: sha256, .gzip) }
}

import StrataCore
import SystemPackage

/// One file of a release as the server answers for it: its manifest entry, plus everything
/// per-request work can precompute: the full `Content-Type`, the ETags, and where the bytes are.
final class ServedFile: Sendable {
    let entry: Manifest.Entry
    var path: String { entry.path }
    var size: Int64 { entry.size }
    var sha256: String { entry.sha256 }
    /// `text/html; charset=utf-8`, `image/png`, …
    let contentType: String
    /// Strong ETag of the identity bytes: the same for the same content in every release.
    let etag: String
    let gzip: Variant?
    /// The name carries a content hash (`app.3f9a12c4.js`): safe to cache forever, even on channel URLs.
    let isHashNamed: Bool

    struct Variant: Sendable {
        let size: Int64
        let sha256: String
        let etag: String
        /// Relative to the release folder.
        let location: String
    }

    init(_ entry: Manifest.Entry) {
        self.entry = entry
        contentType = ContentType.isText(entry.type) ? entry.type + "; charset=utf-8" : entry.type
        etag = "\"" + entry.sha256.prefix(32) + "\""
        gzip = entry.gzip.map {
            Variant(size: $0.size, sha256: $0.sha256, etag: "\"" + $0.sha256.prefix(32) + "\"",
                    location: ReleaseLayout.gzipVariant(of: entry.sha256))
        }
        isHashNamed = HashedName.matches(entry.path)
    }
}

/// A release's manifest as a lookup table, loaded once per release and shared by all requests.
/// Requests never build file-system paths from what they were sent: a path that is not a key here
/// does not exist.
final class ReleaseIndex: Sendable {
    let release: ReleaseSummary
    var id: String { release.id }
    /// The release folder, to which `ServedFile.path` is relative.
    let folder: FilePath
    let files: [String: ServedFile]

    init(manifest: Manifest, folder: FilePath) {
        release = manifest.summary
        self.folder = folder
        var files: [String: ServedFile] = [:]
        files.reserveCapacity(manifest.files.count)
        for entry in manifest.files { files[entry.path] = ServedFile(entry) }
        self.files = files
    }
}

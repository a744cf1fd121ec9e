import Foundation
import StrataCore

/// One file of a release as the server answers for it, with everything per-request work can
/// precompute: the full `Content-Type`, the ETags, and where the bytes are.
final class ServedFile: Sendable {
    let path: String
    let size: Int64
    let sha256: String
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
        path = entry.path
        size = entry.size
        sha256 = entry.sha256
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
    let id: String
    let label: String?
    /// The release folder, to which `ServedFile.path` is relative.
    let folder: String
    let files: [String: ServedFile]

    init(manifest: Manifest, folder: String) {
        id = manifest.id
        label = manifest.label
        self.folder = folder
        var files: [String: ServedFile] = [:]
        files.reserveCapacity(manifest.files.count)
        for entry in manifest.files { files[entry.path] = ServedFile(entry) }
        self.files = files
    }
}

/// Recognises file names that carry a content hash, as bundlers write them: `app.3f9a12c4.js`,
/// `chunk-5FJK2L7Q.js`, `index-BkT3a9xQ.css`, `logo.b56bc6af.svg`. The rule: the part of the name
/// before its extension ends in a token of 8 or more letters and digits (`_` too), after a `.`
/// or `-`, that holds at least one digit and one letter — version numbers and words do not qualify.
enum HashedName {
    static func matches(_ path: String) -> Bool {
        let name = path.split(separator: "/").last ?? Substring(path)
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return false }
        let stem = name[..<dot]
        guard let separator = stem.lastIndex(where: { $0 == "." || $0 == "-" }) else { return false }
        let token = stem[stem.index(after: separator)...]
        guard token.utf8.count >= 8 else { return false }
        var digits = 0
        var letters = 0
        for byte in token.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits += 1
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): letters += 1
            case UInt8(ascii: "_"): break
            default: return false
            }
        }
        return digits > 0 && letters > 0
    }
}

import Foundation
import StrataCore
import Synchronization
import SystemPackage

/// Copies a release from an object store into a local store (a serve node's cache), whole or not
/// at all: content the cache holds is linked from its pool, the rest is downloaded (checked against
/// its SHA-256) into a local draft, and the release appears only when the draft is published.
struct ReleaseMirror {
    static let downloadWidth = 16

    let remote: S3Store
    let cache: Store

    /// Brings release `id` into the cache unless it is there. Returns the bytes downloaded.
    @discardableResult
    func mirror(_ id: String) throws -> Int64 {
        guard let local = cache.local else { preconditionFailure("a serve node's cache is a local store") }
        if local.containsRelease(id) { return 0 }
        guard let bytes = try remote.manifestBytes(of: id) else {
            throw StrataError(.notFound, "release \(id) is not in \(remote.location)")
        }
        let manifest = try Manifest.decode(bytes, path: remote.layout.manifest(id))
        guard manifest.id == id else { throw StrataError(.corrupt, "the manifest of \(id) in \(remote.location) names release \(manifest.id)") }

        let draft = try cache.withWriteLock { try local.makeDraft() }
        defer { draft.discard() }
        var pooled: [Manifest.Entry] = []
        var missing: [String: Manifest.Entry] = [:]  // one download per content
        for entry in manifest.files {
            if FileSystem.exists(local.layout.pooled(entry.sha256)) || missing[entry.sha256] != nil {
                pooled.append(entry)
            } else {
                missing[entry.sha256] = entry
            }
        }
        let downloads = Array(missing.values)
        let scratch = draft.scratch
        let downloaded = Atomic<Int64>(0)
        try BlockingWorkers.forEach(downloads.count, width: Self.downloadWidth) { index in
            let entry = downloads[index]
            let destination = scratch.appending(entry.path)
            try FileManager.default.createDirectory(atPath: FileSystem.folder(of: destination).string, withIntermediateDirectories: true)
            let file = try FileSystem.open(destination, .writeOnly, options: [.create, .exclusiveCreate], permissions: .defaultFile,
                                           purpose: "create").takeDescriptor()
            defer { try? file.close() }
            try remote.download(entry.sha256, expectedSize: entry.size, describedAs: entry.path) { _ = try file.writeAll($0) }
            downloaded.wrappingAdd(entry.size, ordering: .relaxed)
        }
        for entry in downloads {
            try draft.adopt(entry.path, digest: FileDigest(size: entry.size, sha256: entry.sha256))
        }
        // Now in the pool: linked (a file sharing content with a download links to it too).
        for entry in pooled {
            try draft.add(entry, from: local.layout.pooled(entry.sha256))
        }
        _ = try draft.seal(manifest)
        try cache.withWriteLock {
            if !local.containsRelease(id) { try draft.publish() }
        }
        return downloaded.load(ordering: .relaxed)
    }
}

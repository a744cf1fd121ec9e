import Foundation
import StrataCore
import Synchronization
import SystemPackage

/// Copies a release from an object store into a local store (a serve node's cache), whole or not
/// at all: content the cache holds is linked from its pool, the rest is downloaded (checked against
/// its SHA-256) into a local draft, and the release appears only when the draft is published.
///
/// The bucket's manifest is untrusted input: it must keep `ManifestRules` (so no path can lead out
/// of the cache) and, with trusted keys, carry a valid signature by one of them, before a byte of
/// it is downloaded.
struct ReleaseMirror {
    static let downloadWidth = 16
    /// Variants of files this large and larger are downloaded; smaller ones are made here, since
    /// compressing a small file takes less time than a request for its variant (measured against
    /// moto: docs/benchmarks.md, issue 25).
    static let variantDownloadMinimum: Int64 = 64 << 10

    let remote: S3Store
    let cache: Store
    let cacheFolders: any ReleaseFolders
    let trust: TrustedKeys?

    /// Release `id`'s manifest from the bucket, refused (one line naming the release and the first
    /// problem) unless it is valid and, with trusted keys, signed by one of them.
    func admit(_ id: String) throws -> Manifest {
        let manifest = try ReleaseCatalog(Store(backend: remote)).manifest(id)
        try trust?.require(manifest, origin: remote.location)
        return manifest
    }

    /// Brings release `id` into the cache unless it is there. Returns the bytes downloaded.
    @discardableResult
    func mirror(_ id: String) throws -> Int64 {
        if try cache.backend.containsRelease(id) {
            // Cached earlier, perhaps before --trust was given: held to the same keys.
            if let trust { try trust.require(try ReleaseCatalog(cache).manifest(id), origin: cache.location) }
            return 0
        }
        let manifest = try admit(id)
        let pool = cacheFolders.layout
        let draft = try cache.withWriteLock { try cache.backend.makeDraft() }
        defer { draft.discard() }
        var pooled: [Manifest.Entry] = []
        var missing: [String: Manifest.Entry] = [:]  // one download per content
        for entry in manifest.files {
            if FileSystem.exists(pool.pooled(entry.sha256)) || missing[entry.sha256] != nil {
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
            let destination = scratch.appending(entry.path)  // a path ManifestRules admitted: inside scratch
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
        try downloadVariants(of: manifest, into: scratch, pool: pool)
        // The publisher's choice of variants stands; what it did not list is made here.
        draft.variants = VariantSettings(encodings: manifest.variantEncodings ?? ContentEncoding.allCases, levels: .standard,
                                         onlyListed: manifest.variantEncodings != nil)
        // Now in the pool: linked (a file sharing content with a download links to it too).
        for entry in pooled {
            try draft.add(entry, from: pool.pooled(entry.sha256))
        }
        _ = try draft.seal(manifest)
        try cache.withWriteLock {
            if try !cache.backend.containsRelease(id) { try draft.publish() }
        }
        return downloaded.load(ordering: .relaxed)
    }

    /// Downloads the variants the manifest lists for files of `variantDownloadMinimum` bytes or more
    /// that the cache's pool lacks, into the release's
    /// variants folder, each checked: its bytes the manifest's, and decompressing to the file's
    /// content (which a signature covers; the variant lines do not). One that is missing or fails
    /// is left out, and the draft makes it.
    private func downloadVariants(of manifest: Manifest, into scratch: FilePath, pool: StoreLayout) throws {
        var seen = Set<String>()
        let large = manifest.files.filter { $0.size >= Self.variantDownloadMinimum }
        let wanted = large.filter { seen.insert($0.sha256).inserted }.flatMap { entry in
            entry.variantEncodings.filter { !FileSystem.exists(pool.pooledVariant(of: entry.sha256, $0)) }.map { (entry, $0) }
        }
        guard !wanted.isEmpty else { return }
        try FileSystem.makeDirectories(scratch.appending(ReleaseLayout.variantsFolder))
        try BlockingWorkers.forEach(wanted.count, width: Self.downloadWidth) { [remote] index in
            let (entry, encoding) = wanted[index]
            let destination = scratch.appending(ReleaseLayout.variant(of: entry.sha256, encoding))
            guard try remote.downloadVariant(of: entry, encoding, to: destination) else {
                try? FileSystem.removeFile(destination)
                return
            }
        }
    }
}

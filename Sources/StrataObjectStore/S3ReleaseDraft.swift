import Crypto
import Foundation
import StrataCore
import Synchronization
import SystemPackage

/// A release being published to an object store.
///
/// Files are only noted while the publisher adds them. `seal` then works out which content the
/// bucket lacks (from the manifests of the newest release and of the base release, then one HEAD
/// per remaining digest, or a listing when there are many) and uploads what is missing with bounded parallelism (multipart above `multipartThreshold`).
/// `publish` writes the manifest, the release's only visible object, last. A publish killed at any
/// moment leaves at most content objects no manifest names, which prune collects.
///
/// The draft holds a lease (`PublishLease`) from its creation to its end, so a concurrent prune
/// cannot delete content this release is about to name.
final class S3ReleaseDraft: ReleaseDraft, @unchecked Sendable {
    static let uploadWidth = 16
    static let multipartThreshold = 16 << 20
    static let partSize = 8 << 20
    /// Above this many digests to look up, one listing of `content/` is cheaper than a HEAD each.
    static let listingThreshold = 256

    let store: S3Store
    let scratch: FilePath
    private let lease: PublishLease
    private var sources: [String: FilePath] = [:]  // by path: where a new file's bytes are on this machine
    private var reused: Set<String> = []  // releases whose content this one names without uploading it
    private let written = Mutex<(files: Int, bytes: Int64)>((0, 0))
    var variants = VariantSettings.standard
    private var sealedManifest: [UInt8]?
    private var sealedID: String?

    init(store: S3Store) throws {
        self.store = store
        var template = TemporaryFile.template("strata-publish")
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw StrataError(.io, "cannot create a temporary folder for publishing")
        }
        scratch = FilePath(String(cString: made))
        do {
            lease = try PublishLease.take(in: store)
        } catch {
            try? FileSystem.removeTree(scratch)
            throw error
        }
    }

    var filesWritten: Int { written.withLock { $0.files } }
    var bytesWritten: Int64 { written.withLock { $0.bytes } }
    private(set) var contentsCompressed = 0

    func add(_ entry: Manifest.Entry, from source: FilePath) throws {
        // Re-hashed while uploading; an unchanged file already in the bucket is not read again.
        sources[entry.path] = source
    }

    func reuse(_ entry: Manifest.Entry, ofRelease id: String) throws {
        reused.insert(id)
    }

    func adopt(_ path: String, digest: FileDigest) throws {
        sources[path] = scratch.appending(path)
    }

    func seal(_ manifest: Manifest) throws -> Manifest {
        for id in reused where try !store.containsRelease(id) {
            throw StrataError(.notFound, "release \(id) was removed while this release was being published from it; nothing was published")
        }
        let (known, knownVariants) = try knownToTheBucket(alsoFrom: reused)
        var firstSource: [String: (entry: Manifest.Entry, source: FilePath)] = [:]
        for entry in manifest.files {
            guard let source = sources[entry.path], firstSource[entry.sha256] == nil else { continue }
            firstSource[entry.sha256] = (entry, source)
        }
        let unknown = firstSource.keys.filter { !known.contains($0) }.sorted()
        let present = try presentContent(among: unknown)
        let uploads = unknown.filter { !present.contains($0) }.map { firstSource[$0]! }
        try BlockingWorkers.forEach(uploads.count, width: Self.uploadWidth) { [self] index in
            try upload(uploads[index].entry, from: uploads[index].source)
            try lease.renewIfOld()
        }

        // Variants go up once, like content, so serve nodes download them instead of compressing.
        let (result, compressed) = try S3VariantUploader(store: store, settings: variants, lease: lease)
            .addVariants(to: manifest, sources: sources, known: knownVariants)
        contentsCompressed = compressed
        sealedManifest = try result.encoded()
        sealedID = result.id
        return result
    }

    func publish() throws {
        guard let sealedManifest, let sealedID else { preconditionFailure("publish() before seal()") }
        // 412: the same release (same content, same id) was published meanwhile; it is complete too.
        _ = try store.client.putObject(store.layout.manifest(sealedID), sealedManifest, condition: .absent,
                                       contentType: "application/json")
        lease.release()
    }

    func discard() {
        try? FileSystem.removeTree(scratch)
        lease.release()
    }

    // MARK: - What the bucket has

    /// What the newest release and `extra` releases name: content the bucket has (the lease keeps a
    /// prune from deleting it meanwhile) and, by content, entries whose variants it has. Variants
    /// only from releases that tried every encoding this publish makes (else their "none" may mean
    /// "not tried").
    private func knownToTheBucket(alsoFrom extra: Set<String>) throws -> (content: Set<String>, variants: [String: Manifest.Entry]) {
        var content = Set<String>()
        var variants: [String: Manifest.Entry] = [:]
        let newest = try store.releasesByAge().prefix(1)
        for id in Set(newest).union(extra) {
            guard let bytes = try store.manifestBytes(of: id) else { continue }
            let manifest = try Manifest.decode(bytes, path: store.layout.manifest(id))
            content.formUnion(manifest.files.map(\.sha256))
            guard Set(manifest.variantEncodings ?? []).isSuperset(of: self.variants.encodings) else { continue }
            for entry in manifest.files { variants[entry.sha256] = entry }
        }
        return (content, variants)
    }

    /// Which of `digests` the bucket holds: a HEAD each when few, else one listing of `content/`.
    private func presentContent(among digests: [String]) throws -> Set<String> {
        let client = store.client, layout = store.layout
        if digests.count > Self.listingThreshold {
            let listed = try client.listAll(prefix: layout.contentFolder).objects.map { String($0.key.dropFirst(layout.contentFolder.count)) }
            return Set(listed).intersection(digests)
        }
        let found = Mutex<Set<String>>([])
        try BlockingWorkers.forEach(digests.count, width: Self.uploadWidth) { index in
            if try client.headObject(layout.content(digests[index])) != nil { _ = found.withLock { $0.insert(digests[index]) } }
        }
        return found.withLock { $0 }
    }

    // MARK: - Uploads

    /// Uploads a file as content `entry.sha256`, checking on the way that it still hashes to that.
    private func upload(_ entry: Manifest.Entry, from source: FilePath) throws {
        let file = try FileSystem.open(source, .readOnly, purpose: "read")
        defer { try? file.close() }
        if entry.size >= Self.multipartThreshold {
            try MultipartUpload(client: store.client, key: store.layout.content(entry.sha256), partSize: Self.partSize)
                .upload(file, expecting: entry)
        } else {
            let bytes = try file.readToEnd()
            guard bytes.count == entry.size, S3Client.sha256Hex(bytes) == entry.sha256 else {
                throw changed(entry)
            }
            try putContent(bytes, sha256: entry.sha256)
        }
        written.withLock { $0.files += 1; $0.bytes += entry.size }
    }

    /// Writes content once: 412 means the bucket has it already (another publish got there first).
    func putContent(_ bytes: [UInt8], sha256: String) throws {
        _ = try store.client.putObject(store.layout.content(sha256), bytes, payloadHash: sha256, condition: .absent)
    }

    func changed(_ entry: Manifest.Entry) -> StrataError {
        StrataError(.conflict, "'\(Escaped.path(entry.path))' changed while it was being published; publish again")
    }
}

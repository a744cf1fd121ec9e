import StrataCore
import Synchronization
import SystemPackage

/// The variants of a release published to an object store: made on the publishing machine from
/// the files it has, uploaded once each as `variants/<sha256>.<gz|br|zst>`, and listed in the
/// manifest, so serve nodes download them instead of compressing. Content an earlier release
/// already has variants for (by its manifest) is neither read nor compressed again.
struct S3VariantUploader {
    let store: S3Store
    let settings: VariantSettings
    let lease: PublishLease

    /// `manifest` with its variants filled in, and the number of contents compressed. `sources`
    /// holds the files this machine has; `known` the entries of earlier releases by content.
    func addVariants(to manifest: Manifest, sources: [String: FilePath], known: [String: Manifest.Entry]) throws -> (Manifest, Int) {
        var decided: [String: Manifest.Entry] = [:]
        var toMake: [String: (entry: Manifest.Entry, source: FilePath)] = [:]
        var complete = true
        for entry in manifest.files where VariantRule.wants(entry) && decided[entry.sha256] == nil && toMake[entry.sha256] == nil {
            if let earlier = known[entry.sha256] {
                decided[entry.sha256] = earlier
            } else if let source = sources[entry.path] {
                toMake[entry.sha256] = (entry, source)
            } else {
                complete = false  // reused from a release that listed none: serve nodes make them
            }
        }
        let jobs = toMake.values.sorted { $0.entry.size > $1.entry.size }
        let made = Mutex<[String: Manifest.Entry]>([:])
        // As wide as content uploads: a worker waits on the service far longer than it compresses.
        try BlockingWorkers.forEach(jobs.count, width: S3ReleaseDraft.uploadWidth) { [self] index in
            let entry = try variants(of: jobs[index].entry, from: jobs[index].source)
            made.withLock { $0[entry.sha256] = entry }
            try lease.renewIfOld()
        }
        decided.merge(made.withLock { $0 }) { first, _ in first }

        var result = manifest
        result.files = manifest.files.map { entry in
            var entry = entry.withoutVariants
            guard let source = decided[entry.sha256] else { return entry }
            for encoding in settings.encodings { entry[variant: encoding] = source[variant: encoding] }
            return entry
        }
        result.variantEncodings = complete ? settings.encodings : nil
        return (result, jobs.count)
    }

    /// One content's variants, compressed here and uploaded.
    private func variants(of entry: Manifest.Entry, from source: FilePath) throws -> Manifest.Entry {
        guard let plain = try FileSystem.readFile(source) else {
            throw StrataError(.io, "'\(Escaped.path(entry.path))' vanished while it was being published")
        }
        guard plain.count == entry.size, S3Client.sha256Hex(plain) == entry.sha256 else {
            throw StrataError(.conflict, "'\(Escaped.path(entry.path))' changed while it was being published; publish again")
        }
        let kept = try plain.withUnsafeBytes {
            try VariantRule.compress($0, isText: ContentType.isText(entry.type), into: settings.encodings, levels: settings.levels)
        }
        var result = entry.withoutVariants
        for (encoding, bytes) in kept {
            result[variant: encoding] = try upload(bytes, as: store.layout.variant(of: entry.sha256, encoding))
        }
        return result
    }

    /// Writes a variant once. When the bucket has one already (another publish, perhaps at other
    /// levels), that one is kept and described instead.
    private func upload(_ bytes: [UInt8], as key: String) throws -> Manifest.Variant {
        let digest = S3Client.sha256Hex(bytes)
        switch try store.client.putObject(key, bytes, payloadHash: digest, condition: .absent) {
        case .written: return Manifest.Variant(size: Int64(bytes.count), sha256: digest)
        case .preconditionFailed, .conflict:
            guard let existing = try store.client.getObject(key) else {
                throw StrataError(.conflict, "variant \(store.client.describe(key)) vanished while it was being written; publish again")
            }
            let body = existing.body
            return Manifest.Variant(size: Int64(body.count), sha256: S3Client.sha256Hex(body))
        }
    }
}

import Crypto
import SystemPackage

/// Which variants a publish makes, and how hard each encoder works (`--variants`, `--*-level`).
public struct VariantSettings: Sendable, Equatable {
    public var encodings: [ContentEncoding]
    public var levels: VariantLevels
    /// The entries' variants were decided already, by the publisher of a release being copied in
    /// (a serve node's mirror): make only the variants they list, and only where none was supplied.
    public var onlyListed = false

    /// gzip and brotli: every browser that takes zstd takes brotli, and at brotli 8 a zstd variant
    /// worth its publish time needs level 19 (three times the rest of a full publish), so zstd is
    /// made when asked for (`--variants gzip,br,zstd`).
    public static let standard = VariantSettings(encodings: [.gzip, .br], levels: .standard)

    public init(encodings: [ContentEncoding], levels: VariantLevels, onlyListed: Bool = false) {
        self.encodings = encodings.sorted()
        self.levels = levels
        self.onlyListed = onlyListed
    }
}

/// Writes the precompressed variants of a release being assembled, on every core.
///
/// A file gets variants when `VariantRule` wants it. Variants live in the release's
/// `.strata/variants/<sha256>.<gz|br|zst>` and in the pool beside the content, so content the store
/// has compressed before is linked, never compressed again.
struct VariantBuilder {
    let layout: StoreLayout
    /// The release folder being assembled.
    let tree: FilePath
    let settings: VariantSettings
    /// False when the caller makes the whole file system durable afterwards.
    var syncEachFile = true

    /// The entries with their variants filled in, the pool folders touched, and how many contents
    /// were compressed (the rest had all their variants decided before).
    func addVariants(to entries: [Manifest.Entry], folders: inout FolderMaker) throws
        -> (entries: [Manifest.Entry], poolFolders: Set<FilePath>, contentsCompressed: Int) {
        // One job per distinct content, compressed from the first file holding it; largest first,
        // so no core is left with one big file at the end.
        var firstHolder: [String: Manifest.Entry] = [:]
        for entry in entries where VariantRule.wants(entry) && firstHolder[entry.sha256] == nil {
            firstHolder[entry.sha256] = entry
        }
        guard !firstHolder.isEmpty, !settings.encodings.isEmpty else { return (entries.map(\.withoutVariants), [], 0) }
        _ = try folders.prepare(for: ReleaseLayout.gzipVariant(of: "x"))

        let jobs = firstHolder.values.sorted { $0.size > $1.size }
        let recorded = RecordedVariants.ofNewestRelease(in: layout)
        // Listed once: looking each name up in the one variants folder contends with the links
        // being made in it (a new release's folder is empty unless a serve node supplied some).
        let supplied = Set(try FileSystem.entries(tree.appending(ReleaseLayout.variantsFolder)))
        let results = try Parallel.map(count: jobs.count) { index, buffer in
            try variants(of: jobs[index], recorded: recorded, supplied: supplied, buffer: buffer)
        }
        var made: [String: [ContentEncoding: Manifest.Variant]] = [:]
        var poolFolders = Set<FilePath>()
        var compressed = 0
        for (job, result) in zip(jobs, results) {
            made[job.sha256] = result.variants
            poolFolders.formUnion(result.poolFolders)
            if result.compressed { compressed += 1 }
        }
        let withVariants = entries.map { entry in
            var entry = entry.withoutVariants
            for (encoding, variant) in made[entry.sha256] ?? [:] { entry[variant: encoding] = variant }
            return entry
        }
        return (withVariants, poolFolders, compressed)
    }

    private struct Made: Sendable {
        var variants: [ContentEncoding: Manifest.Variant] = [:]
        /// The pool folders new variants were added to.
        var poolFolders: Set<FilePath> = []
        var compressed = false
    }

    /// The variants of one content: linked from the pool where it has them, the rest compressed now
    /// (the file read once for all of them) and kept when `VariantRule` says they are worth it.
    private func variants(of entry: Manifest.Entry, recorded: RecordedVariants, supplied: Set<String>,
                          buffer: UnsafeMutableRawBufferPointer) throws -> Made {
        var result = Made()
        var toCompress: [ContentEncoding] = []
        for encoding in settings.encodings {
            if settings.onlyListed && entry[variant: encoding] == nil { continue }
            let destination = tree.appending(ReleaseLayout.variant(of: entry.sha256, encoding))
            if supplied.contains(entry.sha256 + encoding.fileSuffix) {
                // Supplied with the release (a serve node downloaded it, checked): pool it as it is.
                if syncEachFile { try FileSystem.open(destination, .readOnly, purpose: "sync").sync() }
                let digest = try Hashing.digest(ofFile: destination, buffer: buffer)
                result.poolFolders.insert(try ContentPool(layout: layout).adopt(destination, as: layout.pooledVariant(of: entry.sha256, encoding)))
                result.variants[encoding] = Manifest.Variant(size: digest.size, sha256: digest.sha256)
            } else if try FileSystem.link(layout.pooledVariant(of: entry.sha256, encoding), as: destination, purpose: "link pooled variant to") {
                if let known = recorded.variant(of: entry.sha256, encoding), try FileSystem.status(destination)?.size == known.size {
                    result.variants[encoding] = known  // the same pooled file an earlier publish hashed
                } else {
                    let digest = try Hashing.digest(ofFile: destination, buffer: buffer)
                    result.variants[encoding] = Manifest.Variant(size: digest.size, sha256: digest.sha256)
                }
            } else if !recorded.triedWithoutKeeping(entry.sha256, encoding) {
                toCompress.append(encoding)
            }
        }
        guard !toCompress.isEmpty else { return result }
        result.compressed = true

        let source = tree.appending(entry.path)
        guard let plain = try FileSystem.readFile(source) else {
            throw StrataError(.io, "'\(Escaped.path(entry.path))' vanished while its variants were made")
        }
        let kept = try plain.withUnsafeBytes {
            try VariantRule.compress($0, isText: ContentType.isText(entry.type), into: toCompress, levels: settings.levels,
                                     gzipSize: result.variants[.gzip]?.size)
        }
        for (encoding, compressed) in kept {
            let destination = tree.appending(ReleaseLayout.variant(of: entry.sha256, encoding))
            try FileSystem.writeNewFile(destination, compressed, permissions: .readOnlyFile, sync: syncEachFile)
            result.poolFolders.insert(try ContentPool(layout: layout).adopt(destination, as: layout.pooledVariant(of: entry.sha256, encoding)))
            result.variants[encoding] = Manifest.Variant(size: Int64(compressed.count), sha256: Hashing.hex(SHA256.hash(data: compressed)))
        }
        return result
    }
}

/// The variants the newest release recorded (size and SHA-256), by the content they compress: a
/// publish that links a pooled variant takes its digest from here instead of reading the file
/// again. Pooled files are never rewritten (0444, replaced only by garbage collection), so an
/// earlier publish's digest of the same file stands; the size is checked, and anything not found
/// is hashed. On a site with 1% changed this spares reading every unchanged variant (three per
/// text file). Only the newest release is read: one manifest parse, where every release would
/// cost one each.
///
/// It also knows what that publish tried and did not keep: a content whose zstd variant was no
/// smaller than its brotli one has no pooled zstd file to link, and would otherwise be compressed
/// again by every publish (a fifth of the text files on the bench site).
struct RecordedVariants: Sendable {
    private let bySource: [String: [ContentEncoding: Manifest.Variant]]
    /// Contents the recorded release's publish made variants for, and in which encodings.
    private let tried: Set<String>
    private let triedEncodings: Set<ContentEncoding>

    static let none = RecordedVariants(bySource: [:], tried: [], triedEncodings: [])

    func variant(of sha256: String, _ encoding: ContentEncoding) -> Manifest.Variant? {
        bySource[sha256]?[encoding]
    }

    /// The recorded release's publish compressed this content in `encoding` and kept no variant:
    /// it was not worth keeping. Levels are not compared; pooled variants are linked whatever level
    /// made them, and this follows the same rule.
    func triedWithoutKeeping(_ sha256: String, _ encoding: ContentEncoding) -> Bool {
        triedEncodings.contains(encoding) && tried.contains(sha256) && bySource[sha256]?[encoding] == nil
    }

    /// The release assembled last (the folder modified last: its entries are written while it is
    /// assembled, and a rename does not change that time); none when the store has no release or
    /// its manifest cannot be read (then every variant is hashed).
    static func ofNewestRelease(in layout: StoreLayout) -> RecordedVariants {
        guard let ids = try? FileSystem.entries(layout.releases).filter(Fingerprint.isReleaseID), !ids.isEmpty else { return .none }
        let newest = ids.compactMap { id -> (id: String, modified: Int64)? in
            guard let status = try? FileSystem.status(layout.release(id)) else { return nil }
            #if canImport(Darwin)
            let modified = status.rawValue.st_mtimespec
            #else
            let modified = status.rawValue.st_mtim
            #endif
            return (id, Int64(modified.tv_sec) * 1_000_000_000 + Int64(modified.tv_nsec))
        }.max { $0.modified < $1.modified }
        guard let newest, let bytes = try? FileSystem.readFile(layout.manifest(newest.id)),
              let manifest = try? Manifest.decode(bytes, path: layout.manifest(newest.id).string) else { return .none }
        var bySource: [String: [ContentEncoding: Manifest.Variant]] = [:]
        var tried = Set<String>()
        for entry in manifest.files {
            if VariantRule.wants(entry) { tried.insert(entry.sha256) }
            for encoding in ContentEncoding.allCases {
                if let variant = entry[variant: encoding] { bySource[entry.sha256, default: [:]][encoding] = variant }
            }
        }
        // Releases from before brotli and zstd record no list: they tried gzip alone.
        return RecordedVariants(bySource: bySource, tried: tried, triedEncodings: Set(manifest.variantEncodings ?? [.gzip]))
    }
}

/// When a file gets precompressed copies, the same for every kind of store: a type that
/// compresses, at least `minimumSize` bytes; gzip kept when it saves 10%, brotli and zstd when they
/// save 10% and are smaller than the gzip variant too (else a client that takes both gains nothing).
public enum VariantRule {
    public static let minimumSize: Int64 = 256

    public static func wants(_ entry: Manifest.Entry) -> Bool {
        entry.size >= minimumSize && ContentType.isCompressible(entry.type)
    }

    static func isWorthKeeping(_ compressedSize: Int64, of originalSize: Int64, gzipSize: Int64? = nil) -> Bool {
        compressedSize * 10 <= originalSize * 9 && compressedSize < (gzipSize ?? .max)
    }

    /// The variants of `plain` worth keeping, among `encodings`: gzip first, since the others must
    /// beat it (`gzipSize`: a gzip variant made before, when gzip is not among `encodings`).
    public static func compress(_ plain: UnsafeRawBufferPointer, isText: Bool, into encodings: [ContentEncoding], levels: VariantLevels,
                                gzipSize: Int64? = nil) throws -> [(encoding: ContentEncoding, bytes: [UInt8])] {
        var kept: [(encoding: ContentEncoding, bytes: [UInt8])] = []
        var gzipSize = gzipSize
        for encoding in encodings.sorted() {
            let compressed = try VariantCompressor.compress(plain, as: encoding, level: levels[encoding], isText: isText)
            guard isWorthKeeping(Int64(compressed.count), of: Int64(plain.count), gzipSize: encoding == .gzip ? nil : gzipSize) else { continue }
            if encoding == .gzip { gzipSize = Int64(compressed.count) }
            kept.append((encoding, compressed))
        }
        return kept
    }
}

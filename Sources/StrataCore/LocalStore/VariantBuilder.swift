import Crypto
import SystemPackage

/// Writes the precompressed gzip variants of a release being assembled, on every core.
///
/// A file gets a variant when its type compresses (`ContentType.isCompressible`), it is at least
/// `minimumSize` bytes, and level-9 gzip saves at least 10%. Variants live in the release's
/// `.strata/variants/<sha256>.gz` and in the pool beside the content, so content the store has
/// compressed before is linked, never compressed again.
struct VariantBuilder {
    static let minimumSize = GzipVariantRule.minimumSize
    static let level = GzipVariantRule.level

    let layout: StoreLayout
    /// The release folder being assembled.
    let tree: FilePath

    /// The entries with `gzip` filled in where a variant was kept, and the pool folders touched.
    func addVariants(to entries: [Manifest.Entry], folders: inout FolderMaker) throws -> (entries: [Manifest.Entry], poolFolders: Set<FilePath>) {
        // One variant per distinct content, compressed from the first file holding it.
        var candidates: [String: String] = [:]
        for entry in entries where GzipVariantRule.wants(entry) {
            if candidates[entry.sha256] == nil { candidates[entry.sha256] = entry.path }
        }
        guard !candidates.isEmpty else { return (entries, []) }
        _ = try folders.prepare(for: ReleaseLayout.gzipVariant(of: "x"))

        let jobs = Array(candidates)
        let results = try Parallel.map(count: jobs.count) { index, buffer in
            try variant(of: jobs[index].key, from: tree.appending(jobs[index].value), buffer: buffer)
        }
        var variants: [String: Manifest.Variant] = [:]
        var poolFolders = Set<FilePath>()
        for (job, result) in zip(jobs, results) {
            guard let result else { continue }
            variants[job.key] = result.variant
            if let folder = result.poolFolder { poolFolders.insert(folder) }
        }
        let withVariants = entries.map { entry in
            var entry = entry
            entry.gzip = variants[entry.sha256]
            return entry
        }
        return (withVariants, poolFolders)
    }

    private struct Made: Sendable {
        let variant: Manifest.Variant
        /// The pool folder a new variant was added to; nil when it was linked from the pool.
        let poolFolder: FilePath?
    }

    /// The variant for one content: linked from the pool, or compressed now and kept if it is worth it.
    private func variant(of sha256: String, from source: FilePath, buffer: UnsafeMutableRawBufferPointer) throws -> Made? {
        let destination = tree.appending(ReleaseLayout.gzipVariant(of: sha256))
        let pooled = layout.pooledGzipVariant(of: sha256)
        if try FileSystem.link(pooled, as: destination, purpose: "link pooled variant to") {
            let digest = try Hashing.digest(ofFile: destination, buffer: buffer)
            return Made(variant: Manifest.Variant(size: digest.size, sha256: digest.sha256), poolFolder: nil)
        }

        let input = try FileSystem.open(source, .readOnly, purpose: "read")
        let output = try FileSystem.open(destination, .writeOnly, options: [.create, .exclusiveCreate], permissions: .readOnlyFile,
                                         purpose: "create")
        var hasher = SHA256()
        var compressedSize: Int64 = 0
        let originalSize = try GzipVariantRule.compress(input, buffer: buffer) { chunk in
            hasher.update(bufferPointer: chunk)
            compressedSize += Int64(chunk.count)
            try output.writeAll(chunk)
        }

        guard GzipVariantRule.isWorthKeeping(compressedSize, of: originalSize) else {
            try output.close()
            try FileSystem.removeFile(destination)
            return nil
        }
        try output.sync()
        try output.close()
        let folder = try ContentPool(layout: layout).adopt(destination, as: pooled)
        return Made(variant: Manifest.Variant(size: compressedSize, sha256: Hashing.hex(hasher.finalize())), poolFolder: folder)
    }
}

/// When a file gets a precompressed gzip copy, the same for every kind of store: a type that
/// compresses, at least `minimumSize` bytes, and level-9 gzip saving at least 10%.
public enum GzipVariantRule {
    public static let minimumSize: Int64 = 256
    static let level: Int32 = 9

    public static func wants(_ entry: Manifest.Entry) -> Bool {
        entry.size >= minimumSize && ContentType.isCompressible(entry.type)
    }

    static func isWorthKeeping(_ compressedSize: Int64, of originalSize: Int64) -> Bool {
        compressedSize * 10 <= originalSize * 9
    }

    /// The file compressed, in memory, when that is worth keeping; nil when it is not.
    public static func compress(file path: FilePath) throws -> [UInt8]? {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Parallel.bufferSize, alignment: 64)
        defer { buffer.deallocate() }
        var output: [UInt8] = []
        let originalSize = try compress(try FileSystem.open(path, .readOnly, purpose: "read"), buffer: buffer) { output.append(contentsOf: $0) }
        return isWorthKeeping(Int64(output.count), of: originalSize) ? output : nil
    }

    /// Streams `input` through level-9 gzip into `sink`; returns how many bytes were read.
    static func compress(_ input: OpenFile, buffer: UnsafeMutableRawBufferPointer,
                         sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Int64 {
        let compressor = try GzipCompressor(level: level)
        var originalSize: Int64 = 0
        while true {
            let count = try input.read(into: buffer)
            if count == 0 { break }
            originalSize += Int64(count)
            try compressor.compress(UnsafeRawBufferPointer(rebasing: buffer.prefix(count)), sink: sink)
        }
        try compressor.finish(sink: sink)
        return originalSize
    }
}

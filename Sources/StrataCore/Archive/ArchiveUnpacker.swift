import Crypto
import Foundation
import SystemPackage

/// How far an archive may expand before it is taken for a decompression bomb.
public struct ArchiveLimits: Sendable, Equatable {
    /// Total bytes of file content, counted as they are decompressed (headers can lie).
    public var maxBytes: Int64
    /// Entries of any kind, plus files that symlinks to folders add.
    public var maxEntries: Int

    public static let standard = ArchiveLimits(maxBytes: 4 << 30, maxEntries: 100_000)

    public init(maxBytes: Int64, maxEntries: Int) {
        self.maxBytes = maxBytes
        self.maxEntries = maxEntries
    }
}

/// What to take from an archive.
struct UnpackOptions {
    var stripComponents = 0
    var includeEverything = false
    var limits = ArchiveLimits.standard
}

/// A release's file written into a staging tree, with its digest.
struct StagedFile {
    let path: String
    let digest: FileDigest
}

/// An archive written out as a staging tree.
struct UnpackedArchive {
    /// Sorted by path bytewise (the fingerprint's order).
    let files: [StagedFile]
    /// The fingerprint a Strata export (or a copied release folder) says the content has.
    let recordedFingerprint: String?
    /// The signature it carries, if any (checked by `import --trust`).
    let recordedSignature: String?
}

/// Writes an archive's files into a staging tree itself, entry by entry, hashing as it writes, so
/// the archive is read once and memory stays flat whatever its size. libarchive only decodes; it
/// never extracts to disk. Every name is checked before anything is written for it, and files are
/// created with O_EXCL under folders this type made, so nothing can land outside the tree.
struct ArchiveUnpacker {
    let options: UnpackOptions
    var progress: ProgressCounter? = nil

    /// Names the archive may carry that are never content.
    static let excludedTopLevel: Set<String> = ["__MACOSX"]  // resource forks from macOS Finder zips
    static let recordNames: Set<String> = ["release.json", "manifest.json"]

    func unpack(_ reader: ArchiveReader, into tree: FilePath) throws -> UnpackedArchive {
        var folders = FolderMaker(root: tree)
        try FileSystem.makeDirectory(tree)
        var shape = ArchiveTree()
        var digests: [String: FileDigest] = [:]
        var recordedFingerprint: String?
        var recordedSignature: String?
        var entries = 0
        var budget = options.limits.maxBytes
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Parallel.bufferSize, alignment: 64)
        defer { buffer.deallocate() }

        while let header = try reader.nextEntry() {
            entries += 1
            guard entries <= options.limits.maxEntries else {
                throw StrataError(.invalidInput, "archive has more than \(options.limits.maxEntries) entries (the entry limit, --max-entries)")
            }
            let shown = Escaped.bytes(header.rawPath)
            let full = try ArchivePath.components(of: header.rawPath)
            if !options.includeEverything, let first = full.first, Self.excludedTopLevel.contains(first) { continue }
            guard let components = try stripped(full, shown: shown, isFolder: header.kind == .folder) else { continue }
            if components.first == ReleaseLayout.metadataFolder {
                // Strata's own metadata from an export or a copied release folder: never content.
                if components.count == 2, Self.recordNames.contains(components[1]), header.kind == .file {
                    let record = try Self.record(readWhole(reader, budget: &budget, buffer: buffer), shown: shown)
                    recordedFingerprint = record.fingerprint
                    recordedSignature = record.signature
                }
                continue
            }
            if !options.includeEverything && components.contains(where: SourceScanner.excludedByDefault.contains) { continue }
            let path = components.joined(separator: "/")

            switch header.kind {
            case .folder:
                try shape.insert(components, as: .folder)
                _ = try folders.prepare(for: path + "/.")
            case .file:
                try shape.insert(components, as: .file)
                if let declared = header.declaredSize, declared > budget { throw overBudget() }
                let destination = try folders.prepare(for: path)
                digests[path] = try write(reader, to: destination, budget: &budget, buffer: buffer)
                progress?.add(bytes: digests[path]!.size)
            case .hardlink(let rawTarget):
                let target = try stripped(ArchivePath.components(of: rawTarget, entry: "target of hardlink '\(shown)':"), shown: shown, isFolder: false)?
                    .joined(separator: "/")
                guard let target, shape.isFile(target), let digest = digests[target] else {
                    throw StrataError(.invalidInput, "hardlink '\(shown)' leads to '\(Escaped.bytes(rawTarget))', which is not a file earlier in the archive")
                }
                try shape.insert(components, as: .file)
                try Self.place(tree.appending(target), at: try folders.prepare(for: path))
                digests[path] = digest
            case .symlink(let rawTarget):
                try shape.insert(components, as: .symlink(target: try ArchivePath.linkTarget(rawTarget, link: shown), shown: Escaped.bytes(rawTarget)))
            case .special(let kind):
                throw StrataError(.invalidInput, "archive entry '\(shown)' is a \(kind); only files, folders and links can be published")
            }
        }

        for placement in try shape.resolveSymlinks(limit: options.limits.maxEntries - digests.count) {
            try Self.place(tree.appending(placement.contentPath), at: try folders.prepare(for: placement.path))
            digests[placement.path] = digests[placement.contentPath]
        }
        guard !digests.isEmpty else {
            throw StrataError(.invalidInput, "archive has no files to publish")
        }
        let files = digests.map { StagedFile(path: $0.key, digest: $0.value) }
            .sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        return UnpackedArchive(files: files, recordedFingerprint: recordedFingerprint, recordedSignature: recordedSignature)
    }

    /// The components left after `--strip-components`; nil for a folder that disappears entirely.
    private func stripped(_ components: [String], shown: String, isFolder: Bool) throws -> [String]? {
        guard options.stripComponents > 0 else { return components }
        if components.count > options.stripComponents { return Array(components.dropFirst(options.stripComponents)) }
        if isFolder { return nil }
        throw StrataError(.invalidInput, "archive entry '\(shown)' has no name left after --strip-components \(options.stripComponents)")
    }

    /// Streams the current entry into a new file, hashing the bytes as they pass.
    private func write(_ reader: ArchiveReader, to destination: FilePath, budget: inout Int64,
                       buffer: UnsafeMutableRawBufferPointer) throws -> FileDigest {
        let output = try FileSystem.open(destination, .writeOnly, options: [.create, .exclusiveCreate, .noFollow],
                                         permissions: .readOnlyFile, purpose: "create")
        var hasher = SHA256()
        var size: Int64 = 0
        while true {
            let count = try reader.read(into: buffer)
            if count == 0 { break }
            budget -= Int64(count)
            guard budget >= 0 else { throw overBudget() }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer.prefix(count))
            hasher.update(bufferPointer: chunk)
            try output.writeAll(chunk)
            size += Int64(count)
        }
        try output.close()  // made durable later, only if the release turns out to be new
        return FileDigest(size: size, sha256: Hashing.hex(hasher.finalize()))
    }

    private func readWhole(_ reader: ArchiveReader, budget: inout Int64, buffer: UnsafeMutableRawBufferPointer) throws -> [UInt8] {
        var bytes: [UInt8] = []
        while true {
            let count = try reader.read(into: buffer)
            if count == 0 { return bytes }
            budget -= Int64(count)
            guard budget >= 0 else { throw overBudget() }
            guard bytes.count + count <= 64 << 20 else {
                throw StrataError(.invalidInput, "archive's Strata metadata is larger than 64 MiB")
            }
            bytes.append(contentsOf: buffer.prefix(count))
        }
    }

    private func overBudget() -> StrataError {
        StrataError(.invalidInput, "archive expands past \(ByteCount.describe(options.limits.maxBytes)) (the size limit, --max-bytes)")
    }

    /// The fingerprint a `.strata/release.json` or `.strata/manifest.json` records.
    /// What `.strata/release.json` or `.strata/manifest.json` records: the fingerprint, and the signature.
    static func record(_ bytes: [UInt8], shown: String) throws -> (fingerprint: String, signature: String?) {
        struct Record: Decodable {
            let fingerprint: String
            let signature: String?
        }
        guard let record = try? JSONDecoder().decode(Record.self, from: Data(bytes)),
              Fingerprint.isFingerprint(record.fingerprint) else {
            throw StrataError(.invalidInput, "archive's '\(shown)' does not record a fingerprint Strata can read")
        }
        return (record.fingerprint, record.signature)
    }

    /// Gives `destination` the content of the staged file `source`: a hard link, or a copy when the
    /// file already has as many links as the file system allows.
    static func place(_ source: FilePath, at destination: FilePath) throws {
        if try FileSystem.link(source, as: destination, purpose: "link") { return }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Parallel.bufferSize, alignment: 64)
        defer { buffer.deallocate() }
        _ = try Hashing.copy(from: source, to: destination, buffer: buffer)
    }
}

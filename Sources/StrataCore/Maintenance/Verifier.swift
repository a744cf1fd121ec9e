import Crypto
import SystemPackage

/// One way a release differs from its manifest.
public struct VerificationProblem: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable {
        case modified
        case missing
        case unexpected
        case manifest
        /// A precompressed variant is missing, damaged, or does not decompress to the file.
        case variant
        /// `verify --trust`: not signed, or not by a trusted key.
        case signature
    }

    public let kind: Kind
    public let path: String
    public let detail: String

    public init(kind: Kind, path: String, detail: String) {
        self.kind = kind
        self.path = path
        self.detail = detail
    }
}

public struct VerificationReport: Sendable {
    public let id: String
    public let fileCount: Int
    public let problems: [VerificationProblem]
    public var isIntact: Bool { problems.isEmpty }
}

/// Re-hashes a release against its manifest, and the manifest against its fingerprint and id.
///
/// Works on any release folder, inside a store or copied elsewhere: a release is self-contained.
public struct Verifier: Sendable {
    public init() {}

    public func verify(releaseFolder: String) throws -> VerificationReport {
        try verify(releaseFolder: FilePath(releaseFolder))
    }

    public func verify(releaseFolder folder: FilePath) throws -> VerificationReport {
        let manifest = try Manifest.load(folder.appending(ReleaseLayout.manifestPath))
        let folderName = folder.lastComponent?.string ?? ""
        var problems = manifestProblems(manifest, folderName: folderName)

        let present = try filesOnDisk(folder)
        let listed = Set(manifest.files.map(\.path))
        for path in present.sorted() where !listed.contains(path) {
            problems.append(.init(kind: .unexpected, path: path, detail: "not in the manifest"))
        }
        let toHash = manifest.files.filter { present.contains($0.path) }
        for entry in manifest.files where !present.contains(entry.path) {
            problems.append(.init(kind: .missing, path: entry.path, detail: "listed in the manifest but not on disk"))
        }
        let digests = try Hashing.digests(ofFiles: toHash.map { folder.appending($0.path) })
        for (entry, digest) in zip(toHash, digests) {
            if digest.size != entry.size {
                problems.append(.init(kind: .modified, path: entry.path, detail: "size \(digest.size), manifest says \(entry.size)"))
            } else if digest.sha256 != entry.sha256 {
                problems.append(.init(kind: .modified, path: entry.path, detail: "content differs from the manifest's sha256"))
            }
        }
        problems += try checkVariants(of: manifest, in: folder)
        return VerificationReport(id: manifest.id, fileCount: manifest.fileCount, problems: problems)
    }

    /// Re-hashes release `id` of any store through the store itself (an object store's content is
    /// downloaded): the manifest against its fingerprint, every file and variant against the manifest.
    public func verify(release id: String, in store: Store) throws -> VerificationReport {
        if let folders = store.folders { return try verify(releaseFolder: folders.layout.release(id)) }
        let manifest = try ReleaseCatalog(store).manifest(id)
        var problems = manifestProblems(manifest, folderName: id)
        var seen = Set<String>()
        let distinct = manifest.files.filter { seen.insert($0.sha256).inserted }
        let findings = try Parallel.map(count: distinct.count) { index, buffer -> [VerificationProblem] in
            let entry = distinct[index]
            var found: [VerificationProblem] = []
            do {
                let digest = try Hashing.digest(of: try store.backend.openContent(entry, ofRelease: id), buffer: buffer)
                if digest != FileDigest(size: entry.size, sha256: entry.sha256) {
                    found.append(.init(kind: .modified, path: entry.path, detail: "content differs from the manifest's sha256"))
                }
            } catch let error as StrataError where error.kind == .corrupt || error.kind == .notFound {
                found.append(.init(kind: .modified, path: entry.path, detail: error.message))
            }
            for encoding in entry.variantEncodings {
                let name = ReleaseLayout.variant(of: entry.sha256, encoding)
                let problem = try store.backend.openVariant(of: entry, encoding, ofRelease: id)
                    .map { try Self.variantProblem(entry, encoding, reading: $0, buffer: buffer) } ?? "missing"
                if let problem {
                    found.append(.init(kind: .variant, path: name, detail: "\(encoding.token) variant of '\(entry.path)': \(problem)"))
                }
            }
            return found
        }
        problems += findings.flatMap { $0 }
        return VerificationReport(id: manifest.id, fileCount: manifest.fileCount, problems: problems)
    }

    /// The manifest against its own fingerprint, id and (when it is an id) the folder's name.
    private func manifestProblems(_ manifest: Manifest, folderName: String) -> [VerificationProblem] {
        var problems: [VerificationProblem] = []
        for entry in manifest.files {
            if let why = ManifestRules.pathProblem(entry.path) {
                problems.append(.init(kind: .manifest, path: ReleaseLayout.manifestPath, detail: "entry '\(Escaped.path(entry.path))' \(why)"))
            }
        }
        let recomputed = Fingerprint.compute(manifest.files.map { (path: $0.path, sha256: $0.sha256) })
        if recomputed != manifest.fingerprint {
            problems.append(.init(kind: .manifest, path: ReleaseLayout.manifestPath, detail: "file list does not match the recorded fingerprint"))
        }
        if Fingerprint.releaseID(of: manifest.fingerprint) != manifest.id {
            problems.append(.init(kind: .manifest, path: ReleaseLayout.manifestPath, detail: "id \(manifest.id) is not the fingerprint's first 16 digits"))
        }
        if Fingerprint.isReleaseID(folderName) && folderName != manifest.id {
            problems.append(.init(kind: .manifest, path: ReleaseLayout.manifestPath, detail: "folder \(folderName) holds release \(manifest.id)"))
        }
        return problems
    }

    /// Each variant must be the bytes the manifest records and decompress to the file's content.
    private func checkVariants(of manifest: Manifest, in folder: FilePath) throws -> [VerificationProblem] {
        var seen = Set<String>()
        let checks = manifest.files.filter { !$0.variantEncodings.isEmpty && seen.insert($0.sha256).inserted }
            .flatMap { entry in entry.variantEncodings.map { (entry: entry, encoding: $0) } }
        let findings = try Parallel.map(count: checks.count) { index, buffer -> String? in
            let (entry, encoding) = checks[index]
            return try Self.variantProblem(entry, encoding, at: folder.appending(ReleaseLayout.variant(of: entry.sha256, encoding)), buffer: buffer)
        }
        return zip(checks, findings).compactMap { check, finding in
            finding.map {
                VerificationProblem(kind: .variant, path: ReleaseLayout.variant(of: check.entry.sha256, check.encoding),
                                    detail: "\(check.encoding.token) variant of '\(check.entry.path)': \($0)")
            }
        }
    }

    /// Nil when the variant is sound, else what is wrong with it.
    private static func variantProblem(_ entry: Manifest.Entry, _ encoding: ContentEncoding, at path: FilePath,
                                       buffer: UnsafeMutableRawBufferPointer) throws -> String? {
        guard entry[variant: encoding] != nil else { return nil }
        guard FileSystem.exists(path) else { return "missing" }
        return try variantProblem(entry, encoding, reading: try FileSystem.open(path, .readOnly, purpose: "read"), buffer: buffer)
    }

    /// Nil when the bytes `input` gives are the entry's variant in `encoding`, else what is wrong.
    public static func variantProblem(_ entry: Manifest.Entry, _ encoding: ContentEncoding, reading input: any ByteSource,
                               buffer: UnsafeMutableRawBufferPointer) throws -> String? {
        guard let variant = entry[variant: encoding] else { return nil }
        let decompressor = try encoding.makeDecompressor()
        var compressedHasher = SHA256()
        var plainHasher = SHA256()
        var compressedSize: Int64 = 0
        var plainSize: Int64 = 0
        do {
            while true {
                let count = try input.read(into: buffer)
                if count == 0 { break }
                let chunk = UnsafeRawBufferPointer(rebasing: buffer.prefix(count))
                compressedHasher.update(bufferPointer: chunk)
                compressedSize += Int64(count)
                try decompressor.decompress(chunk) { plain in
                    plainHasher.update(bufferPointer: plain)
                    plainSize += Int64(plain.count)
                }
            }
        } catch let error as StrataError where error.kind == .corrupt {
            return error.message
        }
        if compressedSize != variant.size || Hashing.hex(compressedHasher.finalize()) != variant.sha256 {
            return "differs from the manifest's size and sha256"
        }
        if !decompressor.isFinished { return "\(encoding.token) stream is truncated" }
        if plainSize != entry.size || Hashing.hex(plainHasher.finalize()) != entry.sha256 {
            return "does not decompress to the file's content"
        }
        return nil
    }

    /// Regular files under `folder` (without `.strata/`), relative paths. Anything else is a problem
    /// the caller sees as "unexpected" because the manifest only lists regular files.
    private func filesOnDisk(_ folder: FilePath) throws -> Set<String> {
        var found = Set<String>()
        func walk(_ path: FilePath, _ relative: String) throws {
            for name in try FileSystem.entryNames(path) {
                let text = String(decoding: name, as: UTF8.self)
                let child = relative.isEmpty ? text : relative + "/" + text
                if relative.isEmpty && text == ReleaseLayout.metadataFolder { continue }
                guard let status = try FileSystem.linkStatus(path.appending(text)) else { continue }
                if status.isDirectory {
                    try walk(path.appending(text), child)
                } else {
                    found.insert(status.isRegularFile ? child : child + " (\(status.kindDescription))")
                }
            }
        }
        try walk(folder, "")
        return found
    }
}

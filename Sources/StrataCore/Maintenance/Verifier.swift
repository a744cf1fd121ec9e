/// One way a release differs from its manifest.
public struct VerificationProblem: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable {
        case modified
        case missing
        case unexpected
        case manifest
    }

    public let kind: Kind
    public let path: String
    public let detail: String
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

    public func verify(releaseFolder folder: String) throws -> VerificationReport {
        let manifestPath = folder + "/" + ReleaseLayout.manifestPath
        let manifest = try Manifest.load(manifestPath)
        var problems: [VerificationProblem] = []

        let recomputed = Fingerprint.compute(manifest.files.map { (path: $0.path, sha256: $0.sha256) })
        let folderName = FileSystem.baseName(of: folder)
        if recomputed != manifest.fingerprint {
            problems.append(.init(kind: .manifest, path: ReleaseLayout.manifestPath, detail: "file list does not match the recorded fingerprint"))
        }
        if Fingerprint.releaseID(of: manifest.fingerprint) != manifest.id {
            problems.append(.init(kind: .manifest, path: ReleaseLayout.manifestPath, detail: "id \(manifest.id) is not the fingerprint's first 16 digits"))
        }
        if Fingerprint.isReleaseID(folderName) && folderName != manifest.id {
            problems.append(.init(kind: .manifest, path: ReleaseLayout.manifestPath, detail: "folder \(folderName) holds release \(manifest.id)"))
        }

        let present = try filesOnDisk(folder)
        let listed = Set(manifest.files.map(\.path))
        for path in present.sorted() where !listed.contains(path) {
            problems.append(.init(kind: .unexpected, path: path, detail: "not in the manifest"))
        }
        let toHash = manifest.files.filter { present.contains($0.path) }
        for entry in manifest.files where !present.contains(entry.path) {
            problems.append(.init(kind: .missing, path: entry.path, detail: "listed in the manifest but not on disk"))
        }
        let digests = try Hashing.digests(ofFiles: toHash.map { folder + "/" + $0.path })
        for (entry, digest) in zip(toHash, digests) {
            if digest.size != entry.size {
                problems.append(.init(kind: .modified, path: entry.path, detail: "size \(digest.size), manifest says \(entry.size)"))
            } else if digest.sha256 != entry.sha256 {
                problems.append(.init(kind: .modified, path: entry.path, detail: "content differs from the manifest's sha256"))
            }
        }
        return VerificationReport(id: manifest.id, fileCount: manifest.fileCount, problems: problems)
    }

    /// Regular files under `folder` (without `.strata/`), relative paths. Anything else is a problem
    /// the caller sees as "unexpected" because the manifest only lists regular files.
    private func filesOnDisk(_ folder: String) throws -> Set<String> {
        var found = Set<String>()
        func walk(_ path: String, _ relative: String) throws {
            for name in try FileSystem.entryNames(path) {
                let text = String(decoding: name, as: UTF8.self)
                let child = relative.isEmpty ? text : relative + "/" + text
                if relative.isEmpty && text == ReleaseLayout.metadataFolder { continue }
                guard let status = try FileSystem.linkStatus(path + "/" + text) else { continue }
                if status.isDirectory {
                    try walk(path + "/" + text, child)
                } else {
                    found.insert(status.isRegularFile ? child : child + " (\(status.kindDescription))")
                }
            }
        }
        try walk(folder, "")
        return found
    }
}

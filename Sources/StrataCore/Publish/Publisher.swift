#if canImport(Glibc)
import Glibc
#endif

/// What `publish` was asked to do.
public struct PublishRequest: Sendable {
    public var source: String
    public var label: String?
    /// Publish `.git/` and `.DS_Store` too.
    public var includeEverything: Bool

    public init(source: String, label: String? = nil, includeEverything: Bool = false) {
        self.source = source
        self.label = label
        self.includeEverything = includeEverything
    }
}

/// What `publish` did.
public struct PublishReport: Sendable {
    public let manifest: Manifest
    /// False when the store already had a release with this content.
    public let isNew: Bool
    /// Files whose content was new to the store, and their bytes: all that was written.
    public let filesCopied: Int
    public let bytesCopied: Int64
    /// Files hard-linked from content the store already had.
    public let filesLinked: Int
}

/// Turns a source folder into an immutable release.
///
/// 1. Scan and hash the source (both cores). The id is known before anything is written, so
///    publishing the same tree again writes nothing at all.
/// 2. Assemble the release in a private staging folder: link content the store has, copy the rest
///    (re-hashing, to catch a file that changed since step 1), write the manifest, fsync it all.
/// 3. Under the store lock, rename the folder into `releases/<id>` and fsync `releases/`.
/// A crash at any point leaves at most a staging folder, which the next writer removes.
public struct Publisher: Sendable {
    public let store: Store
    public var lockTimeout: Double

    public init(store: Store, lockTimeout: Double = StoreLock.defaultTimeout) {
        self.store = store
        self.lockTimeout = lockTimeout
    }

    public func publish(_ request: PublishRequest) throws -> PublishReport {
        if let label = request.label { try Names.validateLabel(label) }
        try refuseSourceContainingTheStore(request.source)
        let files = try SourceScanner(includeEverything: request.includeEverything).scan(request.source)
        let digests = try Hashing.digests(ofFiles: files.map(\.location))
        let fingerprint = Fingerprint.compute(zip(files, digests).lazy.map { (path: $0.path, sha256: $1.sha256) })
        let id = Fingerprint.releaseID(of: fingerprint)

        let catalog = ReleaseCatalog(store)
        if catalog.contains(id) {
            return PublishReport(manifest: try catalog.manifest(id), isNew: false, filesCopied: 0, bytesCopied: 0, filesLinked: 0)
        }
        try checkLabelIsFree(request.label, for: id, in: catalog)

        let entries = zip(files, digests).map { file, digest in
            Manifest.Entry(path: file.path, size: digest.size, sha256: digest.sha256, type: ContentType.forPath(file.path))
        }
        let manifest = Manifest(
            id: id, fingerprint: fingerprint, created: Timestamp.now(), label: request.label,
            source: FileSystem.realPath(request.source) ?? request.source, files: entries)

        let staging = try store.withWriteLock(timeoutSeconds: lockTimeout) { lock in
            try StagingArea.create(in: store.layout, purpose: "publish", holding: lock)
        }
        defer { staging.discard() }
        let tree = staging.path + "/release"
        let written = try assemble(manifest, from: files, into: tree)

        return try store.withWriteLock(timeoutSeconds: lockTimeout) { _ in
            if catalog.contains(id) {  // another publisher finished the same tree first
                return PublishReport(manifest: try catalog.manifest(id), isNew: false, filesCopied: 0, bytesCopied: 0, filesLinked: 0)
            }
            try checkLabelIsFree(request.label, for: id, in: catalog)
            try commit(tree, as: id)
            return PublishReport(manifest: manifest, isNew: true, filesCopied: written.files, bytesCopied: written.bytes,
                                 filesLinked: files.count - written.files)
        }
    }

    /// `strata publish . --root ./store` would publish the store into itself.
    private func refuseSourceContainingTheStore(_ source: String) throws {
        guard let sourcePath = FileSystem.realPath(source) else { return }  // the scanner reports it
        var storePath = store.layout.root
        while FileSystem.realPath(storePath) == nil && storePath != "/" && storePath != "." {
            storePath = FileSystem.parent(of: storePath)  // the store may not exist yet
        }
        guard let existing = FileSystem.realPath(storePath) else { return }
        if existing == sourcePath || existing.hasPrefix(sourcePath == "/" ? "/" : sourcePath + "/") {
            throw StrataError(.invalidInput, "the store '\(store.layout.root)' is inside the source '\(source)'; keep the store outside what you publish")
        }
    }

    private func checkLabelIsFree(_ label: String?, for id: String, in catalog: ReleaseCatalog) throws {
        guard let label, let holder = try catalog.release(labelled: label), holder != id else { return }
        throw StrataError(.conflict, "label '\(label)' already names release \(holder); labels are unique")
    }

    /// Builds the complete, durable, read-only release folder at `tree`. Returns what it copied.
    private func assemble(_ manifest: Manifest, from files: [SourceFile], into tree: String) throws -> (files: Int, bytes: Int64) {
        let pool = ContentPool(layout: store.layout)
        var folders = FolderMaker(root: tree)
        var poolFolders = Set<String>()
        var copiedFiles = 0
        var copiedBytes: Int64 = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Hashing.chunkSize, alignment: 64)
        defer { buffer.deallocate() }

        try FileSystem.makeDirectory(tree)
        for (file, entry) in zip(files, manifest.files) {
            let destination = try folders.prepare(for: file.path)
            if try pool.link(entry.sha256, to: destination) { continue }
            let copied = try Hashing.copy(from: file.location, to: destination, buffer: buffer)
            guard copied == FileDigest(size: entry.size, sha256: entry.sha256) else {
                throw StrataError(.conflict, "'\(Escaped.path(file.path))' changed while it was being published; publish again")
            }
            poolFolders.insert(try pool.adopt(destination, sha256: entry.sha256))
            copiedFiles += 1
            copiedBytes += entry.size
        }

        let metadata = try folders.prepare(for: ReleaseLayout.manifestPath)
        try FileSystem.writeNewFile(metadata, try manifest.encoded(), mode: 0o444)

        // Read-only folders, each fsynced so every name in the release is durable before the rename.
        // The top folder stays writable until after the rename, which needs write access to move it.
        for folder in folders.created.sorted(by: { $0.count > $1.count }) {
            try FileSystem.changeMode(folder, 0o555)
            try FileSystem.syncDirectory(folder)
        }
        try FileSystem.syncDirectory(tree)
        for folder in poolFolders { try FileSystem.syncDirectory(folder) }
        return (copiedFiles, copiedBytes)
    }

    /// Makes the assembled release visible, atomically and durably.
    private func commit(_ tree: String, as id: String) throws {
        let destination = store.layout.release(id)
        try FileSystem.rename(tree, to: destination)
        try FileSystem.syncDirectory(store.layout.releases)
        try FileSystem.changeMode(destination, 0o555)
        try FileSystem.syncDirectory(destination)
    }
}

/// Creates the folders a release's files need, once each, and remembers them.
struct FolderMaker {
    let root: String
    private(set) var created: [String] = []
    private var known: Set<String> = []

    init(root: String) {
        self.root = root
    }

    /// Ensures the parent folders of `path` exist; returns the file's full path.
    mutating func prepare(for path: String) throws -> String {
        var folder = root
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        for component in components.dropLast() {
            folder += "/" + component
            if known.insert(folder).inserted {
                try FileSystem.makeDirectory(folder)
                created.append(folder)
            }
        }
        return root + "/" + path
    }
}

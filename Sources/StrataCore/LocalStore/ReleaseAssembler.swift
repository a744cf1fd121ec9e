import SystemPackage

/// A local store's `ReleaseDraft`: a staging folder turned into a complete, durable, read-only
/// release folder, then renamed into `releases/`.
///
/// On Linux nothing is fsynced file by file: `seal` makes the whole file system durable
/// (syncfs, begun on another thread before the variants are made and finished after the manifest:
/// `FileSystemFlush`), which covers every file, folder and pool link written before it, at a
/// fraction of the cost of thousands of fsyncs. Elsewhere each file and folder is fsynced.
///
/// Files arrive one of two ways: copied (or linked from the pool) from a source folder, or already
/// written into the tree by the archive unpacker. Either way every file ends up linked with the
/// pool, fsynced, and read-only; then the variants and the manifest are written and every folder is
/// sealed (0555) and fsynced, so each name in the release is durable before the rename.
final class ReleaseAssembler: ReleaseDraft {
    let layout: StoreLayout
    private let staging: StagingArea
    /// The release folder being assembled, inside the staging folder.
    let tree: FilePath
    private var folders: FolderMaker
    private var poolFolders = Set<FilePath>()
    private let pool: ContentPool
    private(set) var filesWritten = 0
    private(set) var contentsCompressed = 0
    private(set) var bytesWritten: Int64 = 0
    var variants = VariantSettings.standard
    private var sealed: Manifest?
    /// Whether anything was added to the pool, and whether the release made it into `releases/`:
    /// a draft that did the one and not the other leaves pool entries nothing links to.
    private var addedToPool = false
    private var published = false
    private let buffer: UnsafeMutableRawBufferPointer
    /// Sync once in `seal` instead of file by file.
    private let syncsOnce = FileSystem.canSyncFileSystem

    init(layout: StoreLayout, staging: StagingArea) throws {
        self.layout = layout
        self.staging = staging
        tree = staging.path.appending("release")
        folders = FolderMaker(root: tree)
        pool = ContentPool(layout: layout)
        buffer = .allocate(byteCount: Parallel.bufferSize, alignment: 64)
        try FileSystem.makeDirectory(tree)
    }

    deinit {
        buffer.deallocate()
    }

    var scratch: FilePath { tree }

    /// Puts a source folder's file into the tree: a link when the pool has its content, else a copy
    /// that is hashed again (a file that changed since it was first hashed is refused).
    func add(_ entry: Manifest.Entry, from source: FilePath) throws {
        let destination = try folders.prepare(for: entry.path)
        if try pool.link(entry.sha256, to: destination) { return }
        try copy(entry, from: source, to: destination)
    }

    /// The folders first, in order (one `mkdir` each), then the links on every core: most files of
    /// a new version are content the pool has, and each link is a path walk and an inode update in
    /// the kernel. Then each content the pool lacks is copied once, from its first file, on every
    /// core (a first publish is all copies), and the other files holding it are linked to that copy.
    func add(_ files: [(entry: Manifest.Entry, source: FilePath)], progress: ProgressCounter?) throws {
        let destinations = try files.map { try folders.prepare(for: $0.entry.path) }
        let pool = self.pool
        let linked = try Parallel.map(count: files.count) { index, _ in
            try pool.link(files[index].entry.sha256, to: destinations[index])
        }
        for index in files.indices where linked[index] { progress?.add(bytes: files[index].entry.size) }

        // The files the pool lacked: the first holding each content is copied, the others linked to it.
        var seen = Set<String>()
        let (copies, laterHolders) = files.indices.filter { !linked[$0] }.reduce(into: ([Int](), [Int]())) { split, index in
            if seen.insert(files[index].entry.sha256).inserted { split.0.append(index) } else { split.1.append(index) }
        }
        if !copies.isEmpty { addedToPool = true }  // before any copy: a failure part-way must collect what was pooled
        let sync = !syncsOnce
        poolFolders.formUnion(try Parallel.map(count: copies.count) { number, buffer in
            let file = files[copies[number]]
            let folder = try Self.copy(file.entry, from: file.source, to: destinations[copies[number]], into: pool, buffer: buffer, sync: sync)
            progress?.add(bytes: file.entry.size)
            return folder
        })
        filesWritten += copies.count
        bytesWritten += copies.reduce(0) { $0 + files[$1].entry.size }
        for index in laterHolders {
            let file = files[index]
            if try !pool.link(file.entry.sha256, to: destinations[index]) {  // the pooled copy is at the link limit
                try copy(file.entry, from: file.source, to: destinations[index])
            }
            progress?.add(bytes: file.entry.size)
        }
    }

    /// Copies a file the pool lacks into the tree, re-hashing it, and pools it.
    private func copy(_ entry: Manifest.Entry, from source: FilePath, to destination: FilePath) throws {
        addedToPool = true
        poolFolders.insert(try Self.copy(entry, from: source, to: destination, into: pool, buffer: buffer, sync: !syncsOnce))
        filesWritten += 1
        bytesWritten += entry.size
    }

    /// The copy itself, safe on any thread: a file that changed since it was hashed is refused.
    /// Returns the pool folder it touched.
    private static func copy(_ entry: Manifest.Entry, from source: FilePath, to destination: FilePath, into pool: ContentPool,
                             buffer: UnsafeMutableRawBufferPointer, sync: Bool) throws -> FilePath {
        let copied = try Hashing.copy(from: source, to: destination, buffer: buffer, sync: sync)
        guard copied == FileDigest(size: entry.size, sha256: entry.sha256) else {
            throw StrataError(.conflict, "'\(Escaped.path(entry.path))' changed while it was being published; publish again")
        }
        return try pool.adopt(destination, sha256: entry.sha256)
    }

    func reuse(_ entry: Manifest.Entry, ofRelease id: String) throws {
        try add(entry, from: layout.release(id).appending(entry.path))
    }

    /// Settles a file the unpacker already wrote: replaced by a link to pooled content when the store
    /// has it (so no byte is stored twice), else made durable and added to the pool.
    func adopt(_ path: String, digest: FileDigest) throws {
        let staged = tree.appending(path)
        let pooled = layout.pooled(digest.sha256)
        if FileSystem.exists(pooled) {
            guard let pooledStatus = try FileSystem.linkStatus(pooled), let stagedStatus = try FileSystem.linkStatus(staged) else {
                throw StrataError(.io, "'\(staged)' vanished while it was being published")
            }
            if pooledStatus.inode == stagedStatus.inode { return }  // a link to a file settled earlier
            let replacement = FilePath(staged.string + ".strata-link")
            if try pool.link(digest.sha256, to: replacement) {
                try FileSystem.rename(replacement, to: staged)
                return
            }
        }
        if !syncsOnce { try FileSystem.open(staged, .readOnly, purpose: "sync").sync() }
        addedToPool = true
        poolFolders.insert(try pool.adopt(staged, sha256: digest.sha256))
        filesWritten += 1
        bytesWritten += digest.size
    }

    /// Writes variants and the manifest, then seals the tree. Returns the manifest as written.
    func seal(_ manifest: Manifest) throws -> Manifest {
        var manifest = manifest
        addedToPool = true  // variants are pooled as they are made
        // The copies reach the disk while the variants are compressed, not after.
        let flush = syncsOnce ? try FileSystemFlush(containing: tree) : nil
        let compressed = try VariantBuilder(layout: layout, tree: tree, settings: variants, syncEachFile: !syncsOnce).addVariants(to: manifest.files, folders: &folders)
        manifest.files = compressed.entries
        manifest.variantEncodings = variants.encodings
        poolFolders.formUnion(compressed.poolFolders)
        contentsCompressed = compressed.contentsCompressed

        let metadata = try folders.prepare(for: ReleaseLayout.manifestPath)
        try FileSystem.writeNewFile(metadata, try manifest.encoded(), permissions: .readOnlyFile, sync: !syncsOnce)

        // Deepest folders first. The top folder stays writable until after the rename, which needs
        // write access to move it.
        for folder in try Self.folders(under: tree).sorted(by: { $0.length > $1.length }) {
            try FileSystem.changeMode(folder, .readOnlyFolder)
            if !syncsOnce { try FileSystem.syncDirectory(folder) }
        }
        if let flush {
            try flush.finish()
        } else {
            try FileSystem.syncDirectory(tree)
            for folder in poolFolders { try FileSystem.syncDirectory(folder) }
        }
        sealed = manifest
        return manifest
    }

    /// Renames the sealed tree to `releases/<id>`, durably, and seals its top folder.
    func publish() throws {
        guard let sealed else { preconditionFailure("publish() before seal()") }
        let destination = layout.release(sealed.id)
        try FileSystem.rename(tree, to: destination)
        try FileSystem.syncDirectory(layout.releases)
        published = true
        try FileSystem.changeMode(destination, .readOnlyFolder)
        try FileSystem.syncDirectory(destination)
    }

    /// Removes the staging folder; after a failure (a full disk, a bad file found late) also the
    /// content this draft pooled, which nothing links to once the staging folder is gone — so a
    /// failed publish leaves the store as it was.
    func discard() {
        staging.discard()
        if addedToPool && !published { _ = try? pool.collectGarbage() }
    }

    /// Every folder below `root` (not `root` itself): those the unpacker made count as much as ours.
    private static func folders(under root: FilePath) throws -> [FilePath] {
        var found: [FilePath] = []
        for name in try FileSystem.subfolders(root) {
            let path = root.appending(name)
            found.append(path)
            found += try folders(under: path)
        }
        return found
    }
}

@available(*, unavailable)
extension ReleaseAssembler: Sendable {}

#if canImport(Glibc)
import Glibc
#endif

/// Turns a staging folder into a complete, durable, read-only release folder, ready to be renamed
/// into `releases/`.
///
/// Files arrive one of two ways: copied (or linked from the pool) from a source folder, or already
/// written into the tree by the archive unpacker. Either way every file ends up linked with the
/// pool, fsynced, and read-only; then the variants and the manifest are written and every folder is
/// sealed (0555) and fsynced, so each name in the release is durable before the rename.
final class ReleaseAssembler {
    let layout: StoreLayout
    let tree: String
    private(set) var folders: FolderMaker
    private var poolFolders = Set<String>()
    private let pool: ContentPool
    private(set) var filesWritten = 0
    private(set) var bytesWritten: Int64 = 0
    private let buffer: UnsafeMutableRawBufferPointer

    init(layout: StoreLayout, tree: String, folders: FolderMaker? = nil) throws {
        self.layout = layout
        self.tree = tree
        self.folders = folders ?? FolderMaker(root: tree)
        pool = ContentPool(layout: layout)
        buffer = .allocate(byteCount: Parallel.bufferSize, alignment: 64)
        try FileSystem.makeDirectory(tree)
    }

    deinit {
        buffer.deallocate()
    }

    /// Puts a source folder's file into the tree: a link when the pool has its content, else a copy
    /// that is hashed again (a file that changed since it was first hashed is refused).
    func place(_ entry: Manifest.Entry, from location: String) throws {
        let destination = try folders.prepare(for: entry.path)
        if try pool.link(entry.sha256, to: destination) { return }
        let copied = try Hashing.copy(from: location, to: destination, buffer: buffer)
        guard copied == FileDigest(size: entry.size, sha256: entry.sha256) else {
            throw StrataError(.conflict, "'\(Escaped.path(entry.path))' changed while it was being published; publish again")
        }
        poolFolders.insert(try pool.adopt(destination, sha256: entry.sha256))
        filesWritten += 1
        bytesWritten += entry.size
    }

    /// Settles a file the unpacker already wrote: replaced by a link to pooled content when the store
    /// has it (so no byte is stored twice), else made durable and added to the pool.
    func settle(_ file: StagedFile) throws {
        let staged = tree + "/" + file.path
        let pooled = layout.pooled(file.digest.sha256)
        if FileSystem.exists(pooled) {
            guard let pooledStatus = try FileSystem.linkStatus(pooled), let stagedStatus = try FileSystem.linkStatus(staged) else {
                throw StrataError(.io, "'\(staged)' vanished while it was being published")
            }
            if pooledStatus.inode == stagedStatus.inode { return }  // a link to a file settled earlier
            let replacement = staged + ".strata-link"
            if try pool.link(file.digest.sha256, to: replacement) {
                try FileSystem.rename(replacement, to: staged)
                return
            }
        }
        let output = try FileSystem.open(staged, O_RDONLY, purpose: "sync")
        try output.sync()
        try output.close()
        poolFolders.insert(try pool.adopt(staged, sha256: file.digest.sha256))
        filesWritten += 1
        bytesWritten += file.digest.size
    }

    /// Writes variants and the manifest, then seals the tree. Returns the manifest as written.
    func finish(_ manifest: Manifest) throws -> Manifest {
        var manifest = manifest
        let compressed = try VariantBuilder(layout: layout, tree: tree).addVariants(to: manifest.files, folders: &folders)
        manifest.files = compressed.entries
        poolFolders.formUnion(compressed.poolFolders)

        let metadata = try folders.prepare(for: ReleaseLayout.manifestPath)
        try FileSystem.writeNewFile(metadata, try manifest.encoded(), mode: 0o444)

        // Deepest folders first. The top folder stays writable until after the rename, which needs
        // write access to move it.
        for folder in folders.created.sorted(by: { $0.count > $1.count }) {
            try FileSystem.changeMode(folder, 0o555)
            try FileSystem.syncDirectory(folder)
        }
        try FileSystem.syncDirectory(tree)
        for folder in poolFolders { try FileSystem.syncDirectory(folder) }
        return manifest
    }
}

@available(*, unavailable)
extension ReleaseAssembler: Sendable {}

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

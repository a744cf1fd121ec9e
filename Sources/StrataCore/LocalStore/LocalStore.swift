import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A store in a folder on this machine (see `StoreLayout`): releases are read-only folders assembled
/// in `staging/` and renamed into `releases/`, content is shared through a pool of hard links, and
/// writers take turns through an flock.
public struct LocalStore: StoreBackend, ReleaseFolders {
    public let layout: StoreLayout

    public init(root: FilePath) {
        layout = StoreLayout(root: root)
    }

    public var location: String { layout.root.string }

    static let markerContents = Array("{\"format\":1}\n".utf8)

    public func requireExisting() throws {
        guard FileSystem.exists(layout.marker) else {
            if FileSystem.exists(layout.root) {
                throw StrataError(.notFound, "'\(layout.root)' is not a Strata store (no strata-store.json); pass --root or set STRATA_ROOT")
            }
            throw StrataError(.notFound, "no Strata store at '\(layout.root)'; publish something first, or pass --root")
        }
    }

    /// True once the store's marker exists.
    var exists: Bool { FileSystem.exists(layout.marker) }

    // MARK: - Writing

    public func withWriteLock<T>(timeout: Double, _ body: () throws -> T) throws -> T {
        try createIfNeeded()
        let lock = try StoreLock.acquire(layout.lockFile, timeoutSeconds: timeout)
        defer { lock.release() }
        try StagingArea.removeAbandoned(in: layout)
        try removeAbandonedPointerTemporaries()
        return try body()
    }

    /// Creates the store's layout when it is missing (a folder that is missing or empty).
    func createIfNeeded() throws {
        if !exists {
            try create()
        }
        for folder in layout.folders where !FileSystem.exists(folder) {
            try FileSystem.makeDirectory(folder)
        }
        try flipCounter.createIfMissing()  // a store an older strata made has none
    }

    var flipCounter: FlipCounter { FlipCounter(path: layout.flipCounter) }

    private func create() throws {
        if let status = try FileSystem.status(layout.root) {
            guard status.isDirectory else {
                throw StrataError(.invalidInput, "'\(layout.root)' exists and is not a folder; cannot create a store there")
            }
            // Entries of the layout alone mean another writer is creating the store right now;
            // creation is idempotent, so finish it alongside.
            let names = try FileSystem.entryNames(layout.root).map { String(decoding: $0, as: UTF8.self) }
            guard names.allSatisfy(layout.isPartOfLayout) else {
                throw StrataError(.invalidInput, "'\(layout.root)' is not empty and not a Strata store; refusing to write into it")
            }
        } else {
            try FileSystem.makeDirectories(layout.root)
        }
        for folder in layout.folders {
            try FileSystem.makeDirectory(folder)
        }
        try flipCounter.createIfMissing()
        // The marker goes last: a store is only a store once its layout exists.
        try FileSystem.replaceAtomically(layout.marker, with: Self.markerContents)
    }

    /// Temporary pointer files (`.name.tmp-pid`) from a flip that was killed before its rename.
    private func removeAbandonedPointerTemporaries() throws {
        for folder in [layout.channels, layout.configChannels] {
            for name in try FileSystem.entries(folder) where name.hasPrefix(".") {
                try FileSystem.removeFile(folder.appending(name))
            }
        }
    }

    /// Removes this store again if it holds nothing: for a write that created the store and then
    /// failed, so bad input leaves no trace. Anything put in it meanwhile keeps it (rmdir refuses
    /// non-empty folders). Best effort: a failure here must not hide the error that brought us here.
    public func removeIfUnused(timeout: Double) {
        try? withWriteLock(timeout: timeout) {
            for folder in layout.folders.reversed() {
                guard try FileSystem.removeEmptyDirectory(folder) || !FileSystem.exists(folder) else { return }
            }
            try FileSystem.removeFile(layout.marker)
            try FileSystem.removeFile(layout.flipCounter)
            try FileSystem.removeFile(layout.lockFile)
            _ = try? FileSystem.removeEmptyDirectory(layout.root)  // only if empty; it may have been an empty folder before
        }
    }

    // MARK: - Releases

    public func releaseIDs() throws -> [String] {
        try FileSystem.entries(layout.releases).filter(Fingerprint.isReleaseID)
    }

    public var folders: (any ReleaseFolders)? { self }

    public func pointerWatcher(_ name: String, family: PointerFamily) -> any PointerWatcher {
        localPointers(family).watcher(name)
    }

    public func containsRelease(_ id: String) -> Bool {
        Fingerprint.isReleaseID(id) && FileSystem.exists(layout.manifest(id))
    }

    public func manifestBytes(of id: String) throws -> [UInt8]? {
        guard Fingerprint.isReleaseID(id) else { return nil }
        return try FileSystem.readFile(layout.manifest(id))
    }

    public func openContent(_ entry: Manifest.Entry, ofRelease id: String) throws -> any ByteSource {
        let file = try FileSystem.open(layout.release(id).appending(entry.path), .readOnly, purpose: "read")
        file.adviseSequentialRead()
        return file
    }

    public func openVariant(of entry: Manifest.Entry, _ encoding: ContentEncoding, ofRelease id: String) throws -> (any ByteSource)? {
        let path = layout.release(id).appending(ReleaseLayout.variant(of: entry.sha256, encoding))
        return FileSystem.exists(path) ? try FileSystem.open(path, .readOnly, purpose: "read") : nil
    }


    /// Call with the write lock held, so a cleaner cannot see the staging folder between its
    /// creation and its owner's flock.
    public func makeDraft() throws -> any ReleaseDraft {
        try ReleaseAssembler(layout: layout, staging: try StagingArea.create(in: layout, purpose: "publish"))
    }

    /// Moves the release out of `releases/` in one rename (so it vanishes whole), then deletes it.
    public func removeRelease(_ id: String) throws {
        let staging = try StagingArea.create(in: layout, purpose: "prune")
        defer { staging.discard() }
        let release = layout.release(id)
        try FileSystem.changeMode(release, .defaultFolder)  // moving a folder needs write access to it
        try FileSystem.rename(release, to: staging.path.appending("release"))
        try FileSystem.syncDirectory(layout.releases)
        try FileSystem.removeTree(staging.path.appending("release"))
    }

    public func collectUnreferencedContent() throws -> (files: Int, bytes: Int64) {
        try ContentPool(layout: layout).collectGarbage()
    }

    // MARK: - Pointers, pins, config versions

    public func pointers(_ family: PointerFamily) -> any PointerStorage {
        localPointers(family)
    }

    private func localPointers(_ family: PointerFamily) -> LocalPointerStorage {
        switch family {
        case .releases:
            return LocalPointerStorage(folder: layout.channels, historyFolder: layout.history, flips: flipCounter)
        case .configs:
            return LocalPointerStorage(folder: layout.configChannels, historyFolder: layout.configHistories, flips: flipCounter,
                                       parents: [layout.configs, layout.configChannels, layout.configHistories])
        }
    }

    public func pinnedReleases() throws -> Set<String> {
        Set(try FileSystem.entries(layout.pins).filter(Fingerprint.isReleaseID))
    }

    public func setPinned(_ pinned: Bool, release id: String) throws -> Bool {
        let pin = layout.pin(id)
        guard FileSystem.exists(pin) != pinned else { return false }
        if pinned {
            try FileSystem.writeNewFile(pin, [])
        } else {
            try FileSystem.removeFile(pin)
        }
        try FileSystem.syncDirectory(layout.pins)
        return true
    }

    public func configVersionBytes(_ id: String) throws -> [UInt8]? {
        guard Fingerprint.isReleaseID(id) else { return nil }
        return try FileSystem.readFile(layout.configVersion(id))
    }

    public func storeConfigVersion(_ id: String, bytes: [UInt8]) throws {
        for folder in [layout.configs, layout.configVersions] {
            try FileSystem.makeDirectory(folder)
        }
        if !FileSystem.exists(layout.configVersion(id)) {
            try FileSystem.replaceAtomically(layout.configVersion(id), with: bytes, permissions: .readOnlyFile)
        }
    }
}

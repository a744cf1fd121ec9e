#if canImport(Glibc)
import Glibc
#endif

/// A store on disk: the folder Strata manages.
///
/// Opening for reading requires an existing store and takes no lock. A store opened for writing is
/// created by its first write (after the writer has checked its input), when the folder is missing or
/// empty; a folder that holds something else is refused.
public struct Store: Sendable {
    public let layout: StoreLayout

    /// A store at `root` that may not exist yet; nothing is touched until the first write.
    public init(root: String) {
        layout = StoreLayout(root: root)
    }

    private init(layout: StoreLayout) {
        self.layout = layout
    }

    static let markerContents = Array("{\"format\":1}\n".utf8)

    /// Opens an existing store for reading.
    public static func open(root: String) throws -> Store {
        let layout = StoreLayout(root: root)
        guard FileSystem.exists(layout.marker) else {
            if FileSystem.exists(layout.root) {
                throw StrataError(.notFound, "'\(layout.root)' is not a Strata store (no strata-store.json); pass --root or set STRATA_ROOT")
            }
            throw StrataError(.notFound, "no Strata store at '\(layout.root)'; publish something first, or pass --root")
        }
        return Store(layout: layout)
    }

    /// Creates the store's layout when it is missing (a folder that is missing or empty).
    func createIfNeeded() throws {
        if !FileSystem.exists(layout.marker) {
            try Self.create(layout)
        }
        for folder in layout.folders where !FileSystem.exists(folder) {
            try FileSystem.makeDirectory(folder)
        }
    }

    private static func create(_ layout: StoreLayout) throws {
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
            try makeDirectories(layout.root)
        }
        for folder in layout.folders {
            try FileSystem.makeDirectory(folder)
        }
        // The marker goes last: a store is only a store once its layout exists.
        try FileSystem.replaceAtomically(layout.marker, with: markerContents)
    }

    /// `mkdir -p`.
    private static func makeDirectories(_ path: String) throws {
        if FileSystem.exists(path) { return }
        let parent = FileSystem.parent(of: path)
        if parent != path { try makeDirectories(parent) }
        try FileSystem.makeDirectory(path)
    }

    /// Runs `body` holding the writers' lock, after clearing debris left by writers that died.
    public func withWriteLock<T>(timeoutSeconds: Double = StoreLock.defaultTimeout, _ body: (StoreLock) throws -> T) throws -> T {
        try createIfNeeded()
        let lock = try StoreLock.acquire(layout.lockFile, timeoutSeconds: timeoutSeconds)
        defer { lock.release() }
        try StagingArea.removeAbandoned(in: layout)
        try removeAbandonedPointerTemporaries()
        return try body(lock)
    }

    /// Temporary pointer files (`.name.tmp-pid`) from a flip that was killed before its rename.
    private func removeAbandonedPointerTemporaries() throws {
        for name in try FileSystem.entries(layout.channels) where name.hasPrefix(".") {
            try FileSystem.removeFile(layout.channels + "/" + name)
        }
    }
}

/// Where the store is when `--root` is not given: `$STRATA_ROOT`, else `$XDG_DATA_HOME/strata`,
/// else `~/.local/share/strata`.
public enum DefaultStoreLocation {
    public static func resolve(environment: [String: String]) -> String {
        if let root = environment["STRATA_ROOT"], !root.isEmpty { return root }
        if let data = environment["XDG_DATA_HOME"], !data.isEmpty { return data + "/strata" }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? "."
        return home + "/.local/share/strata"
    }
}

extension Store {
    /// Removes this store again if it holds nothing: for a write that created the store and then
    /// failed, so bad input leaves no trace. Anything put in it meanwhile keeps it (rmdir refuses
    /// non-empty folders). Best effort: a failure here must not hide the error that brought us here.
    func removeIfUnused(timeoutSeconds: Double) {
        try? withWriteLock(timeoutSeconds: timeoutSeconds) { _ in
            for folder in layout.folders.reversed() {
                guard rmdir(folder) == 0 || errno == ENOENT else { return }
            }
            try FileSystem.removeFile(layout.marker)
            try FileSystem.removeFile(layout.lockFile)
            _ = rmdir(layout.root)  // only if empty; it may have been an empty folder before
        }
    }
}

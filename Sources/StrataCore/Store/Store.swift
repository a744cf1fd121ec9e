import SystemPackage

/// An opened store and the settings every command on it shares.
///
/// Opening for reading requires an existing store and takes no lock. A store opened for writing is
/// created by its first write (after the writer has checked its input), when the folder is missing or
/// empty; a folder that holds something else is refused.
public struct Store: Sendable {
    public let backend: any StoreBackend
    /// How long a writer waits for another writer's lock, in seconds.
    public var lockTimeout: Double

    public init(backend: any StoreBackend, lockTimeout: Double = StoreLock.defaultTimeout) {
        self.backend = backend
        self.lockTimeout = lockTimeout
    }

    /// A local store at `root` that may not exist yet; nothing is touched until the first write.
    public init(root: String, lockTimeout: Double = StoreLock.defaultTimeout) {
        self.init(backend: LocalStore(root: FilePath(root)), lockTimeout: lockTimeout)
    }

    /// Opens an existing local store.
    public static func open(root: String, lockTimeout: Double = StoreLock.defaultTimeout) throws -> Store {
        let store = Store(root: root, lockTimeout: lockTimeout)
        try store.backend.requireExisting()
        return store
    }

    /// What only a store in a local folder can do (serving, verifying a folder); nil for a remote store.
    public var folders: (any ReleaseFolders)? { backend.folders }

    /// Where the store is, for messages.
    public var location: String { backend.location }

    /// Runs `body` as the only writer, waiting up to `lockTimeout`.
    public func withWriteLock<T>(_ body: () throws -> T) throws -> T {
        try backend.withWriteLock(timeout: lockTimeout, body)
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

/// Pinned releases: ones `prune` must keep whatever else holds. A pin is an empty file `pins/<id>`.
public struct Pins: Sendable {
    public let store: Store
    public var lockTimeout: Double

    public init(store: Store, lockTimeout: Double = StoreLock.defaultTimeout) {
        self.store = store
        self.lockTimeout = lockTimeout
    }

    public func pinned() throws -> Set<String> {
        Set(try FileSystem.entries(store.layout.pins).filter(Fingerprint.isReleaseID))
    }

    public func isPinned(_ id: String) -> Bool {
        FileSystem.exists(store.layout.pin(id))
    }

    /// Returns false when it was pinned already.
    @discardableResult
    public func pin(_ id: String) throws -> Bool {
        try store.withWriteLock(timeoutSeconds: lockTimeout) { _ in
            guard ReleaseCatalog(store).contains(id) else {
                throw StrataError(.notFound, "release \(id) not found; run 'strata releases'")
            }
            guard !isPinned(id) else { return false }
            try FileSystem.writeNewFile(store.layout.pin(id), [])
            try FileSystem.syncDirectory(store.layout.pins)
            return true
        }
    }

    /// Returns false when it was not pinned.
    @discardableResult
    public func unpin(_ id: String) throws -> Bool {
        try store.withWriteLock(timeoutSeconds: lockTimeout) { _ in
            guard isPinned(id) else { return false }
            try FileSystem.removeFile(store.layout.pin(id))
            try FileSystem.syncDirectory(store.layout.pins)
            return true
        }
    }
}

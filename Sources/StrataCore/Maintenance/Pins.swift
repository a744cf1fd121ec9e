/// Pinned releases: ones `prune` must keep whatever else holds.
public struct Pins: Sendable {
    public let store: Store

    public init(store: Store) {
        self.store = store
    }

    public func pinned() throws -> Set<String> {
        try store.backend.pinnedReleases()
    }

    /// Returns false when it was pinned already.
    @discardableResult
    public func pin(_ id: String) throws -> Bool {
        try store.withWriteLock {
            guard try ReleaseCatalog(store).contains(id) else {
                throw StrataError(.notFound, "release \(id) not found; run 'strata releases'")
            }
            return try store.backend.setPinned(true, release: id)
        }
    }

    /// Returns false when it was not pinned.
    @discardableResult
    public func unpin(_ id: String) throws -> Bool {
        try store.withWriteLock {
            try store.backend.setPinned(false, release: id)
        }
    }
}

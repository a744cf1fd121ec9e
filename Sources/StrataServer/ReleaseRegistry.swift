import StrataCore
import Synchronization

/// Release indexes by id, each loaded the first time a request needs it. Releases never change, so
/// an index is valid for as long as the release exists; one pruned while the server runs is
/// forgotten the first time a file of it cannot be opened.
final class ReleaseRegistry: Sendable {
    private let catalog: ReleaseCatalog
    private let layout: StoreLayout
    private let indexes = Mutex<[String: ReleaseIndex]>([:])

    init(store: Store, layout: StoreLayout) {
        catalog = ReleaseCatalog(store)
        self.layout = layout
    }

    /// The index of release `id`, or nil when the store has no such (readable) release.
    func index(_ id: String) -> ReleaseIndex? {
        if let known = indexes.withLock({ $0[id] }) { return known }
        guard Fingerprint.isReleaseID(id), let manifest = try? catalog.manifest(id), manifest.id == id else { return nil }
        let index = ReleaseIndex(manifest: manifest, folder: layout.release(id))
        indexes.withLock { $0[id] = index }
        return index
    }

    func forget(_ id: String) {
        _ = indexes.withLock { $0.removeValue(forKey: id) }
    }
}

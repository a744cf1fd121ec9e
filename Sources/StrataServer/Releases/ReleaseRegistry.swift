import Foundation
import NIOCore
import NIOPosix
import StrataCore
import Synchronization
import SystemPackage

/// Release indexes by id, shared by the event loops and touched only when a loop meets a release
/// it has not seen (each loop keeps its own `LoopReleases` in front of this).
///
/// Indexes load on a thread pool, never on an event loop: decoding a large manifest would stall
/// every connection of that loop. Releases never change, so an index stays valid for as long as the
/// release exists; one that disappears (pruned) is forgotten, and `generation` moves so that the
/// loops drop their copies and the descriptors they hold open on its files.
final class ReleaseRegistry: Sendable {
    private let catalog: ReleaseCatalog
    /// A serve node's way to bring a release it lacks into its cache.
    private let fetchMissing: (@Sendable (String) -> Void)?
    private let layout: StoreLayout
    /// Index loads (local reads only).
    private let pool: NIOThreadPool
    /// On-demand fetches, which wait on the network: a pool of their own, so a slow bucket never
    /// holds up the loads of releases the cache has.
    private let fetchPool: NIOThreadPool
    /// Fetches running or queued; past `fetchesQueued` a release the cache lacks is answered as absent.
    private let fetches = Atomic<Int>(0)
    static let fetchesQueued = 32
    private let state = Mutex(State())
    private let forgotten = Atomic<Int>(0)
    private let serials = Atomic<UInt64>(0)
    /// How long "no such release" is believed: a release published later becomes servable after this.
    static let absenceMemory = TimeAmount.seconds(1)
    /// Ids of absent releases come from clients (`/_v/<id>/`), so at most this many are remembered.
    static let absencesKept = 1024

    private struct State {
        var known: [String: Known] = [:]
        var waiting: [String: [EventLoopPromise<Void>]] = [:]
        var absences = 0

        /// Past the limit every absence is forgotten: each costs at most one more manifest read.
        mutating func forgetAbsencesIfMany() {
            absences += 1
            guard absences > ReleaseRegistry.absencesKept else { return }
            known = known.filter { if case .loaded = $0.value { true } else { false } }
            absences = 1
        }
    }

    enum Known {
        case loaded(ReleaseIndex)
        case absent(since: NIODeadline)
        /// In the store but its manifest cannot be read (permissions, I/O error): said as a 503,
        /// and tried again as soon as an absence would be.
        case unreadable(since: NIODeadline, reason: String)
    }

    /// Where loads and unreadable releases are said.
    private let events: EventLog
    /// Signatures a release must carry to be served (`--trust`).
    private let trust: TrustedKeys?

    init(store: Store, layout: StoreLayout, pool: NIOThreadPool, events: EventLog = EventLog(),
         fetchMissing: (@Sendable (String) -> Void)? = nil, fetchPool: NIOThreadPool? = nil, trust: TrustedKeys? = nil) {
        self.events = events
        self.trust = trust
        self.fetchMissing = fetchMissing
        catalog = ReleaseCatalog(store)
        self.layout = layout
        self.pool = pool
        self.fetchPool = fetchPool ?? pool
    }

    /// How many releases, present or absent, the registry remembers.
    var rememberedCount: Int { state.withLock { $0.known.count } }

    /// Moves each time a release is forgotten.
    var generation: Int { forgotten.load(ordering: .relaxed) }

    /// What is known about `id` without reading the store: nil means "load it first".
    func known(_ id: String) -> Known? {
        state.withLock { state in
            switch state.known[id] {
            case .absent(let since)?, .unreadable(let since, _)?:
                if since + Self.absenceMemory < .now() { state.known[id] = nil }
            default: break
            }
            return state.known[id]
        }
    }

    /// Loads `id` on the thread pool (once, however many loops ask); completes on `loop` when
    /// `known(id)` has an answer.
    func load(_ id: String, on loop: EventLoop) -> EventLoopFuture<Void> {
        let promise = loop.makePromise(of: Void.self)
        let first = state.withLock { state in
            if state.known[id] != nil { return Optional<Bool>.none }
            let first = state.waiting[id] == nil
            state.waiting[id, default: []].append(promise)
            return first
        }
        switch first {
        case .none: promise.succeed()
        case .some(true): pool.submit { _ in self.loadOrFetch(id) }
        case .some(false): break
        }
        return promise.futureResult
    }

    /// Loads `id`, or for a serve node that lacks it, fetches it first on the fetch pool.
    private func loadOrFetch(_ id: String) {
        guard let fetchMissing, Fingerprint.isReleaseID(id), (try? catalog.contains(id)) != true else {
            loadNow(id)
            return
        }
        guard fetches.wrappingAdd(1, ordering: .relaxed).newValue <= Self.fetchesQueued else {
            fetches.wrappingSubtract(1, ordering: .relaxed)
            finish(id, .absent(since: .now()))
            return
        }
        fetchPool.submit { _ in
            fetchMissing(id)
            self.fetches.wrappingSubtract(1, ordering: .relaxed)
            self.loadNow(id)
        }
    }

    /// Loads `id` on the calling thread (at start, to be ready for the first request).
    @discardableResult
    func loadNow(_ id: String, announce: Bool = true) -> ReleaseIndex? {
        finish(id, readIndex(id, announce: announce))
    }

    /// Records what is known about `id` and wakes the loops waiting for it.
    @discardableResult
    private func finish(_ id: String, _ known: Known) -> ReleaseIndex? {
        let index: ReleaseIndex? = if case .loaded(let index) = known { index } else { nil }
        let waiters = state.withLock { state in
            if index == nil { state.forgetAbsencesIfMany() }
            state.known[id] = known
            return state.waiting.removeValue(forKey: id) ?? []
        }
        waiters.forEach { $0.succeed() }
        return index
    }

    private func readIndex(_ id: String, announce: Bool) -> Known {
        guard Fingerprint.isReleaseID(id) else { return .absent(since: .now()) }
        let started = NIODeadline.now()
        let manifest: Manifest
        do {
            manifest = try catalog.manifest(id)
        } catch {
            guard let reason = Self.unreadable(layout.manifest(id), error) else { return .absent(since: .now()) }
            events.sayAtMostEverySecond(.error, "store_unreadable", "cannot read release \(id): \(reason)", [("release", id)])
            return .unreadable(since: .now(), reason: "cannot read release \(id): \(reason)")
        }
        guard manifest.id == id else { return .absent(since: .now()) }
        do {
            try trust?.require(manifest, origin: catalog.store.location)
        } catch {
            let reason = (error as? StrataError)?.message ?? "\(error)"
            events.sayAtMostEverySecond(.error, "release_refused", reason, [("release", id)])
            return .unreadable(since: .now(), reason: reason)
        }
        let folder = layout.release(id)
        let index: ReleaseIndex
        do {
            index = try ReleaseIndex(manifest: manifest, folder: folder, serial: serials.wrappingAdd(1, ordering: .relaxed).newValue,
                                     rules: siteRules(of: manifest, in: folder))
        } catch {
            let reason = (error as? StrataError)?.message ?? "\(error)"
            events.sayAtMostEverySecond(.error, "release_refused", reason, [("release", id)])
            return .unreadable(since: .now(), reason: reason)
        }
        let millis = (NIODeadline.now() - started).nanoseconds / 1_000_000
        if announce {
            events.say(.info, "release_loaded", "loaded release \(id): \(manifest.files.count) files in \(millis) ms",
                       [("release", id), ("files", String(manifest.files.count))])
        }
        return .loaded(index)
    }

    /// Why a manifest that failed to load cannot be read, or nil when it is simply not there
    /// (never published, or pruned): only the first is the store's fault.
    private static func unreadable(_ manifest: FilePath, _ error: Error) -> String? {
        var info = stat()
        if stat(manifest.string, &info) != 0 {
            return errno == ENOENT || errno == ENOTDIR ? nil : String(cString: strerror(errno))
        }
        return (error as? StrataError)?.message ?? "\(error)"
    }

    /// The release's `_redirects` and `_headers`. Publish refuses bad rules, so only a release
    /// published before rules were read can have one; it is served without its rules, and said once.
    private func siteRules(of manifest: Manifest, in folder: FilePath) -> SiteRules {
        let names = Set(manifest.files.lazy.map(\.path).filter(SiteRules.isRuleFile))
        guard !names.isEmpty else { return .none }
        do {
            return try SiteRules.load { name in names.contains(name) ? try FileSystem.readFile(folder.appending(name)) : nil }
        } catch {
            events.say(.warn, "site_rules_skipped", "release \(manifest.id) is served without its site rules: \(error)",
                       [("release", manifest.id)])
            return .none
        }
    }

    /// Drops a release whose files are gone; every loop drops its copy on its next request.
    func forget(_ id: String) {
        let removed = state.withLock { $0.known.removeValue(forKey: id) != nil }
        if removed { forgotten.wrappingAdd(1, ordering: .relaxed) }
    }

    /// Forgets loaded releases whose manifest is gone (pruned): their open descriptors would
    /// otherwise keep serving them. Run now and then off the event loops.
    func sweep() {
        let loaded = state.withLock { state in
            state.known.compactMap { id, known in if case .loaded = known { id } else { nil } }
        }
        for id in loaded where (try? layout.manifest(id).stat()) == nil {
            forget(id)
        }
    }
}

/// One event loop's view of the registry: the releases its connections have used, found without
/// a lock. Only that loop's thread touches it.
final class LoopReleases {
    private let registry: ReleaseRegistry
    private var generation: Int
    private var loaded: [ReleaseIndex] = []
    /// Called when the registry forgot a release, so what this loop holds for it goes too.
    var onForget: () -> Void = {}

    enum Lookup {
        case found(ReleaseIndex)
        case absent
        /// In the store, but unreadable now: the reason.
        case unreadable(String)
        /// Not known yet: load it (`ReleaseRegistry.load`) and ask again.
        case unknown
    }

    init(registry: ReleaseRegistry) {
        self.registry = registry
        generation = registry.generation
    }

    /// The release with this id (as a `String` or as request bytes). The last one found is checked
    /// first: nearly every request of a channel asks for the same release.
    func lookup<ID: Collection<UInt8>>(_ id: ID) -> Lookup {
        let current = registry.generation
        if current != generation {
            generation = current
            loaded.removeAll()
            onForget()
        }
        if let index = loaded.first(where: { $0.id.utf8.elementsEqual(id) }) { return .found(index) }
        let text = String(decoding: id, as: UTF8.self)
        switch registry.known(text) {
        case .loaded(let index)?:
            loaded.insert(index, at: 0)
            return .found(index)
        case .absent?:
            return .absent
        case .unreadable(_, let reason)?:
            return .unreadable(reason)
        case nil:
            return .unknown
        }
    }

    func lookup(_ id: String) -> Lookup {
        if let first = loaded.first, first.id == id, registry.generation == generation { return .found(first) }
        return lookup(id.utf8)
    }

    func forget(_ index: ReleaseIndex) {
        registry.forget(index.id)
    }
}

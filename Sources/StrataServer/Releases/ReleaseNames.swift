import NIOCore
import NIOPosix
import StrataCore
import Synchronization

/// What a release host's name (`<name>.preview.example.com`) means: a release id, a unique id
/// prefix of 4+ hex digits, or a label (compared without case: host names have none).
///
/// Answers come from tables of the store's release ids and labels, built off the event loops and
/// brought up to date only when a name is not found (at most once a second, however many names
/// miss, so random host names cannot make the store be listed on every request) and in the
/// background once they are `refreshAfter` old. Only new releases' manifests are read.
final class ReleaseNames: Sendable {
    enum Answer: Equatable {
        case release(String)
        /// No release has that name, or several do (an ambiguous prefix or label).
        case none
        /// The tables may be out of date for this name: `refresh`, then ask again.
        case unknown
    }

    private let catalog: ReleaseCatalog
    private let pool: NIOThreadPool
    private let events: EventLog
    private let state = Mutex(State())

    /// How long a table that did not have a name is believed.
    static let missMemory = TimeAmount.seconds(1)
    /// How old the tables may grow before a lookup refreshes them in the background (a readdir, and
    /// the manifests of releases new since): a name a new release made ambiguous stops serving then.
    static let refreshAfter = TimeAmount.seconds(2)

    private struct State {
        var ids: [String] = []
        /// Lowercased label → the releases carrying it (more than one: labels differing in case).
        var labels: [String: [String]] = [:]
        var known: Set<String> = []
        var listed: NIODeadline?
        var refreshing = false
        var waiting: [EventLoopPromise<Void>] = []
    }

    init(store: Store, pool: NIOThreadPool, events: EventLog) {
        catalog = ReleaseCatalog(store)
        self.pool = pool
        self.events = events
    }

    func resolve(_ name: String) -> Answer {
        let (answer, stale) = state.withLock { state -> (Answer, Bool) in
            guard let listed = state.listed else { return (.unknown, false) }
            let stale = listed + Self.refreshAfter < .now()
            // As `strata activate` resolves: an id prefix and a label that name different releases are ambiguous.
            var matches = Set(state.labels[name] ?? [])
            if name.utf8.count >= 4 && name.utf8.count <= Fingerprint.idLength && Fingerprint.isLowercaseHex(name) {
                matches.formUnion(state.ids.filter { $0.hasPrefix(name) })
            }
            switch matches.count {
            case 1: return (.release(matches.first!), stale)
            case 0: return (listed + Self.missMemory < .now() ? .unknown : .none, stale)
            default: return (.none, stale)
            }
        }
        if stale && answer != Answer.unknown { refreshInBackground() }
        return answer
    }

    /// Brings the tables up to date on the thread pool; completes on `loop` when done.
    func refresh(on loop: EventLoop) -> EventLoopFuture<Void> {
        let promise = loop.makePromise(of: Void.self)
        refreshInBackground(notifying: promise)
        return promise.futureResult
    }

    /// Starts a read of the tables unless one is under way (which `waiter` then waits for).
    private func refreshInBackground(notifying waiter: EventLoopPromise<Void>? = nil) {
        let first = state.withLock { state in
            if let waiter { state.waiting.append(waiter) }
            defer { state.refreshing = true }
            return !state.refreshing
        }
        if first { pool.submit { _ in self.readTables() } }
    }

    private func readTables() {
        let known = state.withLock { $0.known }
        var ids: [String] = []
        var added: [(String, String?)] = []
        do {
            ids = try catalog.ids()
            for id in ids where !known.contains(id) {
                do {
                    guard let summary = try catalog.summary(id) else { continue }
                    added.append((id, summary.label))
                } catch {
                    events.sayAtMostEverySecond(.error, "release_refused", "release \(id) has no name on release hosts: \(error)", [("release", id)])
                }
            }
        } catch {
            events.sayAtMostEverySecond(.error, "store_unreadable", "cannot list releases for release hosts: \(error)")
        }
        let waiters = state.withLock { state in
            let present = Set(ids)
            state.ids = ids.sorted()
            state.known = state.known.intersection(present).union(added.map(\.0))
            state.labels = state.labels.compactMapValues { owners in
                let kept = owners.filter(present.contains)
                return kept.isEmpty ? nil : kept
            }
            for (id, label) in added {
                if let label { state.labels[label.lowercased(), default: []].append(id) }
            }
            state.listed = .now()
            state.refreshing = false
            defer { state.waiting = [] }
            return state.waiting
        }
        waiters.forEach { $0.succeed() }
    }
}

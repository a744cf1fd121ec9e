/// Why prune keeps a release.
public enum RetentionReason: String, Codable, Sendable, Comparable {
    case newest
    case live
    case pinned
    case recentHistory

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// What prune decided: which releases go, and why each other one stays.
public struct PrunePlan: Sendable {
    public let remove: [ReleaseSummary]
    public let keep: [(release: ReleaseSummary, reasons: [RetentionReason])]
}

public struct PruneReport: Sendable {
    public let plan: PrunePlan
    /// Content no release links any more, freed from the pool.
    public let filesFreed: Int
    public let bytesFreed: Int64
}

/// Removes old releases, keeping the newest N by publish time and anything a channel might need:
/// what a channel points at, pinned releases, and releases named in the last N entries of any
/// channel's history (so `rollback` still has somewhere to go).
public struct Pruner: Sendable {
    public let store: Store

    public init(store: Store) {
        self.store = store
    }

    public func plan(keep count: Int) throws -> PrunePlan {
        guard count >= 1 else { throw StrataError(.invalidInput, "--keep must be at least 1") }
        let releases = try ReleaseCatalog(store).summaries()
        let channels = Channels(store: store)
        var reasons: [String: Set<RetentionReason>] = [:]
        for release in releases.suffix(count) { reasons[release.id, default: []].insert(.newest) }
        for state in try channels.all() {
            for id in state.releases { reasons[id, default: []].insert(.live) }
            for entry in try channels.history(state.name).suffix(count) {
                reasons[entry.to, default: []].insert(.recentHistory)
                if let from = entry.from { reasons[from, default: []].insert(.recentHistory) }
            }
        }
        for id in try Pins(store: store).pinned() { reasons[id, default: []].insert(.pinned) }

        let remove = releases.filter { reasons[$0.id] == nil }
        let keep = releases.compactMap { release in
            reasons[release.id].map { (release: release, reasons: $0.sorted()) }
        }
        return PrunePlan(remove: remove, keep: keep)
    }

    /// Plans and removes, under the lock so no flip can make a planned release live meanwhile.
    public func prune(keep count: Int) throws -> PruneReport {
        try store.withWriteLock {
            let plan = try plan(keep: count)
            for release in plan.remove {
                try store.backend.removeRelease(release.id)
            }
            let freed = try store.backend.collectUnreferencedContent()
            return PruneReport(plan: plan, filesFreed: freed.files, bytesFreed: freed.bytes)
        }
    }
}

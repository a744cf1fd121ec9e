/// One channel as `status` shows it.
public struct ChannelState: Sendable, Equatable {
    public let name: String
    public let release: String
    /// When the channel last went to this release, from its history (nil if the log lacks it).
    public let since: String?
}

/// Channels: named pointers to releases, their flips, and their histories (see `Pointer`).
public struct Channels: Sendable {
    public let store: Store

    public init(store: Store) {
        self.store = store
    }

    /// The pointer of one channel; the name is validated.
    public func pointer(for channel: String) throws -> Pointer {
        try Pointer(channel, family: .releases, in: store)
    }

    /// The release a channel points at; nil when the channel has never been activated.
    public func pointer(_ channel: String) throws -> String? {
        try pointer(for: channel).read()
    }

    /// Every channel and the release it points at, by name.
    public func all() throws -> [ChannelState] {
        var states: [ChannelState] = []
        for name in try store.backend.pointers(.releases).names().sorted() {
            let pointer = Pointer(validated: name, family: .releases, in: store)
            guard let id = try pointer.read() else { continue }
            let since = try pointer.history().last { $0.to == id }?.time
            states.append(ChannelState(name: name, release: id, since: since))
        }
        return states
    }

    public func history(_ channel: String) throws -> [HistoryEntry] {
        try pointer(for: channel).history()
    }

    /// Points `channel` at `release`. With `expected`, a compare-and-swap: refuses unless the channel
    /// points at `expected` now (`.some(nil)`: unless it points nowhere yet).
    public func activate(_ release: String, channel: String, expected: String?? = nil) throws -> FlipResult {
        var checked = Set<String>()
        return try pointer(for: channel).flip(action: .activate) { current in
            try requireRelease(release, checked: &checked)
            if let expected, current != expected {
                throw StrataError(.conflict, "channel '\(channel)' points at \(current ?? "nothing"), not \(expected ?? "nothing") as expected; nothing changed")
            }
            return release
        }
    }

    /// Points channel `target` at the release channel `source` serves: a compare-and-swap on both
    /// pointers. Refused if either moved between the read and the flip, or differs from what the
    /// caller expects (`expectedSource`, `expectedTarget`; `.some(nil)`: points nowhere yet).
    public func promote(from source: String, to target: String, expectedSource: String? = nil,
                        expectedTarget: String?? = nil) throws -> FlipResult {
        let sourcePointer = try pointer(for: source)
        let targetPointer = try pointer(for: target)
        guard source != target else {
            throw StrataError(.invalidInput, "cannot promote channel '\(source)' to itself")
        }
        var checked = Set<String>()
        func sourceRelease() throws -> String {
            guard let release = try sourcePointer.read() else {
                throw StrataError(.notFound, "channel '\(source)' has never been activated; nothing to promote")
            }
            if let expectedSource, release != expectedSource {
                throw StrataError(.conflict, "channel '\(source)' serves \(release), not \(expectedSource) as expected; nothing changed")
            }
            try requireRelease(release, checked: &checked)
            return release
        }
        var seen: (release: String, current: String?)?
        return try targetPointer.flip(action: .promote, source: source) { current in
            let release = try sourceRelease()
            if let expectedTarget, current != expectedTarget {
                throw StrataError(.conflict, "channel '\(target)' points at \(current ?? "nothing"), not \(expectedTarget ?? "nothing") as expected; nothing changed")
            }
            let now = (release: release, current: current)
            if let seen, seen != now {
                throw StrataError(.conflict, "channel '\(source)' or '\(target)' moved while promoting; nothing changed, try again")
            }
            seen = now
            return now.release
        }
    }

    /// Points `channel` back at the release that was live before the current one (by history), or at
    /// `target`. Releases pruned since are skipped.
    public func rollback(channel: String, to target: String? = nil) throws -> FlipResult {
        let pointer = try pointer(for: channel)
        let catalog = ReleaseCatalog(store)
        var skipped: [String] = []
        var checked = Set<String>()
        let flip = try pointer.flip(action: .rollback) { _ in
            if let target {
                guard let current = try pointer.read() else {
                    throw StrataError(.notFound, "channel '\(channel)' has never been activated; nothing to roll back")
                }
                try requireRelease(target, checked: &checked)
                guard target != current else { throw StrataError(.invalidInput, "channel '\(channel)' already serves \(target)") }
                return target
            }
            let plan = try pointer.rollbackPlan(isAvailable: catalog.contains)
            skipped = plan.skipped
            return plan.target
        }
        return FlipResult(channel: flip.channel, from: flip.from, to: flip.to, changed: flip.changed, skipped: skipped)
    }

    /// The release must exist and its manifest keep `ManifestRules`: a crafted manifest in a
    /// bucket never goes live. A flip decides twice (before the lock and under it): the manifest
    /// is read and checked once (`checked`), the second time only its presence.
    private func requireRelease(_ id: String, checked: inout Set<String>) throws {
        let catalog = ReleaseCatalog(store)
        if checked.contains(id) {
            guard try catalog.contains(id) else { throw StrataError(.notFound, "release \(id) not found; run 'strata releases'") }
            return
        }
        _ = try catalog.manifest(id)
        checked.insert(id)
    }
}

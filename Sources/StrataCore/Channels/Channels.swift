/// One channel as `status` shows it.
public struct ChannelState: Sendable, Equatable {
    public let name: String
    public let release: String
    /// When the channel last went to this release, from its history (nil if the log lacks it).
    public let since: String?
    /// The canary it serves to a share of its visitors, if a rollout is under way.
    public let canary: Canary?
    /// When the canary got its current percent.
    public let canarySince: String?
    /// When the channel expires (Unix seconds); nil: never.
    public let expires: Int64?

    /// Every release the channel serves.
    public var releases: [String] { [release] + (canary.map { [$0.release] } ?? []) }
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

    /// Every channel and the release it points at, by name; expired and deleted channels are gone.
    public func all() throws -> [ChannelState] {
        var states: [ChannelState] = []
        for name in try store.backend.pointers(.releases).names().sorted() {
            let pointer = Pointer(validated: name, family: .releases, in: store)
            guard let value = try pointer.readValue() else { continue }
            let history = try pointer.history()
            let since = history.last { $0.to == value.id && $0.action != .canary && $0.action != .abort }?.time
            let canarySince = value.canary.flatMap { canary in
                history.last { $0.action == .canary && $0.to == canary.release && $0.percent == canary.percent }?.time
            }
            states.append(ChannelState(name: name, release: value.id, since: since, canary: value.canary, canarySince: canarySince,
                                       expires: value.expires))
        }
        return states
    }

    public func history(_ channel: String) throws -> [HistoryEntry] {
        try pointer(for: channel).history()
    }

    /// Points `channel` at `release`, for everyone: a canary under way ends. With `expected`, a
    /// compare-and-swap: refuses unless the channel points at `expected` now (`.some(nil)`: unless
    /// it points nowhere yet); during a canary, `expected` is its stable release.
    ///
    /// `expires` (Unix seconds) makes the channel a preview that disappears then; `.some(nil)`
    /// makes it permanent again; nil keeps what it had.
    public func activate(_ release: String, channel: String, expected: String?? = nil, expires: Int64?? = nil) throws -> FlipResult {
        var checked = Set<String>()
        if let expires = expires ?? nil, expires <= PointerValue.now() {
            throw StrataError(.invalidInput, "the expiry \(Timestamp.of(seconds: expires)) has passed already; give a time to come")
        }
        return try pointer(for: channel).flip(action: .activate, expiry: expires) { current in
            try requireRelease(release, checked: &checked)
            try Self.require(current, is: expected, channel: channel)
            return release
        }
    }

    /// Serves `release` to `percent` of the channel's visitors and its current release to the rest;
    /// run again with another percent to widen or narrow. The channel must have a release, and
    /// `release` must differ from it. `expected` as for `activate` (the stable release).
    public func startCanary(_ release: String, percent: Int, channel: String, expected: String?? = nil) throws -> FlipResult {
        guard Canary.percents.contains(percent) else {
            throw StrataError(.invalidInput, "--canary must be a percent from 1 to 99, not \(percent); 'strata activate' without it sends everyone")
        }
        var checked = Set<String>()
        return try pointer(for: channel).move { current in
            try requireRelease(release, checked: &checked)
            guard let current else {
                throw StrataError(.notFound, "channel '\(channel)' has never been activated; a canary needs a stable release beside it")
            }
            try Self.require(current.id, is: expected, channel: channel)
            guard current.id != release else {
                throw StrataError(.invalidInput, "channel '\(channel)' already serves \(release) to everyone; a canary needs another release")
            }
            if let other = current.canary, other.release != release {
                throw StrataError(.conflict, "channel '\(channel)' has a canary of \(other.release) at \(other.percent)%; end it first ('strata rollback' or 'strata activate')")
            }
            return Pointer.Move(PointerValue(current.id, canary: Canary(release: release, percent: percent)), action: .canary)
        }
    }

    /// Ends the channel's canary with everyone on its stable release. `expected`, when given, must
    /// be the value the pointer holds now (how a rollout refuses to undo someone else's flip).
    public func abortCanary(channel: String, reason: String, expected: PointerValue? = nil) throws -> FlipResult {
        try pointer(for: channel).move { current in
            if let expected, current != expected {
                throw StrataError(.conflict, "channel '\(channel)' was moved by someone else (it serves \(current.map(Self.describe) ?? "nothing"), not \(Self.describe(expected))); nothing changed")
            }
            guard let current, current.canary != nil else {
                throw StrataError(.notFound, "channel '\(channel)' has no canary to abort")
            }
            return Pointer.Move(PointerValue(current.id), action: .abort, reason: reason)
        }
    }

    /// `3f2a…`, or `3f2a… with canary 9c8d… at 10%`.
    public static func describe(_ value: PointerValue) -> String {
        value.id + (value.canary.map { " with canary \($0.release) at \($0.percent)%" } ?? "")
    }

    private static func require(_ current: String?, is expected: String??, channel: String) throws {
        if let expected, current != expected {
            throw StrataError(.conflict, "channel '\(channel)' points at \(current ?? "nothing"), not \(expected ?? "nothing") as expected; nothing changed")
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
    /// `target`. Releases pruned since are skipped. During a canary (and without `target`), ends
    /// it: everyone goes back to the stable release, recorded as an `abort`.
    public func rollback(channel: String, to target: String? = nil) throws -> FlipResult {
        let pointer = try pointer(for: channel)
        let catalog = ReleaseCatalog(store)
        var skipped: [String] = []
        var checked = Set<String>()
        let flip = try pointer.move { current in
            guard let current else {
                throw StrataError(.notFound, "channel '\(channel)' has never been activated; nothing to roll back")
            }
            if let target {
                try requireRelease(target, checked: &checked)
                guard target != current.id || current.canary != nil else {
                    throw StrataError(.invalidInput, "channel '\(channel)' already serves \(target)")
                }
                return Pointer.Move(PointerValue(target), action: .rollback)
            }
            if current.canary != nil {
                return Pointer.Move(PointerValue(current.id), action: .abort, reason: "rolled back by \(ProcessIdentity.actor())")
            }
            let plan = try pointer.rollbackPlan(isAvailable: catalog.contains)
            skipped = plan.skipped
            return Pointer.Move(PointerValue(plan.target), action: .rollback)
        }
        return flip.skipping(skipped)
    }

    /// Sets the channel to exactly `value` (how a serve node copies what its bucket says into its
    /// cache), expiry included: recorded as the flip it amounts to.
    public func adopt(_ value: PointerValue, channel: String) throws -> FlipResult {
        try pointer(for: channel).move { current in
            if value.isExpired() { return Pointer.Move(value, action: .delete, setsExpiry: true) }
            if value.canary != nil { return Pointer.Move(value, action: .canary, setsExpiry: true) }
            if current?.canary != nil && current?.id == value.id {
                return Pointer.Move(value, action: .abort, reason: "ended upstream", setsExpiry: true)
            }
            return Pointer.Move(value, action: .activate, setsExpiry: true)
        }
    }

    /// Ends a channel now: it is no longer served, listed or kept by prune. Its pointer stays, saying
    /// it expired, so its history is kept (in a bucket the history lives in the pointer object);
    /// activating the name again starts it afresh.
    public func delete(channel: String) throws -> FlipResult {
        try pointer(for: channel).move { current in
            guard let current else { throw StrataError(.notFound, "no channel '\(channel)'; run 'strata channels'") }
            return Pointer.Move(PointerValue(current.id, expires: PointerValue.now()), action: .delete, setsExpiry: true)
        }
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

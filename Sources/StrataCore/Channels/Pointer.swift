/// What a flip did.
public struct FlipResult: Sendable, Equatable, Encodable {
    public let channel: String
    public let from: String?
    public let to: String
    /// False when the channel already pointed at `to`: nothing was written.
    public let changed: Bool
    /// Releases a rollback passed over because they were pruned.
    public let skipped: [String]
    /// What the flip was (`activate`, `canary`, `abort`, …), as its history entry says.
    public let action: HistoryEntry.Action
    /// The canary the channel has after the flip; nil when everyone gets `to` (or, for a canary
    /// flip, its stable release `from`).
    public let canary: Canary?
    /// When the channel expires after the flip (Unix seconds); nil: never.
    public let expires: Int64?

    init(channel: String, from: String?, to: String, changed: Bool, skipped: [String] = [], action: HistoryEntry.Action,
         canary: Canary? = nil, expires: Int64? = nil) {
        self.channel = channel
        self.from = from
        self.to = to
        self.changed = changed
        self.skipped = skipped
        self.action = action
        self.canary = canary
        self.expires = expires
    }

    func skipping(_ skipped: [String]) -> FlipResult {
        FlipResult(channel: channel, from: from, to: to, changed: changed, skipped: skipped, action: action, canary: canary, expires: expires)
    }

    private enum CodingKeys: String, CodingKey {
        case channel, from, to, changed, skipped, action, canary, expires
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(channel, forKey: .channel)
        try container.encodeIfPresent(from, forKey: .from)
        try container.encode(to, forKey: .to)
        try container.encode(changed, forKey: .changed)
        try container.encode(skipped, forKey: .skipped)
        try container.encode(action, forKey: .action)
        try container.encodeIfPresent(canary, forKey: .canary)
        try container.encodeIfPresent(expires.map { Timestamp.of(seconds: $0) }, forKey: .expires)
    }
}

/// One named pointer with its history: a channel's release, or a channel's runtime config.
///
/// The pointer holds a `PointerValue` (`<id>\n`, and a canary line during a rollout); it is read without a lock, and moved only by a compare-and-swap that
/// records one history entry with it (under the store's write lock where the store has one). Release channels (`Channels`),
/// config channels (`ChannelConfigs`) and the server's watchers all go through this type.
public struct Pointer: Sendable {
    public let channel: String
    public let family: PointerFamily
    let store: Store
    private let storage: any PointerStorage
    /// Prepared once: watchers ask for the stamps on every request.
    private let readStamp: @Sendable () -> PointerStamp?
    private let readHistoryStamp: @Sendable () -> PointerStamp?

    /// The pointer of `channel` in `family`; the name is validated.
    public init(_ channel: String, family: PointerFamily, in store: Store) throws {
        try Names.validateChannel(channel)
        self.init(validated: channel, family: family, in: store)
    }

    init(validated channel: String, family: PointerFamily, in store: Store) {
        self.channel = channel
        self.family = family
        self.store = store
        storage = store.backend.pointers(family)
        readStamp = storage.stamper(channel)
        readHistoryStamp = storage.historyStamper(channel)
    }

    /// A value with the stamp it was read at, for watchers that re-read only after a change.
    public struct Stamped: Sendable, Equatable {
        public let pointer: PointerValue
        public let stamp: PointerStamp
        /// The id everyone (but a canary's share) gets.
        public var value: String { pointer.id }
    }

    /// The id the pointer names (a canary's stable release); nil when it was never set, or the
    /// channel expired.
    public func read() throws -> String? {
        try readValue()?.id
    }

    /// The whole value, canary included; nil when it was never set, or the channel expired.
    public func readValue() throws -> PointerValue? {
        try stampedRead()?.pointer.unlessExpired()
    }

    /// What the pointer holds, expired or not, with its stamp (for watchers, which check the
    /// expiry themselves as time passes, and for a serve node, which copies the value whole).
    public func stampedRead() throws -> Stamped? {
        guard let (bytes, stamp) = try storage.read(channel) else { return nil }
        return Stamped(pointer: try parse(bytes), stamp: stamp)
    }

    /// The pointer's bytes as a value, exactly as `PointerValue.bytes` writes them (a pointer read
    /// from a bucket is untrusted input).
    private func parse(_ bytes: [UInt8]) throws -> PointerValue {
        guard let value = PointerValue.parse(bytes, allowsCanary: family == .releases) else {
            switch family {
            case .releases: throw StrataError(.corrupt, "pointer of channel '\(channel)' in \(store.location) does not hold a release id")
            case .configs: throw StrataError(.corrupt, "config pointer of channel '\(channel)' in \(store.location) does not hold a version id")
            }
        }
        return value
    }

    /// The pointer's current stamp, cheaply; nil when it does not exist.
    public func stamp() -> PointerStamp? {
        readStamp()
    }

    /// What changed since `known` (see `PointerStorage.readIfChanged`), the value checked like `read`.
    public func readIfChanged(since known: PointerStamp?) throws -> Change {
        switch try storage.readIfChanged(channel, from: known) {
        case .unchanged: return .unchanged
        case .absent: return .absent
        case .changed(let bytes, let stamp): return .changed(Stamped(pointer: try parse(bytes), stamp: stamp))
        }
    }

    public enum Change: Sendable, Equatable {
        case unchanged
        case absent
        case changed(Stamped)
    }

    /// Every flip, oldest first. A line torn by a crash mid-append is skipped rather than blocking rollbacks.
    public func history() throws -> [HistoryEntry] {
        guard let bytes = try storage.history(channel) else { return [] }
        return HistoryEntry.decodeLines(bytes)
    }

    /// The history's current stamp, cheaply.
    public func historyStamp() -> PointerStamp? {
        readHistoryStamp()
    }

    /// One decided flip: the value to write and how the history names it.
    public struct Move: Sendable {
        public let value: PointerValue
        public let action: HistoryEntry.Action
        /// Why, for an `abort`: what the health check saw.
        public let reason: String?
        /// Whether the move sets the channel's expiry (to `value.expires`) or keeps the one it has.
        public let setsExpiry: Bool

        public init(_ value: PointerValue, action: HistoryEntry.Action, reason: String? = nil, setsExpiry: Bool = false) {
            self.value = value
            self.action = action
            self.reason = reason
            self.setsExpiry = setsExpiry
        }

        /// The value to write over `current` (the live value, nil for none or expired).
        func value(over current: PointerValue?) -> PointerValue {
            setsExpiry ? value : value.expiring(current?.expires)
        }
    }

    /// Moves the pointer to one id (ending any canary): see `move`. `expiry`: nil keeps the
    /// channel's, `.some(nil)` clears it, `.some(t)` sets it.
    public func flip(action: HistoryEntry.Action, source: String? = nil, expiry: Int64?? = nil, to decide: (_ current: String?) throws -> String,
                     prepare: (_ target: String) throws -> Void = { _ in }) throws -> FlipResult {
        try move(source: source) { current in
            Move(PointerValue(try decide(current?.id), expires: expiry ?? nil), action: action, setsExpiry: expiry != nil)
        } prepare: { try prepare($0.id) }
    }

    /// Moves the pointer: a compare-and-swap that then logs the flip. `decide` sees the current value
    /// (nil for none, or an expired channel) and returns the new one, or throws to refuse; it runs
    /// before the lock is taken (so a refusal neither waits for nor touches the lock) and again
    /// under it, where its answer counts. `prepare` runs under the lock just before the pointer
    /// moves (to store what the new value names).
    public func move(source: String? = nil, to decide: (_ current: PointerValue?) throws -> Move,
                     prepare: (_ target: PointerValue) throws -> Void = { _ in }) throws -> FlipResult {
        _ = try decide(try readValue())
        return try store.withWriteLock {
            // Locally the lock makes the first attempt succeed. An object store has no lock: another
            // writer's flip between our read and our write fails the conditional write, and we read
            // again and decide again (where an `--expect` refuses).
            for _ in 0..<Self.attempts {
                let stored = try stampedRead()
                let current = stored?.pointer.unlessExpired()
                let move = try decide(current)
                let value = move.value(over: current)
                var entry = HistoryEntry(move, from: current, time: Timestamp.now(), by: ProcessIdentity.actor(), source: source)
                if move.setsExpiry { entry.expires = value.expires.map { Timestamp.of(seconds: $0) } }
                let result = FlipResult(channel: channel, from: entry.from, to: entry.to, changed: stored?.pointer != value,
                                        action: move.action, canary: value.canary, expires: value.expires)
                guard result.changed else { return result }
                try prepare(value)
                if try storage.replace(channel, with: value.bytes, logging: entry.encodedLine(), ifStamp: stored?.stamp) {
                    return result
                }
            }
            throw StrataError(.conflict, "channel '\(channel)' kept moving while flipping; nothing changed, try again")
        }
    }

    /// Reads and decisions before a flip gives up on a pointer that keeps moving.
    static let attempts = 20

    /// Where a rollback goes.
    public struct RollbackPlan: Sendable, Equatable {
        public let current: String
        public let target: String
        /// Earlier values passed over because `isAvailable` said they are gone.
        public let skipped: [String]
    }

    /// The value that was live before the current one, by history (an activation pushes its value, a
    /// rollback pops back to its target), skipping values for which `isAvailable` is false.
    public func rollbackPlan(isAvailable: (String) throws -> Bool = { _ in true }) throws -> RollbackPlan {
        let noun = family == .releases ? "release" : "config"
        guard let current = try read() else {
            switch family {
            case .releases: throw StrataError(.notFound, "channel '\(channel)' has never been activated; nothing to roll back")
            case .configs: throw StrataError(.notFound, "channel '\(channel)' has no config; nothing to roll back")
            }
        }
        let stack = HistoryEntry.liveStack(try history(), current: current)
        var skipped: [String] = []
        for candidate in stack.dropLast().reversed() where candidate != current {
            if try isAvailable(candidate) { return RollbackPlan(current: current, target: candidate, skipped: skipped) }
            skipped.append(candidate)
        }
        throw StrataError(.notFound, "channel '\(channel)' has no earlier \(noun) to roll back to")
    }
}

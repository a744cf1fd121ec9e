#if canImport(Glibc)
import Glibc
#endif

/// What a flip did.
public struct FlipResult: Sendable, Equatable {
    public let channel: String
    public let from: String?
    public let to: String
    /// False when the channel already pointed at `to`: nothing was written.
    public let changed: Bool
    /// Releases a rollback passed over because they were pruned.
    public let skipped: [String]
}

/// One channel as `status` shows it.
public struct ChannelState: Sendable, Equatable {
    public let name: String
    public let release: String
    /// When the channel last went to this release, from its history (nil if the log lacks it).
    public let since: String?
}

/// Channels: named pointers to releases, their flips, and their histories.
///
/// A pointer file holds `<id>\n` and is only ever replaced whole (temporary file, fsync, rename,
/// fsync folder), so a reader sees the old id or the new one. Each flip then appends to the
/// channel's history. Flips happen under the store lock; reading a pointer needs no lock.
public struct Channels: Sendable {
    public let store: Store
    public var lockTimeout: Double

    public init(store: Store, lockTimeout: Double = StoreLock.defaultTimeout) {
        self.store = store
        self.lockTimeout = lockTimeout
    }

    private var layout: StoreLayout { store.layout }
    private var history: ChannelHistory { ChannelHistory(layout: layout) }

    /// The release a channel points at; nil when the channel has never been activated.
    public func pointer(_ channel: String) throws -> String? {
        try Names.validateChannel(channel)
        return try Self.readPointer(layout.channel(channel), channel: channel)
    }

    static func readPointer(_ path: String, channel: String) throws -> String? {
        guard let bytes = try FileSystem.readFile(path) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self).trimmingWhitespace()
        guard Fingerprint.isReleaseID(text) else {
            throw StrataError(.corrupt, "pointer file for channel '\(channel)' does not hold a release id")
        }
        return text
    }

    /// Every channel and the release it points at, by name.
    public func all() throws -> [ChannelState] {
        var states: [ChannelState] = []
        for name in try FileSystem.entries(layout.channels).sorted() where !name.hasPrefix(".") {
            guard let id = try Self.readPointer(layout.channel(name), channel: name) else { continue }
            let since = try history.entries(name).last { $0.to == id }?.time
            states.append(ChannelState(name: name, release: id, since: since))
        }
        return states
    }

    public func history(_ channel: String) throws -> [HistoryEntry] {
        try Names.validateChannel(channel)
        return try history.entries(channel)
    }

    /// Points `channel` at `release`. With `expected`, a compare-and-swap: refuses unless the channel
    /// points at `expected` now (`.some(nil)`: unless it points nowhere yet).
    public func activate(_ release: String, channel: String, expected: String?? = nil) throws -> FlipResult {
        try Names.validateChannel(channel)
        // Checked before taking the lock too, so a refusal neither waits for nor touches the lock.
        func check() throws -> String? {
            try requireRelease(release)
            let current = try Self.readPointer(layout.channel(channel), channel: channel)
            if let expected, current != expected {
                let actual = current ?? "nothing"
                let wanted = expected ?? "nothing"
                throw StrataError(.conflict, "channel '\(channel)' points at \(actual), not \(wanted) as expected; nothing changed")
            }
            return current
        }
        _ = try check()
        return try store.withWriteLock(timeoutSeconds: lockTimeout) { _ in
            try flip(channel, from: try check(), to: release, action: .activate, skipped: [])
        }
    }

    /// Points channel `target` at the release channel `source` serves: a compare-and-swap on both
    /// pointers. Refused if either moved between the read and the flip, or differs from what the
    /// caller expects (`expectedSource`, `expectedTarget`; `.some(nil)`: points nowhere yet).
    public func promote(from source: String, to target: String, expectedSource: String? = nil,
                        expectedTarget: String?? = nil) throws -> FlipResult {
        try Names.validateChannel(source)
        try Names.validateChannel(target)
        guard source != target else {
            throw StrataError(.invalidInput, "cannot promote channel '\(source)' to itself")
        }
        func read() throws -> (release: String, current: String?) {
            guard let release = try Self.readPointer(layout.channel(source), channel: source) else {
                throw StrataError(.notFound, "channel '\(source)' has never been activated; nothing to promote")
            }
            if let expectedSource, release != expectedSource {
                throw StrataError(.conflict, "channel '\(source)' serves \(release), not \(expectedSource) as expected; nothing changed")
            }
            try requireRelease(release)
            let current = try Self.readPointer(layout.channel(target), channel: target)
            if let expectedTarget, current != expectedTarget {
                throw StrataError(.conflict, "channel '\(target)' points at \(current ?? "nothing"), not \(expectedTarget ?? "nothing") as expected; nothing changed")
            }
            return (release, current)
        }
        let seen = try read()
        return try store.withWriteLock(timeoutSeconds: lockTimeout) { _ in
            let now = try read()
            guard now == seen else {
                throw StrataError(.conflict, "channel '\(source)' or '\(target)' moved while promoting; nothing changed, try again")
            }
            return try flip(target, from: now.current, to: now.release, action: .promote, skipped: [], source: source)
        }
    }

    /// Points `channel` back at the release that was live before the current one (by history), or at
    /// `target`. Releases pruned since are skipped.
    public func rollback(channel: String, to target: String? = nil) throws -> FlipResult {
        try Names.validateChannel(channel)
        // Planned before taking the lock too, so a refusal neither waits for nor touches the lock.
        _ = try planRollback(channel, to: target)
        return try store.withWriteLock(timeoutSeconds: lockTimeout) { _ in
            let plan = try planRollback(channel, to: target)
            return try flip(channel, from: plan.current, to: plan.target, action: .rollback, skipped: plan.skipped)
        }
    }

    private func planRollback(_ channel: String, to target: String?) throws -> (current: String, target: String, skipped: [String]) {
        guard let current = try Self.readPointer(layout.channel(channel), channel: channel) else {
            throw StrataError(.notFound, "channel '\(channel)' has never been activated; nothing to roll back")
        }
        if let target {
            try requireRelease(target)
            guard target != current else {
                throw StrataError(.invalidInput, "channel '\(channel)' already serves \(target)")
            }
            return (current, target, [])
        }
        let stack = ChannelHistory.liveStack(try history.entries(channel), current: current)
        var skipped: [String] = []
        for candidate in stack.dropLast().reversed() where candidate != current {
            if ReleaseCatalog(store).contains(candidate) { return (current, candidate, skipped) }
            skipped.append(candidate)
        }
        throw StrataError(.notFound, "channel '\(channel)' has no earlier release to roll back to")
    }

    private func requireRelease(_ id: String) throws {
        guard ReleaseCatalog(store).contains(id) else {
            throw StrataError(.notFound, "release \(id) not found; run 'strata releases'")
        }
    }

    /// Replaces the pointer, then logs the flip. Call with the store lock held.
    private func flip(_ channel: String, from current: String?, to release: String, action: HistoryEntry.Action,
                      skipped: [String], source: String? = nil) throws -> FlipResult {
        guard current != release else {
            return FlipResult(channel: channel, from: current, to: release, changed: false, skipped: skipped)
        }
        try FileSystem.replaceAtomically(layout.channel(channel), with: Array((release + "\n").utf8))
        let entry = HistoryEntry(time: Timestamp.now(), action: action, from: current, to: release, by: Self.actor(), source: source)
        try history.append(entry, to: channel)
        return FlipResult(channel: channel, from: current, to: release, changed: true, skipped: skipped)
    }

    /// `user@host`, for the history log.
    static func actor() -> String {
        let user = getenv("USER").map { String(cString: $0) } ?? getpwuid(geteuid()).map { String(cString: $0.pointee.pw_name) } ?? "uid \(geteuid())"
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        return user + "@" + String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

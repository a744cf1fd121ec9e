import Crypto
import Foundation

/// One immutable version of a channel's runtime config: string keys to string values.
public struct ConfigVersion: Sendable, Equatable {
    /// First 16 hex digits of the SHA-256 of `bytes`; the version's file name.
    public let id: String
    public let values: [String: String]
    /// The canonical JSON (keys sorted, no whitespace) the server sends as `/_strata/config.json`.
    public let bytes: [UInt8]

    public static let empty = ConfigVersion(values: [:])

    public init(values: [String: String]) {
        self.values = values
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        bytes = Array((try? encoder.encode(values)) ?? Data("{}".utf8))
        id = String(Hashing.hex(SHA256.hash(data: bytes)).prefix(Fingerprint.idLength))
    }

    static func decode(_ bytes: [UInt8], id: String) throws -> ConfigVersion {
        guard let values = try? JSONDecoder().decode([String: String].self, from: Data(bytes)) else {
            throw StrataError(.corrupt, "config version \(id) cannot be read")
        }
        let version = ConfigVersion(values: values)
        guard version.id == id else {
            throw StrataError(.corrupt, "config version \(id) does not match its content (\(version.id)); it was edited")
        }
        return version
    }
}

/// Per-channel runtime config: a release is a build plus a channel's settings.
///
/// Versions are content-addressed and written once (`configs/versions/<id>.json`); each channel's
/// current version is a pointer file with its own history, replaced atomically like a release
/// pointer, so `rollback` of the config moves nothing else.
public struct ChannelConfigs: Sendable {
    public let store: Store
    public var lockTimeout: Double

    public init(store: Store, lockTimeout: Double = StoreLock.defaultTimeout) {
        self.store = store
        self.lockTimeout = lockTimeout
    }

    private var layout: StoreLayout { store.layout }
    private var history: ChannelHistory {
        let layout = self.layout
        return ChannelHistory(location: { layout.configHistory($0) })
    }

    /// The channel's current config; nil when it has never been set.
    public func current(_ channel: String) throws -> ConfigVersion? {
        try Names.validateChannel(channel)
        guard let id = try pointer(channel) else { return nil }
        return try version(id)
    }

    public func version(_ id: String) throws -> ConfigVersion {
        guard Fingerprint.isReleaseID(id), let bytes = try FileSystem.readFile(layout.configVersion(id)) else {
            throw StrataError(.notFound, "config version \(id) not found")
        }
        return try ConfigVersion.decode(bytes, id: id)
    }

    public func history(_ channel: String) throws -> [HistoryEntry] {
        try Names.validateChannel(channel)
        return try history.entries(channel)
    }

    /// Sets keys (adding or replacing); the result is a new version and the channel points at it.
    public func set(_ assignments: [String: String], channel: String) throws -> FlipResult {
        try Names.validateChannel(channel)
        guard !assignments.isEmpty else { throw StrataError(.invalidInput, "config set needs at least one KEY=value") }
        for key in assignments.keys { try Self.validateKey(key) }
        return try change(channel, action: .set) { values in values.merge(assignments) { _, new in new } }
    }

    /// Removes keys; each must be set now.
    public func unset(_ keys: [String], channel: String) throws -> FlipResult {
        try Names.validateChannel(channel)
        guard !keys.isEmpty else { throw StrataError(.invalidInput, "config unset needs at least one KEY") }
        return try change(channel, action: .unset) { values in
            for key in keys {
                guard values.removeValue(forKey: key) != nil else {
                    throw StrataError(.notFound, "channel '\(channel)' has no config key '\(Escaped.path(key))'")
                }
            }
        }
    }

    /// Points the channel's config back at the version before the current one, by its history.
    public func rollback(channel: String) throws -> FlipResult {
        try Names.validateChannel(channel)
        func plan() throws -> (current: String, target: String) {
            guard let current = try pointer(channel) else {
                throw StrataError(.notFound, "channel '\(channel)' has no config; nothing to roll back")
            }
            let stack = ChannelHistory.liveStack(try history.entries(channel), current: current)
            guard let target = stack.dropLast().last(where: { $0 != current }) else {
                throw StrataError(.notFound, "channel '\(channel)' has no earlier config to roll back to")
            }
            return (current, target)
        }
        _ = try plan()
        return try store.withWriteLock(timeoutSeconds: lockTimeout) { _ in
            let (current, target) = try plan()
            _ = try version(target)  // refuse a damaged target before moving the pointer
            return try flip(channel, from: current, to: target, action: .rollback)
        }
    }

    /// Env-var style keys, so a build can read them as identifiers.
    static func validateKey(_ key: String) throws {
        let bytes = Array(key.utf8)
        func isLetter(_ b: UInt8) -> Bool { (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == UInt8(ascii: "_") }
        guard let first = bytes.first, isLetter(first), bytes.count <= 128,
              bytes.allSatisfy({ isLetter($0) || ($0 >= 0x30 && $0 <= 0x39) }) else {
            throw StrataError(.invalidInput, "config key '\(Escaped.path(key))' is not allowed; use letters, digits and _ (not first a digit), up to 128")
        }
    }

    private func pointer(_ channel: String) throws -> String? {
        guard let bytes = try FileSystem.readFile(layout.configPointer(channel)) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self).trimmingWhitespace()
        guard Fingerprint.isReleaseID(text) else {
            throw StrataError(.corrupt, "config pointer of channel '\(channel)' does not hold a version id")
        }
        return text
    }

    private func change(_ channel: String, action: HistoryEntry.Action,
                        _ edit: (inout [String: String]) throws -> Void) throws -> FlipResult {
        func next() throws -> (current: String?, version: ConfigVersion) {
            let current = try pointer(channel)
            var values = try current.map { try version($0).values } ?? [:]
            try edit(&values)
            return (current, ConfigVersion(values: values))
        }
        _ = try next()  // a refusal (unknown key) neither waits for nor touches the lock
        return try store.withWriteLock(timeoutSeconds: lockTimeout) { _ in
            let (current, version) = try next()
            try FileSystem.makeDirectory(layout.configs)
            for folder in [layout.configVersions, layout.configChannels, layout.configHistories] {
                try FileSystem.makeDirectory(folder)
            }
            if !FileSystem.exists(layout.configVersion(version.id)) {
                try FileSystem.replaceAtomically(layout.configVersion(version.id), with: version.bytes, mode: 0o444)
            }
            return try flip(channel, from: current, to: version.id, action: action)
        }
    }

    /// Replaces the pointer, then logs the change. Call with the store lock held.
    private func flip(_ channel: String, from current: String?, to id: String, action: HistoryEntry.Action) throws -> FlipResult {
        guard current != id else {
            return FlipResult(channel: channel, from: current, to: id, changed: false, skipped: [])
        }
        try FileSystem.replaceAtomically(layout.configPointer(channel), with: Array((id + "\n").utf8))
        try history.append(HistoryEntry(time: Timestamp.now(), action: action, from: current, to: id, by: Channels.actor()), to: channel)
        return FlipResult(channel: channel, from: current, to: id, changed: true, skipped: [])
    }
}

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
        for key in values.keys where (try? ChannelConfigs.validateKey(key)) == nil {
            throw StrataError(.corrupt, "config version \(id) has a key '\(Escaped.path(key))' that is not a config name")
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
/// Versions are content-addressed and written once; each channel's current version is a `Pointer`
/// of the `.configs` family with its own history, so `rollback` of the config moves nothing else.
public struct ChannelConfigs: Sendable {
    public let store: Store

    public init(store: Store) {
        self.store = store
    }

    /// The config pointer of one channel; the name is validated.
    public func pointer(for channel: String) throws -> Pointer {
        try Pointer(channel, family: .configs, in: store)
    }

    /// The channel's current config; nil when it has never been set.
    public func current(_ channel: String) throws -> ConfigVersion? {
        guard let id = try pointer(for: channel).read() else { return nil }
        return try version(id)
    }

    public func version(_ id: String) throws -> ConfigVersion {
        guard let bytes = try store.backend.configVersionBytes(id) else {
            throw StrataError(.notFound, "config version \(id) not found")
        }
        return try ConfigVersion.decode(bytes, id: id)
    }

    public func history(_ channel: String) throws -> [HistoryEntry] {
        try pointer(for: channel).history()
    }

    /// Sets keys (adding or replacing); the result is a new version and the channel points at it.
    public func set(_ assignments: [String: String], channel: String) throws -> FlipResult {
        let pointer = try pointer(for: channel)
        guard !assignments.isEmpty else { throw StrataError(.invalidInput, "config set needs at least one KEY=value") }
        for key in assignments.keys { try Self.validateKey(key) }
        return try change(pointer, action: .set) { values in values.merge(assignments) { _, new in new } }
    }

    /// Removes keys; each must be set now.
    public func unset(_ keys: [String], channel: String) throws -> FlipResult {
        let pointer = try pointer(for: channel)
        guard !keys.isEmpty else { throw StrataError(.invalidInput, "config unset needs at least one KEY") }
        return try change(pointer, action: .unset) { values in
            for key in keys {
                guard values.removeValue(forKey: key) != nil else {
                    throw StrataError(.notFound, "channel '\(channel)' has no config key '\(Escaped.path(key))'")
                }
            }
        }
    }

    /// Points the channel's config back at the version before the current one, by its history.
    public func rollback(channel: String) throws -> FlipResult {
        let pointer = try pointer(for: channel)
        return try pointer.flip(action: .rollback) { _ in
            let target = try pointer.rollbackPlan().target
            _ = try version(target)  // refuse a damaged target before moving the pointer
            return target
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

    /// Points the channel's config at `version`, stored first: how a serve node copies the config
    /// its bucket holds into its cache. Nothing is written when the channel has it already.
    public func adopt(_ version: ConfigVersion, channel: String) throws -> FlipResult {
        try pointer(for: channel).flip(action: .set) { _ in version.id } prepare: { id in
            try store.backend.storeConfigVersion(id, bytes: version.bytes)
        }
    }

    /// A new version made from the current one by `edit`, stored once, then pointed at.
    private func change(_ pointer: Pointer, action: HistoryEntry.Action, _ edit: (inout [String: String]) throws -> Void) throws -> FlipResult {
        var versions: [String: ConfigVersion] = [:]
        return try pointer.flip(action: action) { current in
            var values = try current.map { try version($0).values } ?? [:]
            try edit(&values)
            let next = ConfigVersion(values: values)
            versions[next.id] = next
            return next.id
        } prepare: { id in
            try store.backend.storeConfigVersion(id, bytes: versions[id]!.bytes)
        }
    }
}

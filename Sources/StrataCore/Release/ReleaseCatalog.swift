import Foundation

/// The releases in a store: listing them and turning what a user typed into an id.
public struct ReleaseCatalog: Sendable {
    public let layout: StoreLayout

    public init(_ store: Store) {
        layout = store.layout
    }

    /// Ids of the releases present, in no particular order.
    public func ids() throws -> [String] {
        try FileSystem.entries(layout.releases).filter(Fingerprint.isReleaseID)
    }

    public func contains(_ id: String) -> Bool {
        Fingerprint.isReleaseID(id) && FileSystem.exists(layout.manifest(id))
    }

    public func manifest(_ id: String) throws -> Manifest {
        guard contains(id) else { throw StrataError(.notFound, "release \(id) not found; run 'strata releases'") }
        return try Manifest.load(layout.manifest(id))
    }

    /// Every release, oldest first (by publish time, then id).
    public func summaries() throws -> [ReleaseSummary] {
        var result: [ReleaseSummary] = []
        for id in try ids() {
            // A release pruned while we list is simply gone.
            guard let bytes = try FileSystem.readFile(layout.manifest(id)) else { continue }
            result.append(try decodeSummary(bytes, id: id))
        }
        return result.sorted { ($0.created, $0.id) < ($1.created, $1.id) }
    }

    /// Decodes only the release-level fields: building every file entry of a large manifest would
    /// make each lookup by label cost milliseconds per release.
    private func decodeSummary(_ bytes: [UInt8], id: String) throws -> ReleaseSummary {
        do {
            return try JSONDecoder().decode(ReleaseSummary.self, from: Data(bytes))
        } catch {
            throw StrataError(.corrupt, "manifest '\(layout.manifest(id))' cannot be read: \(error)")
        }
    }

    /// Resolves a full id, a unique prefix of 4 or more hex digits, or a label.
    public func resolve(_ reference: String) throws -> String {
        let wanted = reference.lowercased()
        if contains(wanted) { return wanted }
        let isPrefix = wanted.utf8.count >= 4 && wanted.utf8.count <= Fingerprint.idLength && Fingerprint.isLowercaseHex(wanted)
        var matches = Set<String>()
        if isPrefix {
            matches.formUnion(try ids().filter { $0.hasPrefix(wanted) })
        }
        for summary in try summaries() where summary.label == reference {
            matches.insert(summary.id)
        }
        switch matches.count {
        case 1:
            return matches.first!
        case 0:
            if Fingerprint.isLowercaseHex(wanted) && wanted.utf8.count < 4 {
                throw StrataError(.invalidInput, "'\(reference)' is too short; give at least 4 hex digits of a release id")
            }
            throw StrataError(.notFound, "release '\(Escaped.path(reference))' not found; run 'strata releases'")
        default:
            let list = matches.sorted().joined(separator: ", ")
            throw StrataError(.ambiguous, "'\(Escaped.path(reference))' matches \(matches.count) releases (\(list)); give more digits")
        }
    }

    /// The release carrying `label`, if any.
    public func release(labelled label: String) throws -> String? {
        try summaries().first { $0.label == label }?.id
    }
}

/// Rules for user-chosen names (labels, channels): short, printable, safe in a path and a URL.
public enum Names {
    public static func validateLabel(_ label: String) throws {
        guard isSafe(label, maxLength: 128) else {
            throw StrataError(.invalidInput, "label '\(Escaped.path(label))' is not allowed; use 1-128 of A-Z a-z 0-9 . _ - + starting with a letter or digit")
        }
    }

    public static func validateChannel(_ name: String) throws {
        guard isSafe(name, maxLength: 64) else {
            throw StrataError(.invalidInput, "channel name '\(Escaped.path(name))' is not allowed; use 1-64 of A-Z a-z 0-9 . _ - starting with a letter or digit")
        }
        guard !name.contains("+") else {
            throw StrataError(.invalidInput, "channel name '\(Escaped.path(name))' is not allowed; '+' is reserved")
        }
    }

    private static func isSafe(_ text: String, maxLength: Int) -> Bool {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, bytes.count <= maxLength else { return false }
        func isAlphanumeric(_ byte: UInt8) -> Bool {
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
        }
        guard isAlphanumeric(first) else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "+") }
    }
}

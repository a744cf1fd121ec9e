import Foundation

/// The releases in a store: listing them and turning what a user typed into an id.
public struct ReleaseCatalog: Sendable {
    public let store: Store

    public init(_ store: Store) {
        self.store = store
    }

    /// Ids of the releases present, in no particular order.
    public func ids() throws -> [String] {
        try store.backend.releaseIDs()
    }

    public func contains(_ id: String) throws -> Bool {
        try store.backend.containsRelease(id)
    }

    /// Release `id`'s manifest, checked against `ManifestRules` (paths, order, digests, the
    /// fingerprint recomputed, the id): whatever a store holds is read as untrusted input.
    public func manifest(_ id: String) throws -> Manifest {
        guard let bytes = try store.backend.manifestBytes(of: id) else {
            throw StrataError(.notFound, "release \(id) not found; run 'strata releases'")
        }
        let manifest = try Manifest.decode(bytes, path: manifestName(id))
        try ManifestRules.validate(manifest, id: id, origin: store.location)
        return manifest
    }

    /// The content check kept in a release's manifest at publish; nil for a release published
    /// before it was kept. Decodes nothing else, so it costs a read of the manifest, not a parse of its entries.
    public func contentCheck(of id: String) throws -> ContentCheck? {
        struct CheckOnly: Decodable { let check: ContentCheck? }
        guard let bytes = try store.backend.manifestBytes(of: id) else {
            throw StrataError(.notFound, "release \(id) not found; run 'strata releases'")
        }
        if let check = ManifestParser.contentCheck(bytes) { return check }
        do {
            return try JSONDecoder().decode(CheckOnly.self, from: Data(bytes)).check
        } catch {
            throw StrataError(.corrupt, "manifest '\(manifestName(id))' cannot be read: \(error)")
        }
    }

    /// Every release, oldest first (by publish time, then id).
    public func summaries() throws -> [ReleaseSummary] {
        // A release pruned while we list is simply gone.
        try ids().compactMap(summary).sorted { ($0.created, $0.id) < ($1.created, $1.id) }
    }

    /// Each release's label (nil for none), by id: how listings name releases.
    public func labelsByID() throws -> [String: String?] {
        Dictionary(try summaries().map { ($0.id, $0.label) }, uniquingKeysWith: { first, _ in first })
    }

    /// One release's id, label, time and counts (its file entries are not decoded); nil when it is
    /// not in the store.
    public func summary(_ id: String) throws -> ReleaseSummary? {
        guard let bytes = try store.backend.manifestBytes(of: id) else { return nil }
        let summary = try decodeSummary(bytes, id: id)
        guard summary.id == id else {
            throw StrataError(.corrupt, "release \(id) in \(store.location) is invalid: its manifest names release \(Escaped.path(summary.id))")
        }
        if let label = summary.label, (try? Names.validateLabel(label)) == nil {
            throw StrataError(.corrupt, "release \(id) in \(store.location) is invalid: label '\(Escaped.path(label))' is not a label")
        }
        return summary
    }

    /// Decodes only the release-level fields: building every file entry of a large manifest would
    /// make each lookup by label cost milliseconds per release. `ManifestParser` skips the file
    /// list without building anything.
    private func decodeSummary(_ bytes: [UInt8], id: String) throws -> ReleaseSummary {
        if let summary = ManifestParser.summary(bytes) { return summary }
        do {
            return try JSONDecoder().decode(ReleaseSummary.self, from: Data(bytes))
        } catch {
            throw StrataError(.corrupt, "manifest '\(manifestName(id))' cannot be read: \(error)")
        }
    }

    /// Where a release's manifest is, for messages.
    private func manifestName(_ id: String) -> String {
        store.location + "/releases/" + id + "/" + ReleaseLayout.manifestPath
    }

    /// Resolves a full id, a unique prefix of 4 or more hex digits, or a label.
    public func resolve(_ reference: String) throws -> String {
        let wanted = reference.lowercased()
        if try contains(wanted) { return wanted }
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

import ArgumentParser
import StrataCore

/// A release named by id, prefix, label, or a channel (the release it serves now).
enum ReleaseReference {
    static func resolve(_ reference: String, in store: Store) throws -> String {
        if (try? Names.validateChannel(reference)) != nil, let id = try Channels(store: store).pointer(reference) {
            return id
        }
        return try ReleaseCatalog(store).resolve(reference)
    }

    /// What an `--expect` option names: a full id as given (it may have been pruned since), else a
    /// release resolved by prefix or label; `none` (when `allowsNone`) means "points at nothing yet".
    static func expectation(_ reference: String, in catalog: ReleaseCatalog, allowsNone: Bool = true) throws -> String? {
        if allowsNone && reference == "none" { return nil }
        return Fingerprint.isReleaseID(reference) ? reference : try catalog.resolve(reference)
    }
}

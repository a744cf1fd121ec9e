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
}

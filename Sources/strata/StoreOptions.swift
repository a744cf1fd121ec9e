import ArgumentParser
import Foundation
import StrataCore
import StrataObjectStore
import Synchronization
import SystemPackage

/// Options every command takes.
struct StoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The store: a folder, or s3://BUCKET/PREFIX in S3-compatible object storage.",
        discussion: """
            Default: $STRATA_ROOT, else $XDG_DATA_HOME/strata, else ~/.local/share/strata. An s3:// store \
            takes credentials, region and endpoint from the AWS environment (AWS_ACCESS_KEY_ID, \
            AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL_S3).
            """,
        valueName: "dir|s3-url"))
    var root: String?

    @Flag(help: "Print machine-readable JSON on stdout.")
    var json = false

    func validate() throws {
        if root?.isEmpty == true { throw ValidationError("--root must not be empty") }
    }

    var rootPath: String {
        root ?? DefaultStoreLocation.resolve(environment: ProcessInfo.processInfo.environment)
    }

    /// How long a writer waits for another writer's lock: $STRATA_LOCK_TIMEOUT seconds, default 60.
    var lockTimeout: Double {
        ProcessInfo.processInfo.environment["STRATA_LOCK_TIMEOUT"].flatMap(Double.init) ?? StoreLock.defaultTimeout
    }

    /// The existing store, with this command's settings.
    func readable() throws -> Store {
        let store = try writable()
        try store.backend.requireExisting()
        return store
    }

    /// The store, created by its first write if it does not exist yet.
    func writable() throws -> Store {
        Store(backend: try Self.backend(at: rootPath), lockTimeout: lockTimeout)
    }

    /// A folder store, or an object store for an `s3://` root.
    static func backend(at root: String) throws -> any StoreBackend {
        if S3Location.isObjectStore(root) {
            return OpenedObjectStores.keep(try S3Store(root: root, environment: ProcessInfo.processInfo.environment))
        }
        return LocalStore(root: FilePath(root))
    }
}

/// The object stores a command opened, closed (their HTTP clients shut down) when it ends.
enum OpenedObjectStores {
    private static let opened = Mutex<[S3Store]>([])

    static func keep(_ store: S3Store) -> S3Store {
        opened.withLock { $0.append(store) }
        return store
    }

    static func closeAll() {
        opened.withLock { stores in
            stores.forEach { $0.close() }
            stores = []
        }
    }
}

/// `--channel`, shared by the commands that act on one channel.
struct ChannelOption: ParsableArguments {
    @Option(help: ArgumentHelp("The channel to act on.", valueName: "name"))
    var channel = "current"

    func validate() throws {
        do { try Names.validateChannel(channel) } catch let error as StrataError {
            throw ValidationError(error.message)
        }
    }
}

/// `--expires`: when a channel made live now ends (a preview channel).
struct ExpiryOption: ParsableArguments {
    @Option(help: ArgumentHelp("The channel disappears after this (30m, 12h, 7d, 2w, or a time like 2026-12-31T00:00:00Z); "
                               + "'never' makes it permanent again. Without it, the channel keeps the expiry it has.",
                               valueName: "span|time|never"))
    var expires: String?

    func validate() throws {
        _ = try expiry()
    }

    /// nil: keep the channel's expiry; `.some(nil)`: never expire; `.some(t)`: expire at t.
    func expiry() throws -> Int64?? {
        guard let expires else { return nil }
        do { return .some(try ChannelExpiry.parse(expires)) } catch let error as StrataError { throw ValidationError(error.message) }
    }
}

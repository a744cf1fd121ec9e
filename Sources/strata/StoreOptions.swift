import ArgumentParser
import Foundation
import StrataCore

/// Options every command takes.
struct StoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The store folder.",
        discussion: "Default: $STRATA_ROOT, else $XDG_DATA_HOME/strata, else ~/.local/share/strata.",
        valueName: "dir"))
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
    func readable() throws -> Store { try Store.open(root: rootPath, lockTimeout: lockTimeout) }
    /// The store, created by its first write if it does not exist yet.
    func writable() -> Store { Store(root: rootPath, lockTimeout: lockTimeout) }
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

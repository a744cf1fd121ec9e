import ArgumentParser
import Foundation
import StrataCore

@main
struct Strata: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "strata",
        abstract: "Publish static sites as immutable, fingerprinted releases; flip a pointer to go live.",
        discussion: """
            A typical deploy:
              strata publish ./dist --label v42          # new release, not live yet
              strata activate v42                        # flip the 'current' channel
              strata rollback                            # flip back, if needed

            The store is --root, else $STRATA_ROOT, else $XDG_DATA_HOME/strata, else ~/.local/share/strata.
            Releases can be named by id, by any unique prefix of 4+ hex digits, or by label.
            Exit status: 0 success, 1 error, 3 refused because the store changed (--expect, label taken),
            4 the store stayed locked by another writer, 64 bad usage;
            'strata rollout' exits 2 when it aborted on a breach.
            """,
        version: version,
        subcommands: [
            Publish.self, Import.self, Export.self, Releases.self, Status.self, ChannelsList.self, ChannelCommand.self, Activate.self, RolloutCommand.self, Rollback.self, History.self,
            Promote.self, Config.self, Diff.self, Check.self,
            Serve.self, Password.self, Keygen.self, Verify.self, Prune.self, Pin.self, Unpin.self, Version.self,
        ]
    )

    /// Library errors become one line on stderr and an exit status; argument errors go to ArgumentParser.
    static func main() {
        defer { OpenedObjectStores.closeAll() }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as StrataError {
            OpenedObjectStores.closeAll()
            Output.error(error.message)
            Foundation.exit(exitStatus(for: error.kind))
        } catch let failure as CommandFailure {
            OpenedObjectStores.closeAll()
            Foundation.exit(failure.status)
        } catch {
            OpenedObjectStores.closeAll()
            exit(withError: error)
        }
    }

    static func exitStatus(for kind: StrataError.Kind) -> Int32 {
        switch kind {
        case .conflict: return 3
        case .locked: return 4
        default: return 1
        }
    }
}

/// A command that already explained itself on stderr and only needs to exit non-zero.
struct CommandFailure: Error {
    let status: Int32
}

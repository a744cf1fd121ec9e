import ArgumentParser
import StrataCore

struct Promote: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Point one channel at the release another channel serves (build once, deploy many).",
        discussion: """
            A compare-and-swap on both pointers: refused (exit 3) if either channel moves while
            promoting, or differs from --expect-from / --expect-to. Recorded in the target
            channel's history as a promotion. Runs `strata check` on the release first unless
            --no-check.

            Example:
              strata promote --from staging --to production --expect-from 3f2a9c1b4d5e6f70
            """)

    @OptionGroup var options: StoreOptions

    @Option(help: ArgumentHelp("The channel whose release is promoted.", valueName: "channel"))
    var from: String

    @Option(help: ArgumentHelp("The channel to point at it.", valueName: "channel"))
    var to: String

    @Option(help: ArgumentHelp("Only promote if the source channel serves this release.", valueName: "release"))
    var expectFrom: String?

    @Option(help: ArgumentHelp("Only promote if the target channel points at this release now ('none': at nothing).", valueName: "release"))
    var expectTo: String?

    @OptionGroup var gate: CheckGateOptions

    func run() throws {
        let store = try options.readable()
        let catalog = ReleaseCatalog(store)
        let channels = Channels(store: store)
        let expectedSource = try expectFrom.flatMap { try ReleaseReference.expectation($0, in: catalog, allowsNone: false) }
        let expectedTarget = try expectTo.map { try ReleaseReference.expectation($0, in: catalog) }
        if let release = try channels.pointer(from) {
            try gate.require(release, store: store)
        }
        let flip = try channels.promote(from: from, to: to, expectedSource: expectedSource, expectedTarget: expectedTarget)
        try flip.print(json: options.json)
    }
}

import ArgumentParser
import StrataCore

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the files added, removed and changed from one release to another.",
        discussion: """
            Example:
              strata diff v41 v42
              strata diff production staging --json
            """)

    @OptionGroup var options: StoreOptions

    @Argument(help: "The older release (id, prefix, label, or a channel: the release it serves).")
    var from: String

    @Argument(help: "The newer release.")
    var to: String

    func run() throws {
        let store = try options.readable()
        let catalog = ReleaseCatalog(store)
        let diff = ReleaseDiff(from: try catalog.manifest(try ReleaseReference.resolve(from, in: store)),
                               to: try catalog.manifest(try ReleaseReference.resolve(to, in: store)))
        if options.json { return try Output.json(diff) }
        func size(_ bytes: Int64?) -> String { bytes.map(Output.bytes) ?? "-" }
        let rows = diff.added.map { ["added", $0.path, "-", size($0.newSize)] }
            + diff.removed.map { ["removed", $0.path, size($0.oldSize), "-"] }
            + diff.changed.map { ["changed", $0.path, size($0.oldSize), size($0.newSize)] }
        if !rows.isEmpty { Output.table(["CHANGE", "PATH", "OLD", "NEW"], rows) }
        Output.line("\(diff.from) -> \(diff.to): \(diff.added.count) added, \(diff.removed.count) removed, "
            + "\(diff.changed.count) changed, \(diff.unchangedCount) unchanged; +\(Output.bytes(diff.bytesAdded)) "
            + "-\(Output.bytes(diff.bytesRemoved))")
    }
}

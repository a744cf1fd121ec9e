import ArgumentParser
import StrataCore

struct Publish: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish a folder as a new immutable release (not live until activated).",
        discussion: """
            Prints the release id on stdout. Publishing the same content again creates nothing and
            prints the existing id. Files already in the store are hard-linked, not copied.
            `.git/` and `.DS_Store` are left out unless --include-all is given. Symlinks that resolve
            inside the folder are published as the file or folder they point at; links leading
            outside, dangling links, devices, FIFOs and sockets are refused.

            Example:
              strata publish ./dist --label v42 --activate
            """)

    @OptionGroup var options: StoreOptions

    @Argument(help: "The folder to publish (a site's build output).")
    var source: String

    @Option(help: "A unique name for the release, usable wherever an id is (e.g. a version or build number).")
    var label: String?

    @Flag(help: "Make the release live on the channel right after publishing.")
    var activate = false

    @OptionGroup var channel: ChannelOption

    @Flag(help: "Also publish .git/ and .DS_Store.")
    var includeAll = false

    func run() throws {
        let store = options.writable()
        let report = try Publisher(store: store, lockTimeout: options.lockTimeout)
            .publish(PublishRequest(source: source, label: label, includeEverything: includeAll))
        let manifest = report.manifest
        let flip = activate
            ? try Channels(store: store, lockTimeout: options.lockTimeout).activate(manifest.id, channel: channel.channel)
            : nil

        if options.json {
            try Output.json(PublishOutput(report, activation: flip.map(FlipOutput.init)))
            return
        }
        Output.line(manifest.id)
        if report.isNew {
            Output.note("published \(Output.release(manifest.id, label: manifest.label)): \(manifest.fileCount) files, "
                + "\(Output.bytes(manifest.byteCount)); wrote \(report.filesCopied) files (\(Output.bytes(report.bytesCopied))), "
                + "linked \(report.filesLinked)")
        } else {
            Output.note("already published as \(Output.release(manifest.id, label: manifest.label)); nothing written")
            if let label, label != manifest.label {
                Output.note("note: label '\(label)' not applied; a release's label is fixed when it is first published")
            }
        }
        if let flip { Output.note(FlipOutput(flip).sentence) }
    }
}

struct PublishOutput: Encodable {
    let id: String
    let fingerprint: String
    let label: String?
    let created: String
    let isNew: Bool
    let fileCount: Int
    let byteCount: Int64
    let filesCopied: Int
    let bytesCopied: Int64
    let filesLinked: Int
    let activation: FlipOutput?

    init(_ report: PublishReport, activation: FlipOutput?) {
        id = report.manifest.id
        fingerprint = report.manifest.fingerprint
        label = report.manifest.label
        created = report.manifest.created
        isNew = report.isNew
        fileCount = report.manifest.fileCount
        byteCount = report.manifest.byteCount
        filesCopied = report.filesCopied
        bytesCopied = report.bytesCopied
        filesLinked = report.filesLinked
        self.activation = activation
    }
}

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
        let channels = Channels(store: store, lockTimeout: options.lockTimeout)
        let expectedSource = try expectFrom.map { Fingerprint.isReleaseID($0) ? $0 : try catalog.resolve($0) }
        let expectedTarget: String?? = try expectTo.map { reference in
            if reference == "none" { return nil }
            return Fingerprint.isReleaseID(reference) ? reference : try catalog.resolve(reference)
        }
        if let release = try channels.pointer(from) {
            try gate.require(release, store: store)
        }
        let flip = try channels.promote(from: from, to: to, expectedSource: expectedSource, expectedTarget: expectedTarget)
        try FlipOutput(flip).print(json: options.json)
    }
}

/// `--no-check` and `--force`, for the commands that make a release live.
struct CheckGateOptions: ParsableArguments {
    @Flag(help: "Skip the pre-flight check (`strata check`) before going live.")
    var noCheck = false

    @Flag(help: "Go live even if the pre-flight check finds broken references.")
    var force = false

    /// Runs the pre-flight check; refuses a release that does not match its manifest, or has broken
    /// references unless --force. Warnings go to stderr either way.
    func require(_ id: String, store: Store) throws {
        guard !noCheck else { return }
        let report = try Preflight(store: store).check(id)
        for warning in report.warnings { Output.note("check: \(warning)") }
        if let problem = report.problems.first {
            throw StrataError(.corrupt, "release \(id) does not match its manifest (\(problem.path): \(problem.detail)); run 'strata verify \(id)'")
        }
        guard !report.brokenReferences.isEmpty else { return }
        for broken in report.brokenReferences {
            Output.note("check: \(broken.file): '\(broken.reference)' -> \(broken.resolved) is not in the release")
        }
        if force {
            Output.note("check: going live anyway (--force) with \(report.brokenReferences.count) broken references")
            return
        }
        throw StrataError(.invalidInput, "release \(id) has \(report.brokenReferences.count) broken references (listed above); fix them, or pass --force")
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pre-flight checks of a release: manifest, index.html, and every local reference in its HTML and CSS.",
        discussion: """
            Checks sizes against the manifest (full hashes with --full), that index.html is at the
            root, and that each local src, href, url(), srcset and module import in HTML and CSS
            names a file of the release. `activate` and `promote` run it unless --no-check.
            Exit 0 if it passes, 1 if not.

            Example:
              strata check v42 --full
            """)

    @OptionGroup var options: StoreOptions

    @Argument(help: "Release id, unique id prefix (4+ hex digits) or label.")
    var release: String

    @Flag(help: "Re-hash every file too, not only compare sizes.")
    var full = false

    func run() throws {
        let store = try options.readable()
        let id = try ReleaseCatalog(store).resolve(release)
        let report = try Preflight(store: store).check(id, full: full)
        if options.json {
            try Output.json(report)
        } else {
            for problem in report.problems { Output.line("\(problem.kind.rawValue): \(problem.path): \(problem.detail)") }
            for warning in report.warnings { Output.line("warning: \(warning)") }
            for broken in report.brokenReferences {
                Output.line("broken: \(broken.file): '\(broken.reference)' -> \(broken.resolved)")
            }
            let verdict = report.passes ? "passes" : "FAILS"
            Output.line("\(id) \(verdict): \(report.problems.count) manifest problems (\(full ? "hashes" : "sizes") checked), "
                + "\(report.brokenReferences.count) broken of \(report.referencesChecked) local references")
        }
        if !report.passes { throw ExitCode(1) }
    }
}

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

/// A release named by id, prefix, label, or a channel (the release it serves now).
enum ReleaseReference {
    static func resolve(_ reference: String, in store: Store) throws -> String {
        if (try? Names.validateChannel(reference)) != nil, let id = try Channels(store: store).pointer(reference) {
            return id
        }
        return try ReleaseCatalog(store).resolve(reference)
    }
}

struct Config: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Per-channel runtime config, served at /_strata/config.json and /_strata/config.js.",
        discussion: """
            Each change makes a new immutable, content-addressed config version; the channel's
            config is a pointer with its own history (`strata rollback --config` steps back).
            One build reads its environment at run time:
              <script src="/_strata/config.js"></script>   →   window.STRATA_CONFIG.API_URL

            Examples:
              strata config set --channel production API_URL=https://api.example.com FEATURE_X=on
              strata config unset --channel production FEATURE_X
              strata config show --channel production
            """,
        subcommands: [ConfigSet.self, ConfigUnset.self, ConfigShow.self, ConfigHistory.self])
}

struct ConfigSet: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "set", abstract: "Set keys (KEY=value) in a channel's config.")

    @OptionGroup var options: StoreOptions
    @OptionGroup var channel: ChannelOption

    @Argument(help: ArgumentHelp("Assignments; keys are letters, digits and _.", valueName: "KEY=value"))
    var assignments: [String]

    func run() throws {
        var values: [String: String] = [:]
        for assignment in assignments {
            guard let equals = assignment.firstIndex(of: "="), equals != assignment.startIndex else {
                throw StrataError(.invalidInput, "'\(assignment)' is not KEY=value")
            }
            values[String(assignment[..<equals])] = String(assignment[assignment.index(after: equals)...])
        }
        let flip = try ChannelConfigs(store: try options.readable(), lockTimeout: options.lockTimeout).set(values, channel: channel.channel)
        try ConfigFlipOutput(flip).print(json: options.json)
    }
}

struct ConfigUnset: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unset", abstract: "Remove keys from a channel's config.")

    @OptionGroup var options: StoreOptions
    @OptionGroup var channel: ChannelOption

    @Argument(help: ArgumentHelp("Keys to remove.", valueName: "KEY"))
    var keys: [String]

    func run() throws {
        let flip = try ChannelConfigs(store: try options.readable(), lockTimeout: options.lockTimeout).unset(keys, channel: channel.channel)
        try ConfigFlipOutput(flip).print(json: options.json)
    }
}

struct ConfigShow: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a channel's current config.")

    @OptionGroup var options: StoreOptions
    @OptionGroup var channel: ChannelOption

    struct Shown: Encodable {
        let channel: String
        let version: String?
        let values: [String: String]
    }

    func run() throws {
        let config = try ChannelConfigs(store: try options.readable()).current(channel.channel)
        if options.json {
            return try Output.json(Shown(channel: channel.channel, version: config?.id, values: config?.values ?? [:]))
        }
        guard let config else { return Output.note("channel '\(channel.channel)' has no config; set one with 'strata config set'") }
        Output.note("channel '\(channel.channel)', config version \(config.id)")
        for key in config.values.keys.sorted() { Output.line("\(key)=\(config.values[key]!)") }
    }
}

struct ConfigHistory: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "history", abstract: "Show every change of a channel's config.")

    @OptionGroup var options: StoreOptions
    @OptionGroup var channel: ChannelOption

    func run() throws {
        let entries = try ChannelConfigs(store: try options.readable()).history(channel.channel)
        if options.json { return try Output.json(entries) }
        if entries.isEmpty { return Output.note("channel '\(channel.channel)' has no config history") }
        Output.table(["TIME", "ACTION", "FROM", "TO", "BY"],
                     entries.map { [Output.time($0.time), $0.action.rawValue, $0.from ?? "-", $0.to, $0.by] })
    }
}

struct ConfigFlipOutput: Encodable {
    let channel: String
    let from: String?
    let to: String
    let changed: Bool

    init(_ flip: FlipResult) {
        channel = flip.channel
        from = flip.from
        to = flip.to
        changed = flip.changed
    }

    func print(json: Bool) throws {
        if json { return try Output.json(self) }
        Output.line(changed ? "\(channel) config: \(from ?? "none") -> \(to)" : "\(channel) config already is \(to)")
    }
}

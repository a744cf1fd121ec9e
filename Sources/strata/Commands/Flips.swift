import ArgumentParser
import StrataCore

struct Activate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a release live on a channel (an atomic pointer flip).",
        discussion: """
            --expect makes the flip a compare-and-swap: it is refused (exit 3) unless the channel
            still points at the given release ('none': at nothing yet). The release is checked
            first (`strata check`): one with broken references is refused unless --force.

            --canary serves the release to that share of the channel's visitors (each kept on
            one release by a cookie) and its current release to the rest; run it again with
            another percent to widen or narrow. A plain activate ends the canary with everyone
            on the release; 'strata rollback' ends it with everyone on the stable release.

            Example:
              strata activate v42 --channel production --expect 3f2a9c1b
              strata activate v43 --canary 10
              strata activate 9c8d --channel pr-123 --expires 7d

            --expires makes the channel a preview that disappears then: no longer served, listed
            or kept by prune (its history stays). A later activate keeps the expiry unless it
            gives --expires again ('never' makes the channel permanent).
            """)

    @OptionGroup var options: StoreOptions

    @Argument(help: "Release id, unique id prefix (4+ hex digits) or label.")
    var release: String

    @OptionGroup var channel: ChannelOption

    @Option(help: ArgumentHelp("Only flip if the channel points at this release now ('none': at nothing).", valueName: "release"))
    var expect: String?

    @Option(help: ArgumentHelp("Serve the release to this percent (1-99) of visitors only.", valueName: "percent"))
    var canary: Int?

    @OptionGroup var gate: CheckGateOptions

    @OptionGroup var expiry: ExpiryOption

    func validate() throws {
        if let canary, !Canary.percents.contains(canary) {
            throw ValidationError("--canary must be a percent from 1 to 99, not \(canary); without it, everyone gets the release")
        }
        if canary != nil && expiry.expires != nil {
            throw ValidationError("--expires goes with a plain activate; a canary keeps the channel's expiry")
        }
    }

    func run() throws {
        let store = try options.readable()
        let catalog = ReleaseCatalog(store)
        let id = try catalog.resolve(release)
        let expected = try expect.map { try ReleaseReference.expectation($0, in: catalog) }
        try gate.require(id, store: store)
        let channels = Channels(store: store)
        let flip = try canary.map { try channels.startCanary(id, percent: $0, channel: channel.channel, expected: expected) }
            ?? channels.activate(id, channel: channel.channel, expected: expected, expires: try expiry.expiry())
        try flip.print(json: options.json)
    }
}

struct Rollback: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Go back to the release that was live before the current one.",
        discussion: """
            Follows the channel's history, not file times: each rollback steps one further back,
            skipping releases that were pruned. During a canary, a rollback ends it: everyone
            goes back to the stable release (an 'abort' in the history). --to picks the release instead. --config rolls
            back the channel's runtime config instead of its release. No pre-flight check: a
            rollback returns to what was live before, and must not be held up.

            Example:
              strata rollback --channel production
              strata rollback --channel production --config
            """)

    @OptionGroup var options: StoreOptions
    @OptionGroup var channel: ChannelOption

    @Option(help: ArgumentHelp("Roll back to this release instead.", valueName: "release"))
    var to: String?

    @Flag(help: "Roll back the channel's config (strata config) instead of its release.")
    var config = false

    func run() throws {
        let store = try options.readable()
        if config {
            guard to == nil else { throw ValidationError("--to picks a release; it does not go with --config") }
            let flip = try ChannelConfigs(store: store).rollback(channel: channel.channel)
            return try ConfigFlipOutput(flip).print(json: options.json)
        }
        let target = try to.map { try ReleaseCatalog(store).resolve($0) }
        let flip = try Channels(store: store).rollback(channel: channel.channel, to: target)
        for id in flip.skipped where !options.json {
            Output.note("skipped \(id): pruned")
        }
        try flip.print(json: options.json)
    }
}

extension FlipResult {
    /// `current: 3f2a… -> 9c8d…`, or that nothing changed.
    var sentence: String {
        switch action {
        case .canary:
            let percent = canary.map { "\($0.percent)%" } ?? "?"
            guard changed else { return "\(channel) already serves \(to) to \(percent)" }
            return "\(channel): \(from ?? "nothing") with canary \(to) at \(percent)"
        case .abort:
            guard changed else { return "\(channel) has no canary" }
            return "\(channel): canary \(from ?? "nothing") aborted, everyone on \(to)"
        case .delete:
            return "\(channel): deleted (it served \(to); its history is kept)"
        default:
            let until = expires.map { " (expires \(Timestamp.of(seconds: $0)))" } ?? ""
            guard changed else { return "\(channel) already serves \(to)\(until)" }
            return "\(channel): \(from ?? "nothing") -> \(to)\(until)"
        }
    }

    func print(json: Bool) throws {
        if json { try Output.json(self) } else { Output.line(sentence) }
    }
}

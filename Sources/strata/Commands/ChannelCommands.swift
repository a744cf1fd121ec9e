import ArgumentParser
import StrataCore

/// `strata channels`: every channel, what it serves, and when it ends.
struct ChannelsList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "channels",
        abstract: "List channels with their releases and expiry (expired and deleted channels are gone).")

    @OptionGroup var options: StoreOptions

    struct Row: Encodable {
        let channel: String
        let release: String
        let label: String?
        let since: String?
        let canary: Canary?
        /// When the channel disappears; nil: never.
        let expires: String?
    }

    func run() throws {
        let store = try options.readable()
        let labels = try ReleaseCatalog(store).labelsByID()
        let states = try Channels(store: store).all()
        if options.json {
            return try Output.json(states.map { state in
                Row(channel: state.name, release: state.release, label: labels[state.release] ?? nil, since: state.since,
                    canary: state.canary, expires: state.expires.map { Timestamp.of(seconds: $0) })
            })
        }
        if states.isEmpty { return Output.note("no channels yet; run 'strata activate <release> --channel NAME'") }
        let now = PointerValue.now()
        Output.table(
            ["CHANNEL", "RELEASE", "LABEL", "CANARY", "EXPIRES"],
            states.map { state in
                [state.name, state.release, (labels[state.release] ?? nil) ?? "-", state.canary.map { "\($0.release) \($0.percent)%" } ?? "-",
                 state.expires.map { "\(Output.time(Timestamp.of(seconds: $0))) (in \(Self.span($0 - now)))" } ?? "never"]
            })
    }

    /// `6d 23h`, `4h 10m`, `12m`, `40s`.
    static func span(_ seconds: Int64) -> String {
        let (days, hours, minutes) = (seconds / 86_400, seconds % 86_400 / 3600, seconds % 3600 / 60)
        if days > 0 { return "\(days)d \(hours)h" }
        if hours > 0 { return "\(hours)h \(minutes)m" }
        if minutes > 0 { return "\(minutes)m" }
        return "\(max(seconds, 0))s"
    }
}

/// `strata channel delete NAME`.
struct ChannelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "channel",
        abstract: "Manage one channel.",
        subcommands: [DeleteChannel.self])
}

struct DeleteChannel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "End a channel now: no longer served, listed or kept by prune; its history is kept.",
        discussion: """
            A channel made with --expires ends by itself; this ends one at once (a pull request
            merged or closed). Its releases become prunable unless something else keeps them.
            Activating the same name later starts the channel afresh.

            Example:
              strata channel delete pr-123
            """)

    @OptionGroup var options: StoreOptions

    @Argument(help: "The channel to delete.")
    var name: String

    func validate() throws {
        do { try Names.validateChannel(name) } catch let error as StrataError { throw ValidationError(error.message) }
    }

    func run() throws {
        let flip = try Channels(store: try options.readable()).delete(channel: name)
        try flip.print(json: options.json)
    }
}

import ArgumentParser
import StrataCore

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
        let flip = try ChannelConfigs(store: try options.readable()).set(values, channel: channel.channel)
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
        let flip = try ChannelConfigs(store: try options.readable()).unset(keys, channel: channel.channel)
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

/// A config flip as `config set|unset` and `rollback --config` report it: no `skipped` (configs are never pruned).
struct ConfigFlipOutput: Encodable {
    let flip: FlipResult

    init(_ flip: FlipResult) {
        self.flip = flip
    }

    private enum CodingKeys: String, CodingKey {
        case channel, from, to, changed
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(flip.channel, forKey: .channel)
        try container.encodeIfPresent(flip.from, forKey: .from)
        try container.encode(flip.to, forKey: .to)
        try container.encode(flip.changed, forKey: .changed)
    }

    func print(json: Bool) throws {
        if json { return try Output.json(self) }
        Output.line(flip.changed ? "\(flip.channel) config: \(flip.from ?? "none") -> \(flip.to)" : "\(flip.channel) config already is \(flip.to)")
    }
}

import ArgumentParser
import StrataCore

struct Releases: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List releases, newest first, with the channels that serve them.")

    @OptionGroup var options: StoreOptions

    func run() throws {
        let store = try options.readable()
        let releases = try ReleaseCatalog(store).summaries().reversed()
        let channels = try Channels(store: store).all()
        let pinned = try Pins(store: store).pinned()
        let rows = releases.map { release in
            ReleaseRow(release: release,
                       channels: channels.filter { $0.release == release.id }.map(\.name)
                           + channels.filter { $0.canary?.release == release.id }.map { "\($0.name)(canary \($0.canary!.percent)%)" },
                       pinned: pinned.contains(release.id))
        }
        if options.json { return try Output.json(rows) }
        if rows.isEmpty { return Output.note("no releases yet; publish one with 'strata publish <folder>'") }
        Output.table(
            ["ID", "LABEL", "CREATED", "FILES", "SIZE", "BASE", "CHANNELS"],
            rows.map { row in
                [row.release.id, row.release.label ?? "-", Output.time(row.release.created), String(row.release.fileCount),
                 Output.bytes(row.release.byteCount), row.release.base ?? "-",
                 (row.channels + (row.pinned ? ["(pinned)"] : [])).joined(separator: ",")]
            })
    }
}

/// A release as `releases --json` lists it: its summary, the channels serving it, and its pin.
struct ReleaseRow: Encodable {
    let release: ReleaseSummary
    let channels: [String]
    let pinned: Bool

    private enum CodingKeys: String, CodingKey {
        case channels, pinned
    }

    func encode(to encoder: Encoder) throws {
        try release.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(channels, forKey: .channels)
        try container.encode(pinned, forKey: .pinned)
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show every channel side by side: its release, label, since when, and its config version.")

    @OptionGroup var options: StoreOptions

    struct Row: Encodable {
        let channel: String
        let release: String
        let label: String?
        let since: String?
        let config: String?
        let canary: CanaryRow?
    }

    struct CanaryRow: Encodable {
        let release: String
        let percent: Int
        let label: String?
        let since: String?
    }

    func run() throws {
        let store = try options.readable()
        let labels = try ReleaseCatalog(store).labelsByID()
        let configs = ChannelConfigs(store: store)
        let rows = try Channels(store: store).all().map { state in
            Row(channel: state.name, release: state.release, label: labels[state.release] ?? nil, since: state.since,
                config: try configs.current(state.name)?.id,
                canary: state.canary.map { CanaryRow(release: $0.release, percent: $0.percent, label: labels[$0.release] ?? nil, since: state.canarySince) })
        }
        if options.json { return try Output.json(rows) }
        if rows.isEmpty { return Output.note("no channel is live yet; run 'strata activate <release>'") }
        func marked(_ id: String) -> String { id + (labels[id] == nil ? " (missing!)" : "") }
        Output.table(
            ["CHANNEL", "RELEASE", "LABEL", "SINCE", "CANARY", "CONFIG"],
            rows.map { row in
                [row.channel, marked(row.release), row.label ?? "-", row.since.map(Output.time) ?? "-",
                 row.canary.map { "\(marked($0.release)) \($0.percent)%" + ($0.label.map { " (\($0))" } ?? "") } ?? "-", row.config ?? "-"]
            })
    }
}

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show every flip of a channel, oldest first.")

    @OptionGroup var options: StoreOptions
    @OptionGroup var channel: ChannelOption

    func run() throws {
        let entries = try Channels(store: try options.readable()).history(channel.channel)
        if options.json { return try Output.json(entries) }
        if entries.isEmpty { return Output.note("channel '\(channel.channel)' has no history") }
        Output.table(
            ["TIME", "ACTION", "FROM", "TO", "BY", "REASON"],
            entries.map { entry in
                [Output.time(entry.time), Self.action(entry), entry.from ?? "-", entry.to, entry.by, entry.reason.map(Escaped.path) ?? "-"]
            })
    }

    /// `activate`, `promote from staging`, `canary 10%`.
    static func action(_ entry: HistoryEntry) -> String {
        entry.action.rawValue + (entry.source.map { " from " + $0 } ?? "") + (entry.percent.map { " \($0)%" } ?? "")
    }
}

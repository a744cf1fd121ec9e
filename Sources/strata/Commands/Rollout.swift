import ArgumentParser
import Foundation
import StrataCore
import StrataObjectStore

struct RolloutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollout",
        abstract: "Release gradually: a canary widened step by step, each step health-checked, aborted on a breach.",
        discussion: """
            Each step but the last is a canary ('strata activate --canary'); the last (100) a plain
            activate. Before each widening the rollout compares the canary with the stable
            release over the same interval, from the servers' own counters: --watch reads each
            serve node's metrics (summed), --prometheus a Prometheus that scrapes them. It waits
            while the canary has had fewer than --min-requests requests, and aborts at once (one
            conditional flip back, an 'abort' history entry with the figures) when the canary's
            404 ratio, 5xx ratio or browser errors per page view (from /_strata/rollout.js) is
            worse than the stable release's by more than the limit, in percentage points.

            Every flip is conditional on the rollout's own last one: a flip by anyone else stops
            it (exit 3) and is never overridden. Run again to resume a rollout that stopped.
            Exit status: 0 complete, 2 aborted on a breach, 3 someone else moved the channel.

            Example:
              strata rollout v43 --steps 5,25,50,100 --every 10m --watch http://node1:8080 --watch http://node2:8080
              strata rollout v43 --channel production --every 15m --prometheus http://prometheus:9090
            """)

    @OptionGroup var options: StoreOptions

    @Argument(help: "Release id, unique id prefix (4+ hex digits) or label.")
    var release: String

    @OptionGroup var channel: ChannelOption

    @Option(help: ArgumentHelp("Percents to go through, increasing, ending with 100.", valueName: "list"))
    var steps = "5,25,50,100"

    @Option(help: ArgumentHelp("How long to hold each step before judging it (like 10m, 30s, 1h).", valueName: "duration"))
    var every = "10m"

    @Option(help: ArgumentHelp("A serve node's metrics URL (its address, /_strata/metrics, or --metrics-listen); repeatable.", valueName: "url"))
    var watch: [String] = []

    @Option(help: ArgumentHelp("A Prometheus that scrapes the serve nodes (its HTTP API address).", valueName: "url"))
    var prometheus: String?

    @Flag(help: "Widen on time alone, with no health check.")
    var noGates = false

    @Option(help: ArgumentHelp("Canary requests needed in a step before it is judged.", valueName: "count"))
    var minRequests = HealthThresholds().minRequests

    @Option(name: .customLong("max-404-increase"), help: ArgumentHelp("Points of 404 ratio the canary may have above stable.", valueName: "points"))
    var max404Increase = HealthThresholds().max404Increase

    @Option(name: .customLong("max-5xx-increase"), help: ArgumentHelp("Points of 5xx ratio the canary may have above stable.", valueName: "points"))
    var max5xxIncrease = HealthThresholds().max5xxIncrease

    @Option(help: ArgumentHelp("Browser errors per 100 page views the canary may have above stable.", valueName: "points"))
    var maxErrorIncrease = HealthThresholds().maxErrorIncrease

    @OptionGroup var gate: CheckGateOptions

    func validate() throws {
        guard Rollout.duration(every) != nil else { throw ValidationError("--every wants a duration like 10m, 30s or 1h; '\(every)' is not one") }
        guard steps.split(separator: ",").allSatisfy({ Int($0) != nil }) else {
            throw ValidationError("--steps wants percents separated by commas, like 5,25,50,100; '\(steps)' is not that")
        }
        if noGates && (!watch.isEmpty || prometheus != nil) { throw ValidationError("--no-gates leaves out the health check; it does not go with --watch or --prometheus") }
        if !noGates && watch.isEmpty && prometheus == nil {
            throw ValidationError("a rollout checks health before each widening: give --watch URL (each serve node) or --prometheus URL, or --no-gates")
        }
        if !watch.isEmpty && prometheus != nil { throw ValidationError("pick one health source: --watch or --prometheus") }
        guard minRequests >= 1 else { throw ValidationError("--min-requests must be at least 1") }
        for (name, value) in [("--max-404-increase", max404Increase), ("--max-5xx-increase", max5xxIncrease), ("--max-error-increase", maxErrorIncrease)]
        where !(value >= 0 && value <= 100) {
            throw ValidationError("\(name) is in percentage points, from 0 to 100; not \(value)")
        }
    }

    func run() throws {
        let store = try options.readable()
        let id = try ReleaseCatalog(store).resolve(release)
        try gate.require(id, store: store)
        let transport = S3Transport()
        defer { transport.shutdown() }
        let health: (any HealthSource)?
        if let prometheus {
            health = try PrometheusSource(url: prometheus, transport: transport)
        } else if !watch.isEmpty {
            health = try ServerMetricsSource(urls: watch, transport: transport)
        } else {
            health = nil
        }
        var thresholds = HealthThresholds()
        thresholds.minRequests = minRequests
        thresholds.max404Increase = max404Increase
        thresholds.max5xxIncrease = max5xxIncrease
        thresholds.maxErrorIncrease = maxErrorIncrease
        let rollout = try Rollout(store: store, release: id, channel: channel.channel, steps: steps.split(separator: ",").compactMap { Int($0) },
                                  every: Rollout.duration(every)!, thresholds: thresholds, health: health)
        switch try rollout.run(say: { Output.line("\(Output.clock()) \($0)") }) {
        case .completed:
            return
        case .aborted(let why):
            Output.error("rollout of \(id) aborted: \(why)")
            throw CommandFailure(status: 2)
        }
    }
}

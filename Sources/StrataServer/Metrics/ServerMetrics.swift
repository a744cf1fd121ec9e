import CoreMetrics
import Dispatch
import Prometheus
import StrataCore
import Synchronization

/// The server's metrics, in swift-metrics objects backed by a swift-prometheus registry of its own
/// (no global bootstrap: several servers can live in one process), rendered as Prometheus text.
///
/// The hot path never touches them: each event loop counts into its own `LoopMetrics` (plain
/// integers and duration buckets, no lock, no atomic), and once a second hands the batch to this
/// object's queue, which feeds the swift-metrics objects and adds up the durations
/// (`DurationCounts`, rendered beside the registry's text). A scrape therefore sees counts at
/// most a second old.
public final class ServerMetrics: Sendable {
    /// Channel names; a request's channel is its index here.
    let channels: [String]
    private let registry = PrometheusCollectorRegistry()
    private let requests: [[CoreMetrics.Counter]]
    private let bytes: [CoreMetrics.Counter]
    /// On `queue` only.
    private nonisolated(unsafe) var durations = DurationCounts()
    private let cacheHits: CoreMetrics.Counter
    private let cacheMisses: CoreMetrics.Counter
    private let openConnections: CoreMetrics.Gauge
    private let flips: [CoreMetrics.Counter]
    private let factory: PrometheusMetricsFactory
    private let queue = DispatchQueue(label: "strata.metrics")
    /// The live release per channel, as the gauge `strata_live_release{channel,release} 1`.
    private let live = Mutex<[String: (release: String, gauge: CoreMetrics.Gauge)]>([:])
    /// Each channel's canary, as the gauge `strata_canary_percent{channel,release}`.
    private let canaries = Mutex<[String: (canary: Canary, gauge: CoreMetrics.Gauge)]>([:])
    /// Per channel and release: answers by class, page views, browser errors (made on first use,
    /// on `queue` only).
    private nonisolated(unsafe) var perRelease: [ReleaseKey: ReleaseCounters] = [:]
    private let beaconOutcomes: [CoreMetrics.Counter]

    /// `strata_release_responses_total{class}`: what a rollout compares between its two releases.
    /// 404 is its own class (a page the new release lacks), apart from the other 4xx.
    static let releaseClasses = ["2xx", "3xx", "404", "4xx", "5xx"]

    struct ReleaseKey: Hashable {
        let channel: Int
        let release: String
    }

    private struct ReleaseCounters {
        let responses: [CoreMetrics.Counter]
        let pageViews: CoreMetrics.Counter
        let beaconErrors: CoreMetrics.Counter
    }

    init(channels: [String]) {
        self.channels = channels
        let factory = PrometheusMetricsFactory(registry: registry)
        self.factory = factory
        requests = channels.map { channel in
            (1...5).map { CoreMetrics.Counter(label: "strata_http_requests_total", dimensions: [("channel", channel), ("status_class", "\($0)xx")], factory: factory) }
        }
        bytes = channels.map { CoreMetrics.Counter(label: "strata_http_response_bytes_total", dimensions: [("channel", $0)], factory: factory) }
        flips = channels.map { CoreMetrics.Counter(label: "strata_flips_observed_total", dimensions: [("channel", $0)], factory: factory) }
        cacheHits = CoreMetrics.Counter(label: "strata_body_cache_hits_total", factory: factory)
        cacheMisses = CoreMetrics.Counter(label: "strata_body_cache_misses_total", factory: factory)
        openConnections = CoreMetrics.Gauge(label: "strata_open_connections", factory: factory)
        beaconOutcomes = BeaconCounter.Outcome.allCases.map {
            CoreMetrics.Counter(label: "strata_beacon_reports_total", dimensions: [("outcome", $0.label)], factory: factory)
        }
    }

    /// What one loop counted since its last batch.
    struct Batch: Sendable {
        var requests: [[Int]]
        var bytes: [Int]
        var durations = DurationCounts()
        var cacheHits = 0
        var cacheMisses = 0
        /// Per channel and release; a short list (a channel serves one release, two during a
        /// canary), searched in order: cheaper than hashing an id on every request.
        var releases: [(key: ReleaseKey, counts: ReleaseCounts)] = []
        var beaconOutcomes = Array(repeating: 0, count: BeaconCounter.Outcome.allCases.count)
    }

    struct ReleaseCounts: Sendable {
        var responses = Array(repeating: 0, count: ServerMetrics.releaseClasses.count)
        var pageViews = 0
        var beaconErrors = 0
    }

    func absorb(_ batch: Batch) {
        queue.async { [self] in
            for (channel, classes) in batch.requests.enumerated() {
                for (index, count) in classes.enumerated() where count > 0 { requests[channel][index].increment(by: count) }
            }
            for (channel, count) in batch.bytes.enumerated() where count > 0 { bytes[channel].increment(by: count) }
            durations.add(batch.durations)
            if batch.cacheHits > 0 { cacheHits.increment(by: batch.cacheHits) }
            if batch.cacheMisses > 0 { cacheMisses.increment(by: batch.cacheMisses) }
            for (key, counts) in batch.releases {
                let counters = releaseCounters(key)
                for (number, count) in counts.responses.enumerated() where count > 0 { counters.responses[number].increment(by: count) }
                if counts.pageViews > 0 { counters.pageViews.increment(by: counts.pageViews) }
                if counts.beaconErrors > 0 { counters.beaconErrors.increment(by: counts.beaconErrors) }
            }
            for (number, count) in batch.beaconOutcomes.enumerated() where count > 0 { beaconOutcomes[number].increment(by: count) }
        }
    }

    /// On `queue` only.
    private func releaseCounters(_ key: ReleaseKey) -> ReleaseCounters {
        if let made = perRelease[key] { return made }
        let channel = channels.indices.contains(key.channel) ? channels[key.channel] : "-"
        let dimensions = [("channel", channel), ("release", key.release)]
        let made = ReleaseCounters(
            responses: Self.releaseClasses.map {
                CoreMetrics.Counter(label: "strata_release_responses_total", dimensions: dimensions + [("class", $0)], factory: factory)
            },
            pageViews: CoreMetrics.Counter(label: "strata_page_views_total", dimensions: dimensions, factory: factory),
            beaconErrors: CoreMetrics.Counter(label: "strata_beacon_errors_total", dimensions: dimensions, factory: factory))
        // Every series exists from the first answer, at 0: a rollout's first reading is a baseline.
        for counter in made.responses { counter.increment(by: 0) }
        made.pageViews.increment(by: 0)
        made.beaconErrors.increment(by: 0)
        perRelease[key] = made
        return made
    }

    /// The channel's canary now (nil: none), as `strata_canary_percent`; true when it changed.
    @discardableResult
    func observe(channel: String, canary: Canary?) -> Bool {
        canaries.withLock { canaries in
            let previous = canaries[channel]
            guard previous?.canary != canary else { return false }
            previous?.gauge.record(0)
            if let canary {
                let gauge = CoreMetrics.Gauge(label: "strata_canary_percent", dimensions: [("channel", channel), ("release", canary.release)],
                                              factory: factory)
                gauge.record(canary.percent)
                canaries[channel] = (canary, gauge)
            } else {
                canaries[channel] = nil
            }
            return previous != nil || canary != nil
        }
    }

    func observe(openConnections count: Int) {
        openConnections.record(count)
    }

    /// The release a channel serves now; a change counts as a flip seen, and returns the release
    /// served before. (The first observation of a channel is no flip.)
    @discardableResult
    func observe(channel: String, release: String?) -> (from: String, to: String?)? {
        live.withLock { live in
            let previous = live[channel]
            guard previous?.release != release else { return nil }
            previous?.gauge.record(0)
            if let number = channels.firstIndex(of: channel), previous != nil { flips[number].increment() }
            if let release {
                let gauge = CoreMetrics.Gauge(label: "strata_live_release", dimensions: [("channel", channel), ("release", release)], factory: factory)
                gauge.record(1)
                live[channel] = (release, gauge)
            } else {
                live[channel] = nil
            }
            return previous.map { ($0.release, release) }
        }
    }

    /// What each metric means, as `# HELP` lines: the swift-metrics API carries no help text, so
    /// the exposition gets it here (promtool's lint asks for it).
    static let help: [String: String] = [
        "strata_http_requests_total": "Requests answered, by channel and status class.",
        "strata_http_response_bytes_total": "Body bytes sent, by channel.",
        "strata_http_request_duration_seconds": "Time from a request's head to its response head being written.",
        "strata_body_cache_hits_total": "Small-file bodies served from memory.",
        "strata_body_cache_misses_total": "Small-file bodies read from disk into memory.",
        "strata_open_connections": "Client connections open now.",
        "strata_flips_observed_total": "Times the server saw a channel's pointer move to another release.",
        "strata_live_release": "1 for the release each channel serves now (0 for ones it served before).",
        "strata_canary_percent": "The share of visitors each channel's canary release gets (0 once it ended).",
        "strata_release_responses_total": "Answers on channel URLs, by channel, release and class (404 apart from other 4xx).",
        "strata_page_views_total": "HTML answers (200 and 304) on channel URLs, by channel and release.",
        "strata_beacon_errors_total": "Errors browsers reported to /_strata/beacon, by channel and release.",
        "strata_beacon_reports_total": "Reports to /_strata/beacon, by outcome (counted, ignored, limited, rejected).",
        "strata_purges_total": "Purges sent to caches on flips, by target and outcome (purged, retried, failed, skipped: another node sent it).",
        "strata_purge_failing": "1 while a target's last purge failed after every retry, else 0.",
    ]

    /// `strata_purges_total{target,outcome}`.
    func purgeCounter(target: String, outcome: String) -> CoreMetrics.Counter {
        CoreMetrics.Counter(label: "strata_purges_total", dimensions: [("target", target), ("outcome", outcome)], factory: factory)
    }

    /// `strata_purge_failing{target}`.
    func purgeFailingGauge(target: String) -> CoreMetrics.Gauge {
        CoreMetrics.Gauge(label: "strata_purge_failing", dimensions: [("target", target)], factory: factory)
    }

    /// The Prometheus text exposition of everything (waits for batches handed in before).
    func render() -> [UInt8] {
        let durations = queue.sync { self.durations }
        var text = ""
        for line in String(decoding: registry.emitToBuffer(), as: UTF8.self).split(separator: "\n") {
            if line.hasPrefix("# TYPE "), let name = line.split(separator: " ").dropFirst(2).first, let help = Self.help[String(name)] {
                text += "# HELP \(name) \(help)\n"
            }
            text += line + "\n"
        }
        let name = "strata_http_request_duration_seconds"
        text += durations.exposition(name: name, help: Self.help[name]!)
        return Array(text.utf8)
    }
}

/// One event loop's counts since its last batch. Only that loop's thread touches it.
final class LoopMetrics {
    private var batch: ServerMetrics.Batch
    private let channels: Int

    init(channels: Int) {
        self.channels = channels
        batch = Self.empty(channels)
    }

    private static func empty(_ channels: Int) -> ServerMetrics.Batch {
        ServerMetrics.Batch(requests: Array(repeating: Array(repeating: 0, count: 5), count: channels),
                            bytes: Array(repeating: 0, count: channels))
    }

    func request(channel: Int, status: Int, bytes: Int64, micros: UInt32) {
        let statusClass = min(max(status / 100, 1), 5) - 1
        batch.requests[channel][statusClass] += 1
        batch.bytes[channel] += Int(bytes)
        batch.durations.record(micros: micros)
    }

    func answered(release: String, channel: Int, status: Int, isPage: Bool) {
        let number: Int
        switch status {
        case 404: number = 2
        case 200..<300: number = 0
        case 300..<400: number = 1
        case 400..<500: number = 3
        default: number = status >= 500 ? 4 : 0
        }
        let slot = releaseSlot(channel: channel, release: release)
        batch.releases[slot].counts.responses[number] += 1
        if isPage { batch.releases[slot].counts.pageViews += 1 }
    }

    func beacon(_ outcome: BeaconCounter.Outcome, errors: Int = 0, release: String? = nil, channel: Int = 0) {
        batch.beaconOutcomes[outcome.rawValue] += 1
        if let release { batch.releases[releaseSlot(channel: channel, release: release)].counts.beaconErrors += errors }
    }

    private func releaseSlot(channel: Int, release: String) -> Int {
        for (number, entry) in batch.releases.enumerated() where entry.key.channel == channel && entry.key.release == release {
            return number
        }
        batch.releases.append((ServerMetrics.ReleaseKey(channel: channel, release: release), ServerMetrics.ReleaseCounts()))
        return batch.releases.count - 1
    }

    func cache(hit: Bool) {
        if hit { batch.cacheHits += 1 } else { batch.cacheMisses += 1 }
    }

    /// The counts so far, and a fresh start.
    func take() -> ServerMetrics.Batch {
        let taken = batch
        batch = Self.empty(channels)
        return taken
    }
}

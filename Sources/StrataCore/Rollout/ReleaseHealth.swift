import Foundation

/// What the serve nodes counted for one release over an interval: the figures a rollout compares.
public struct ReleaseHealth: Sendable, Equatable {
    public var requests = 0.0
    public var notFound = 0.0
    public var serverErrors = 0.0
    public var pageViews = 0.0
    public var browserErrors = 0.0

    public init() {}

    public var notFoundRatio: Double { requests > 0 ? notFound / requests : 0 }
    public var serverErrorRatio: Double { requests > 0 ? serverErrors / requests : 0 }
    /// Browser errors per page view (a page view at least, so errors with no page still count).
    public var errorsPerPage: Double { browserErrors / max(pageViews, 1) }
}

/// One reading of the servers' counters: every series a source returned, by a key naming the
/// source and the series' labels, with the release and figure it counts.
public struct HealthSample: Sendable {
    public struct Series: Hashable, Sendable {
        /// Where and which: the source's address and the series' labels, so one node's counter is
        /// compared only with itself.
        public let key: String
        public let release: String
        public let figure: Figure
    }

    public enum Figure: String, Sendable {
        case requests, notFound, serverErrors, pageViews, browserErrors
    }

    public var values: [Series: Double] = [:]
    /// Sources that could not be read for this sample, with why.
    public var unreadable: [String] = []

    public init() {}

    /// Adds one exposition series (`strata_release_responses_total{class="404",…}`, …) when it is
    /// one of the rollout's and for `channel`; other series are ignored.
    public mutating func add(source: String, name: String, labels: [String: String], value: Double, channel: String) {
        guard labels["channel"] == channel, let release = labels["release"] else { return }
        let key = source + "|" + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        func put(_ figure: Figure) { values[Series(key: key + "|" + figure.rawValue, release: release, figure: figure)] = value }
        switch name {
        case "strata_release_responses_total":
            put(.requests)
            switch labels["class"] {
            case "404": put(.notFound)
            case "5xx": put(.serverErrors)
            default: break
            }
        case "strata_page_views_total": put(.pageViews)
        case "strata_beacon_errors_total": put(.browserErrors)
        default: break
        }
    }

    /// What each release gained since `earlier`. A counter lower than before was reset (its
    /// server restarted): all of its value is new. A series not seen before started at 0.
    public func since(_ earlier: HealthSample) -> [String: ReleaseHealth] {
        var health: [String: ReleaseHealth] = [:]
        for (series, value) in values {
            let before = earlier.values[series] ?? 0
            let gained = value >= before ? value - before : value
            switch series.figure {
            case .requests: health[series.release, default: ReleaseHealth()].requests += gained
            case .notFound: health[series.release, default: ReleaseHealth()].notFound += gained
            case .serverErrors: health[series.release, default: ReleaseHealth()].serverErrors += gained
            case .pageViews: health[series.release, default: ReleaseHealth()].pageViews += gained
            case .browserErrors: health[series.release, default: ReleaseHealth()].browserErrors += gained
            }
        }
        return health
    }
}

/// Where a rollout reads the counters from: serve nodes' metrics, or Prometheus.
public protocol HealthSource: Sendable {
    /// Every source's series for `channel` now. Sources that fail are listed in `unreadable`.
    func sample(channel: String) -> HealthSample
}

/// How much worse than the stable release the canary may do before a rollout aborts, in
/// percentage points over the same interval, and how much traffic it needs before deciding.
public struct HealthThresholds: Sendable, Equatable {
    public var minRequests: Int = 100
    /// Points of 404 ratio above the stable release's.
    public var max404Increase: Double = 1
    public var max5xxIncrease: Double = 0.5
    /// Browser errors per 100 page views above the stable release's.
    public var maxErrorIncrease: Double = 2

    public init() {}

    public enum Verdict: Sendable, Equatable {
        /// Not enough canary requests yet: `have` of `need`.
        case waiting(have: Int, need: Int)
        case healthy(String)
        /// Why, with the figures: what the abort's history entry says.
        case breach(String)
    }

    /// One figure compared: the canary's bad of all against the stable release's.
    private struct Comparison {
        let name: String
        let unit: String
        let canary: (bad: Double, all: Double)
        let stable: (bad: Double, all: Double)
        let limit: Double
        /// False while the canary has too little of `unit` for the ratio to mean anything.
        let judged: Bool

        static func ratio(_ counts: (bad: Double, all: Double)) -> Double { counts.bad / max(counts.all, 1) }
        var isBreach: Bool { judged && (Self.ratio(canary) - Self.ratio(stable)) * 100 > limit }
    }

    /// The canary judged against the stable release over the same interval.
    public func judge(canary: ReleaseHealth, stable: ReleaseHealth, seconds: Int) -> Verdict {
        let over = "over \(seconds)s"
        func percent(_ ratio: Double) -> String { String(format: "%.1f%%", ratio * 100) }
        // A breach counts once the canary has had its share of traffic; until then, wait.
        guard canary.requests >= Double(minRequests) else { return .waiting(have: Int(canary.requests), need: minRequests) }
        let comparisons = [
            Comparison(name: "404 ratio", unit: "requests", canary: (canary.notFound, canary.requests),
                       stable: (stable.notFound, stable.requests), limit: max404Increase, judged: true),
            Comparison(name: "5xx ratio", unit: "requests", canary: (canary.serverErrors, canary.requests),
                       stable: (stable.serverErrors, stable.requests), limit: max5xxIncrease, judged: true),
            // Errors per page need pages to count over: a tenth of the requests asked for.
            Comparison(name: "browser errors per page view", unit: "page views", canary: (canary.browserErrors, canary.pageViews),
                       stable: (stable.browserErrors, stable.pageViews), limit: maxErrorIncrease,
                       judged: canary.pageViews >= max(1, Double(minRequests) / 10)),
        ]
        if let breach = comparisons.first(where: \.isBreach) {
            return .breach("\(breach.name): canary \(percent(Comparison.ratio(breach.canary))) (\(Int(breach.canary.bad)) of \(Int(breach.canary.all)) \(breach.unit)), "
                           + "stable \(percent(Comparison.ratio(breach.stable))) (\(Int(breach.stable.bad)) of \(Int(breach.stable.all))) \(over); "
                           + "limit +\(String(format: "%.1f", breach.limit)) points")
        }
        return .healthy("canary \(Int(canary.requests)) requests, 404 \(percent(canary.notFoundRatio)) (stable \(percent(stable.notFoundRatio))), "
                        + "5xx \(percent(canary.serverErrorRatio)) (\(percent(stable.serverErrorRatio))), "
                        + "errors/page \(String(format: "%.2f", canary.errorsPerPage)) (\(String(format: "%.2f", stable.errorsPerPage))) \(over)")
    }
}

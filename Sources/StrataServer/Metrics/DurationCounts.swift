/// The request-duration histogram (`strata_http_request_duration_seconds`), counted by bucket
/// where each request ends: one comparison or two per request on its loop, where handing every
/// duration over to swift-prometheus's histogram cost a lock and a search per value on the
/// metrics thread (5% of a 304's instructions).
struct DurationCounts: Sendable, Equatable {
    /// Upper bounds, in microseconds; `labels` are the same bounds in seconds, as `le` says them.
    static let bounds: [UInt32] = [250, 500, 1_000, 2_000, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 5_000_000]
    static let labels = ["0.00025", "0.0005", "0.001", "0.002", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "5.0"]

    /// Requests per bucket, not cumulative; the last counts those above every bound.
    private(set) var buckets = Array(repeating: 0, count: bounds.count + 1)
    private(set) var sumMicros: UInt64 = 0

    var count: Int { buckets.reduce(0, +) }

    mutating func record(micros: UInt32) {
        var bucket = 0
        while bucket < Self.bounds.count && micros > Self.bounds[bucket] { bucket += 1 }
        buckets[bucket] += 1
        sumMicros += UInt64(micros)
    }

    mutating func add(_ other: DurationCounts) {
        for bucket in buckets.indices { buckets[bucket] += other.buckets[bucket] }
        sumMicros += other.sumMicros
    }

    /// The histogram in Prometheus's text format: cumulative buckets, then `_sum` and `_count`.
    func exposition(name: String, help: String) -> String {
        var text = "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        var cumulative = 0
        for (bucket, label) in Self.labels.enumerated() {
            cumulative += buckets[bucket]
            text += "\(name)_bucket{le=\"\(label)\"} \(cumulative)\n"
        }
        cumulative += buckets[Self.bounds.count]
        text += "\(name)_bucket{le=\"+Inf\"} \(cumulative)\n"
        text += "\(name)_sum \(Double(sumMicros) / 1_000_000)\n"
        text += "\(name)_count \(cumulative)\n"
        return text
    }
}

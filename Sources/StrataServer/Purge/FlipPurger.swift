import AsyncHTTPClient
import CoreMetrics
import Foundation
import StrataCore
import Synchronization

/// Tells caches in front of the server to drop a channel's pages when the channel flips: each
/// target (`--purge`, `--on-flip`) gets the purge for the channel's tag on a worker of its own,
/// retried with backoff, each outcome said as an event and counted in the metrics. A target that
/// keeps failing is named on `/_strata/health` until a purge to it succeeds again.
///
/// Purges for one channel that queue up behind a slow target coalesce into one: each drops the
/// same tag. With several serve nodes, `claim` (the node's bucket) decides which node sends the
/// purge of a flip, so the caches get one purge per flip, not one per node.
public final class FlipPurger: Sendable {
    /// Whether this node sends the purge of a flip, and after how long.
    public enum Decision: Sendable {
        /// Send it after this many seconds (the time the other nodes need to switch too).
        case purge(after: TimeInterval)
        /// Another node sends it (or did, after this node had switched).
        case skip(String)
    }

    let targets: [PurgeTarget]
    private let claim: (@Sendable (PurgeRequest) -> Decision)?
    private let events: EventLog
    private let sender: PurgeSender
    private let client: HTTPClient
    /// Waits before the second, third, … attempt (the first goes at once).
    let retryDelays: [TimeInterval]
    private let workers: [Worker]
    private let claims = DispatchQueue(label: "strata.purge.claims")
    private let stopped = Atomic<Bool>(false)

    public static let standardRetryDelays: [TimeInterval] = [0.5, 1, 2, 4, 8, 16, 30]

    init(targets: [PurgeTarget], metrics: ServerMetrics, events: EventLog, retryDelays: [TimeInterval] = FlipPurger.standardRetryDelays,
         claim: (@Sendable (PurgeRequest) -> Decision)? = nil) {
        self.targets = targets
        self.claim = claim
        self.events = events
        self.retryDelays = retryDelays
        client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup,
                            configuration: HTTPClient.Configuration(timeout: .init(connect: .seconds(5), read: .seconds(10))))
        sender = PurgeSender(client: client)
        workers = targets.map { Worker(target: $0, metrics: metrics) }
    }

    /// A channel's served releases changed (or it ended): purge its tag everywhere.
    func flipped(_ purge: PurgeRequest) {
        guard !stopped.load(ordering: .relaxed) else { return }
        guard let claim else { return enqueue(purge, delay: 0) }
        claims.async { [self] in
            switch claim(purge) {
            case .purge(let delay): enqueue(purge, delay: delay)
            case .skip(let why):
                events.say(.info, "purge_skipped", "channel '\(purge.channel)' flipped: \(why)", [("channel", purge.channel), ("release", purge.release)])
                workers.forEach { $0.count(.skipped) }
            }
        }
    }

    private func enqueue(_ purge: PurgeRequest, delay: TimeInterval) {
        for worker in workers where worker.queue(purge.channel) {
            worker.dispatch.asyncAfter(deadline: .now() + delay) { [self] in
                worker.started(purge.channel)
                deliver(purge, with: worker)
            }
        }
    }

    private func deliver(_ purge: PurgeRequest, with worker: Worker) {
        let target = worker.target
        let started = Date()
        var failure = ""
        for attempt in 0...retryDelays.count {
            if stopped.load(ordering: .relaxed) { return }
            if attempt > 0 { Thread.sleep(forTimeInterval: retryDelays[attempt - 1]) }
            guard let problem = sender.send(purge, to: target) else {
                let millis = Int(Date().timeIntervalSince(started) * 1000)
                events.say(.notice, "purge", "purged \(purge.tag) at \(target.name) (channel '\(purge.channel)' now serves "
                           + "\(purge.release ?? "nothing")) after \(attempt + 1) attempt\(attempt == 0 ? "" : "s"), \(millis) ms",
                           [("channel", purge.channel), ("release", purge.release), ("previous", purge.previous), ("target", target.name),
                            ("attempts", String(attempt + 1))])
                worker.succeeded()
                return
            }
            failure = problem
            if attempt < retryDelays.count {
                events.say(.warn, "purge_retry", "purge of \(purge.tag) at \(target.name) failed: \(problem); retrying in "
                           + "\(Self.seconds(retryDelays[attempt])) (attempt \(attempt + 2) of \(retryDelays.count + 1))",
                           [("channel", purge.channel), ("target", target.name), ("reason", problem)])
                worker.count(.retried)
            }
        }
        events.say(.error, "purge_failed", "purge of \(purge.tag) at \(target.name) failed \(retryDelays.count + 1) times, last: \(failure); "
                   + "caches may serve channel '\(purge.channel)''s previous pages until their s-maxage ends",
                   [("channel", purge.channel), ("target", target.name), ("reason", failure)])
        worker.failed(failure)
    }

    private static func seconds(_ value: TimeInterval) -> String {
        value < 1 ? "\(Int(value * 1000)) ms" : "\(Int(value)) s"
    }

    /// nil while every target's last purge went through; else one line per failing target.
    public func problem() -> String? {
        let failing = workers.compactMap { $0.failure() }
        return failing.isEmpty ? nil : failing.joined(separator: "; ")
    }

    func stop() {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        try? client.syncShutdown()
    }

    /// One target's serial queue, what waits in it, and how its purges went.
    final class Worker: Sendable {
        enum Outcome: String, CaseIterable {
            case purged, retried, failed, skipped
        }

        let target: PurgeTarget
        let dispatch: DispatchQueue
        private let state = Mutex<State>(State())
        private let outcomes: [Outcome: CoreMetrics.Counter]
        private let failing: CoreMetrics.Gauge

        private struct State {
            var pending: Set<String> = []
            var failure: (since: String, reason: String)?
        }

        init(target: PurgeTarget, metrics: ServerMetrics) {
            self.target = target
            dispatch = DispatchQueue(label: "strata.purge \(target.name)")
            outcomes = Dictionary(uniqueKeysWithValues: Outcome.allCases.map { ($0, metrics.purgeCounter(target: target.name, outcome: $0.rawValue)) })
            failing = metrics.purgeFailingGauge(target: target.name)
            failing.record(0)
        }

        /// False when a purge of this channel already waits (the queued one covers this flip too).
        func queue(_ channel: String) -> Bool {
            state.withLock { $0.pending.insert(channel).inserted }
        }

        /// A flip from now on needs a purge of its own: this one may have gone out before it.
        func started(_ channel: String) {
            _ = state.withLock { $0.pending.remove(channel) }
        }

        func count(_ outcome: Outcome) {
            outcomes[outcome]?.increment()
        }

        func succeeded() {
            count(.purged)
            state.withLock { $0.failure = nil }
            failing.record(0)
        }

        func failed(_ reason: String) {
            count(.failed)
            state.withLock { state in
                state.failure = (state.failure?.since ?? Timestamp.now(), reason)
            }
            failing.record(1)
        }

        func failure() -> String? {
            state.withLock { state in state.failure.map { "purges to \(target.name) failing since \($0.since): \($0.reason)" } }
        }
    }
}

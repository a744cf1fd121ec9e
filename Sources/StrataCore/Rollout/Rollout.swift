import Foundation

/// `strata rollout`: a canary widened step by step, each step held for an interval and judged
/// against the stable release before the next, the last step a plain activate; aborted at once
/// (one conditional flip back) on a breach.
///
/// Every flip is conditional on the value the rollout itself wrote last: if anyone else moves the
/// channel meanwhile, the rollout stops (`StrataError.conflict`) and overrides nothing.
public struct Rollout: Sendable {
    public let store: Store
    public let release: String
    public let channel: String
    /// Percents, increasing, the last 100.
    public let steps: [Int]
    public let every: Duration
    public let thresholds: HealthThresholds
    /// nil: widen on time alone.
    public let health: (any HealthSource)?
    /// How often the pointer is checked for someone else's flip, and the canary for an early breach.
    public var poll: Duration = .seconds(1)

    public init(store: Store, release: String, channel: String, steps: [Int], every: Duration, thresholds: HealthThresholds,
                health: (any HealthSource)?) throws {
        guard !steps.isEmpty, steps.last == 100 else {
            throw StrataError(.invalidInput, "--steps must end with 100 (the last step sends everyone), like 5,25,50,100")
        }
        guard steps.allSatisfy({ (1...100).contains($0) }), zip(steps, steps.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw StrataError(.invalidInput, "--steps must be increasing percents from 1 to 100, like 5,25,50,100")
        }
        guard every >= .seconds(1) else { throw StrataError(.invalidInput, "--every must be at least 1s") }
        self.store = store
        self.release = release
        self.channel = channel
        self.steps = steps
        self.every = every
        self.thresholds = thresholds
        self.health = health
    }

    public enum Outcome: Sendable, Equatable {
        case completed
        /// Aborted on a breach: everyone is back on the stable release; why, with the figures.
        case aborted(String)
    }

    /// Runs the whole rollout; `say` gets one line per step and check.
    public func run(say: (String) -> Void) throws -> Outcome {
        let pointer = try Channels(store: store).pointer(for: channel)
        guard var expected = try pointer.readValue() else {
            throw StrataError(.notFound, "channel '\(channel)' has never been activated; a rollout needs a stable release to start from")
        }
        guard expected.id != release || expected.canary != nil else {
            throw StrataError(.invalidInput, "channel '\(channel)' already serves \(release) to everyone")
        }
        if let other = expected.canary, other.release != release {
            throw StrataError(.conflict, "channel '\(channel)' has a canary of \(other.release) at \(other.percent)%; end it first ('strata rollback' or 'strata activate')")
        }
        let stable = expected.id
        say("rollout of \(release) on channel '\(channel)' from \(stable): steps \(steps.map { "\($0)%" }.joined(separator: ", ")), every \(Self.text(every))")
        if health == nil { say("no health source (--watch, --prometheus): widening on time alone") }

        if let canary = expected.canary {
            // Resumed: the canary under way is held and judged before anything widens.
            say("resuming at \(canary.percent)%")
            if let breach = try hold(expected, pointer: pointer, stable: stable, say: say) {
                return try abort(expected, breach: breach, stable: stable, say: say)
            }
        }
        for step in steps {
            if let canary = expected.canary, step < 100, step <= canary.percent { continue }  // resumed past it
            if step == 100 {
                let flip = try pointer.move { current in
                    try Self.require(current, is: expected, channel: channel)
                    return Pointer.Move(PointerValue(release), action: .activate)
                }
                say("complete: channel '\(channel)' serves \(flip.to) to everyone")
                return .completed
            }
            let flip = try pointer.move { current in
                try Self.require(current, is: expected, channel: channel)
                return Pointer.Move(PointerValue(stable, canary: Canary(release: release, percent: step)), action: .canary)
            }
            expected = PointerValue(stable, canary: flip.canary, expires: flip.expires)
            say("canary at \(step)%")
            if let breach = try hold(expected, pointer: pointer, stable: stable, say: say) {
                return try abort(expected, breach: breach, stable: stable, say: say)
            }
        }
        return .completed  // not reached: the last step is 100
    }

    /// One conditional flip back to stable, the breach in its history entry.
    private func abort(_ expected: PointerValue, breach: String, stable: String, say: (String) -> Void) throws -> Outcome {
        _ = try Channels(store: store).abortCanary(channel: channel, reason: "rollout: \(breach)", expected: expected)
        say("aborted: \(breach); everyone is back on \(stable)")
        return .aborted(breach)
    }

    /// Waits out one step: at least `every`, longer while the canary lacks traffic. Returns the
    /// breach, if any; throws when someone else moved the channel.
    private func hold(_ expected: PointerValue, pointer: Pointer, stable: String, say: (String) -> Void) throws -> String? {
        let clock = ContinuousClock()
        let started = clock.now
        var deadline = started + every
        let baseline = health?.sample(channel: channel)
        while true {
            let wait = clock.now.duration(to: min(deadline, clock.now + poll))
            if wait > .zero { Thread.sleep(forTimeInterval: Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18) }
            try Self.require(try pointer.readValue(), is: expected, channel: channel)
            guard let health, let baseline else {
                if clock.now >= deadline { return nil }
                continue
            }
            let sample = health.sample(channel: channel)
            let gained = sample.since(baseline)
            let seconds = Int((clock.now - started).components.seconds)
            let verdict = thresholds.judge(canary: gained[release] ?? ReleaseHealth(), stable: gained[stable] ?? ReleaseHealth(), seconds: seconds)
            if case .breach(let why) = verdict { return why }
            guard clock.now >= deadline else { continue }
            switch verdict {
            case .healthy(let figures) where sample.unreadable.isEmpty:
                say("healthy: \(figures)")
                return nil
            case .healthy:
                say("waiting: cannot read \(sample.unreadable.joined(separator: "; "))")
            case .waiting(let have, let need):
                say("waiting: the canary has had \(have) of the \(need) requests needed to judge it" + (sample.unreadable.isEmpty ? "" : "; cannot read \(sample.unreadable.joined(separator: "; "))"))
            case .breach:
                break
            }
            deadline = clock.now + every
        }
    }

    private static func require(_ current: PointerValue?, is expected: PointerValue, channel: String) throws {
        guard current != expected else { return }
        throw StrataError(.conflict, "channel '\(channel)' was moved by someone else (it serves \(current.map(Channels.describe) ?? "nothing"), not \(Channels.describe(expected))); the rollout stops and changes nothing")
    }

    /// `10m`, `2s`, `1h30m` → a duration; nil when not one.
    public static func duration(_ text: String) -> Duration? {
        var total = 0
        var number = ""
        var sawUnit = false
        for character in text {
            if character.isASCII, character.isNumber { number.append(character); continue }
            guard let value = Int(number) else { return nil }
            switch character {
            case "h": total += value * 3600
            case "m": total += value * 60
            case "s": total += value
            default: return nil
            }
            number = ""
            sawUnit = true
        }
        guard number.isEmpty, sawUnit, total > 0 else { return nil }
        return .seconds(total)
    }

    static func text(_ duration: Duration) -> String {
        let seconds = Int(duration.components.seconds)
        if seconds % 3600 == 0 { return "\(seconds / 3600)h" }
        if seconds % 60 == 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }
}

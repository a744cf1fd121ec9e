import Foundation
import StrataCore
import StrataTestSupport
import Testing

/// Canaries in the store: the pointer's second line, the flips that start, widen and end one, and
/// what prune and rollback make of them.
@Suite struct CanaryTests {
    func withReleases(_ body: (TestStore, [String]) throws -> Void) throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let ids = try store.publishNumberedReleases(3, sitesIn: folder)
            _ = try store.channels.activate(ids[0], channel: "current")
            try body(store, ids)
        }
    }

    func pointerText(_ store: TestStore, _ channel: String = "current") throws -> String {
        try String(contentsOfFile: store.root + "/channels/" + channel, encoding: .utf8)
    }

    @Test func aCanaryIsASecondLineAfterTheStableIdAndEachChangeIsAHistoryEntry() throws {
        try withReleases { store, ids in
            let started = try store.channels.startCanary(ids[1], percent: 10, channel: "current")
            #expect(started.changed && started.action == .canary && started.from == ids[0] && started.to == ids[1])
            #expect(try pointerText(store) == "\(ids[0])\ncanary \(ids[1]) 10\n")
            #expect(try store.channels.pointer("current") == ids[0])  // what most visitors get

            _ = try store.channels.startCanary(ids[1], percent: 50, channel: "current", expected: ids[0])
            _ = try store.channels.startCanary(ids[1], percent: 25, channel: "current")  // narrowing is allowed
            let state = try #require(try store.channels.all().first)
            #expect(state.release == ids[0] && state.canary == Canary(release: ids[1], percent: 25) && state.canarySince != nil)
            let history = try store.channels.history("current")
            #expect(history.map(\.action) == [.activate, .canary, .canary, .canary])
            #expect(history.compactMap(\.percent) == [10, 50, 25])
            #expect(history.dropFirst().allSatisfy { $0.from == ids[0] && $0.to == ids[1] })
        }
    }

    @Test func aPlainActivateEndsTheCanaryWithEveryoneOnTheRelease() throws {
        try withReleases { store, ids in
            _ = try store.channels.startCanary(ids[1], percent: 10, channel: "current")
            let flip = try store.channels.activate(ids[1], channel: "current")
            #expect(flip.changed && flip.action == .activate && flip.from == ids[0] && flip.to == ids[1])
            #expect(try pointerText(store) == ids[1] + "\n")
            // And a rollback after it goes back to the release that was stable.
            #expect(try store.channels.rollback(channel: "current").to == ids[0])
        }
    }

    @Test func aRollbackDuringACanaryEndsItWithEveryoneOnTheStableReleaseAsAnAbort() throws {
        try withReleases { store, ids in
            _ = try store.channels.activate(ids[1], channel: "current")
            _ = try store.channels.startCanary(ids[2], percent: 30, channel: "current")
            let flip = try store.channels.rollback(channel: "current")
            #expect(flip.action == .abort && flip.from == ids[2] && flip.to == ids[1])
            #expect(try pointerText(store) == ids[1] + "\n")
            let abort = try #require(try store.channels.history("current").last)
            #expect(abort.action == .abort && abort.reason?.hasPrefix("rolled back by ") == true)
            // The canary never went live for everyone: the next rollback steps back past the stable one.
            #expect(try store.channels.rollback(channel: "current").to == ids[0])
        }
    }

    @Test func refusedCanariesChangeNothing() throws {
        try withReleases { store, ids in
            _ = try store.channels.startCanary(ids[1], percent: 10, channel: "current")
            let before = try snapshot(store.root)
            for percent in [0, 100, -5] {
                #expect(throws: StrataError.self) { try store.channels.startCanary(ids[1], percent: percent, channel: "current") }
            }
            // Another release while one is under way; the stable release itself; a stale --expect.
            #expect { try store.channels.startCanary(ids[2], percent: 10, channel: "current") } throws: { ($0 as? StrataError)?.kind == .conflict }
            #expect { try store.channels.startCanary(ids[0], percent: 10, channel: "current") } throws: { ($0 as? StrataError)?.kind == .invalidInput }
            #expect { try store.channels.startCanary(ids[1], percent: 20, channel: "current", expected: ids[2]) } throws: { ($0 as? StrataError)?.kind == .conflict }
            #expect { try store.channels.startCanary(ids[1], percent: 20, channel: "never") } throws: { ($0 as? StrataError)?.kind == .notFound }
            #expect { try store.channels.startCanary("0000000000000000", percent: 20, channel: "current") } throws: { ($0 as? StrataError)?.kind == .notFound }
            // An abort conditional on a value the pointer no longer holds.
            #expect { try store.channels.abortCanary(channel: "current", reason: "x", expected: PointerValue(ids[0], canary: Canary(release: ids[1], percent: 50))) }
                throws: { ($0 as? StrataError)?.kind == .conflict }
            #expect(try snapshot(store.root) == before)
        }
    }

    @Test func pruneKeepsTheCanaryReleaseAsLive() throws {
        try withReleases { store, ids in
            _ = try store.channels.startCanary(ids[1], percent: 10, channel: "current")
            let plan = try Pruner(store: store.store).plan(keep: 1)
            let canary = try #require(plan.keep.first { $0.release.id == ids[1] })
            #expect(canary.reasons.contains(.live))
        }
    }

    @Test func onlyExactCanaryPointersParse() throws {
        try withReleases { store, ids in
            let path = store.root + "/channels/current"
            let bad = [
                "\(ids[0])\ncanary \(ids[1]) 0\n", "\(ids[0])\ncanary \(ids[1]) 100\n", "\(ids[0])\ncanary \(ids[1]) 050\n",
                "\(ids[0])\ncanary \(ids[0]) 10\n", "\(ids[0])\ncanary \(ids[1]) 10\nmore\n", "\(ids[0])\ncanary \(ids[1])\n",
                "\(ids[0])\ncanary  \(ids[1]) 10\n", "\(ids[0])\nCANARY \(ids[1]) 10\n", "\(ids[0])\ncanary ../../etc 10\n",
                "\(ids[0])\ncanary \(ids[1]) 10 \n", "\(ids[0])\ncanary \(ids[1]) +10\n",
            ]
            for text in bad {
                try text.write(toFile: path, atomically: true, encoding: .utf8)
                #expect(throws: StrataError.self, "\(text)") { try store.channels.pointer("current") }
            }
            try "\(ids[0])\ncanary \(ids[1]) 7\n".write(toFile: path, atomically: true, encoding: .utf8)
            #expect(try store.channels.pointer(for: "current").readValue() == PointerValue(ids[0], canary: Canary(release: ids[1], percent: 7)))
            // A config pointer never holds a canary.
            _ = try ChannelConfigs(store: store.store).set(["A": "1"], channel: "current")
            let configPath = store.root + "/configs/channels/current"
            let id = try String(contentsOfFile: configPath, encoding: .utf8)
            try (id + "canary \(ids[1]) 7\n").write(toFile: configPath, atomically: true, encoding: .utf8)
            #expect(throws: StrataError.self) { try ChannelConfigs(store: store.store).current("current") }
        }
    }

    @Test func healthIsJudgedOnlyWithEnoughTrafficAndAgainstTheStableRelease() {
        var thresholds = HealthThresholds()
        thresholds.minRequests = 100
        var canary = ReleaseHealth()
        canary.requests = 99
        canary.notFound = 99
        #expect(thresholds.judge(canary: canary, stable: ReleaseHealth(), seconds: 5) == .waiting(have: 99, need: 100))
        canary.requests = 200
        canary.notFound = 3  // 1.5%
        var stable = ReleaseHealth()
        stable.requests = 1000
        stable.notFound = 10  // 1.0%: 0.5 points worse, within +1
        guard case .healthy = thresholds.judge(canary: canary, stable: stable, seconds: 5) else { Issue.record("expected healthy"); return }
        canary.notFound = 5  // 2.5%: 1.5 points worse
        guard case .breach(let why) = thresholds.judge(canary: canary, stable: stable, seconds: 5) else { Issue.record("expected a breach"); return }
        #expect(why == "404 ratio: canary 2.5% (5 of 200 requests), stable 1.0% (10 of 1000) over 5s; limit +1.0 points")
        canary.notFound = 0
        canary.pageViews = 50
        canary.browserErrors = 5  // 10 per 100 page views
        guard case .breach(let errors) = thresholds.judge(canary: canary, stable: stable, seconds: 5) else { Issue.record("expected a breach"); return }
        #expect(errors.hasPrefix("browser errors per page view: canary 10.0% (5 of 50 page views)"))
    }

    @Test func aSampleCountsACounterResetAsNewTraffic() {
        func sample(_ requests: Double) -> HealthSample {
            var sample = HealthSample()
            sample.add(source: "node1", name: "strata_release_responses_total", labels: ["channel": "current", "release": "aaaaaaaaaaaaaaaa", "class": "2xx"],
                       value: requests, channel: "current")
            sample.add(source: "node1", name: "strata_release_responses_total", labels: ["channel": "other", "release": "aaaaaaaaaaaaaaaa", "class": "404"],
                       value: 1000, channel: "current")  // another channel: ignored
            return sample
        }
        #expect(sample(150).since(sample(100))["aaaaaaaaaaaaaaaa"]?.requests == 50)
        #expect(sample(30).since(sample(100))["aaaaaaaaaaaaaaaa"]?.requests == 30)  // the node restarted
        #expect(sample(30).since(HealthSample())["aaaaaaaaaaaaaaaa"]?.notFound == 0)
    }

    @Test func rolloutStepsAndDurationsAreChecked() throws {
        #expect(Rollout.duration("10m") == .seconds(600))
        #expect(Rollout.duration("1h30m") == .seconds(5400))
        #expect(Rollout.duration("2s") == .seconds(2))
        for bad in ["", "10", "m", "10x", "-5s", "0s"] { #expect(Rollout.duration(bad) == nil, "\(bad)") }
        try withReleases { store, ids in
            for steps in [[5, 25], [50, 25, 100], [0, 100], [5, 5, 100], [5, 150]] {
                #expect(throws: StrataError.self, "\(steps)") {
                    try Rollout(store: store.store, release: ids[1], channel: "current", steps: steps, every: .seconds(1),
                                thresholds: HealthThresholds(), health: nil)
                }
            }
        }
    }
}

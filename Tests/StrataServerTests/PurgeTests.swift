import Foundation
import StrataCore
import StrataServer
import StrataTestSupport
import Synchronization
import Testing

/// Purges on flip: what each kind of target is sent, when, and what happens when it fails.
@Suite struct PurgeTests {
    /// Events said by a server, kept for a test to read.
    final class Said: Sendable {
        let lines = Mutex<[String]>([])
        var events: EventLog { EventLog(format: .json) { line in self.lines.withLock { $0.append(line) } } }
        func containing(_ text: String) -> [String] { lines.withLock { $0.filter { $0.contains(text) } } }
    }

    @Test func aFlipIsPurgedInVarnishCloudflareAndFastlyFormsAndByCommand() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            let recorder = try PurgeRecorder(recordIn: folder)
            let environment = ["CLOUDFLARE_API_TOKEN": "cf-token", "FASTLY_API_TOKEN": "fastly-token"]
            let flips = folder + "/flips.txt"
            let said = Said()
            try withServer(served.store, {
                $0.events = said.events
                $0.purgeTargets = [
                    try! PurgeTarget.parse(recorder.url + "/", environment: environment),
                    try! PurgeTarget.parse("ban+" + recorder.url + "/ban", environment: environment),
                    try! PurgeTarget.parse(recorder.url + "/client/v4/zones/zone123/purge_cache", environment: environment),
                    try! PurgeTarget.parse(recorder.url + "/service/svc9/purge", environment: environment),
                    .command("echo \"$1 $2 $3 $STRATA_CACHE_TAG\" >> '\(flips)'"),
                ]
            }) { port, _ in
                Thread.sleep(forTimeInterval: 0.3)
                #expect(recorder.requests().isEmpty, "starting is no flip")
                let started = Date()
                _ = try served.store.channels.activate(served.v2, channel: "current")
                let sent = recorder.wait(for: 4)
                #expect(Date().timeIntervalSince(started) < 1, "purged within a second of the flip")
                #expect(sent.count == 4, "\(sent.map(\.path))")
                let byPath = Dictionary(sent.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
                let purge = try #require(byPath["/"])
                #expect(purge.method == "PURGE" && purge.headers["xkey-purge"] == "strata-channel-current")
                let ban = try #require(byPath["/ban"])
                #expect(ban.method == "BAN" && ban.headers["xkey-purge"] == "strata-channel-current")
                let cloudflare = try #require(byPath["/client/v4/zones/zone123/purge_cache"])
                #expect(cloudflare.method == "POST" && cloudflare.headers["authorization"] == "Bearer cf-token")
                #expect(cloudflare.headers["content-type"] == "application/json" && cloudflare.body == #"{"tags":["strata-channel-current"]}"#)
                let fastly = try #require(byPath["/service/svc9/purge"])
                #expect(fastly.method == "POST" && fastly.headers["fastly-key"] == "fastly-token")
                #expect(fastly.body == #"{"surrogate_keys":["strata-channel-current"]}"#)
                for _ in 0..<50 where ((try? String(contentsOfFile: flips, encoding: .utf8)) ?? "").isEmpty { Thread.sleep(forTimeInterval: 0.05) }
                #expect(try String(contentsOfFile: flips, encoding: .utf8) == "current \(served.v2) \(served.v1) strata-channel-current\n")
                for _ in 0..<50 where said.containing("\"event\":\"purge\"").count < 5 { Thread.sleep(forTimeInterval: 0.05) }
                #expect(said.containing("\"event\":\"purge\"").count == 5, "\(said.lines.withLock { $0 })")

                // A canary starting changes what visitors get: purged too. Flipping to what is live is not.
                _ = try served.store.channels.startCanary(served.v1, percent: 10, channel: "current")
                #expect(recorder.wait(for: 8).count == 8)
                _ = try served.store.channels.abortCanary(channel: "current", reason: "test")
                #expect(recorder.wait(for: 12).count == 12)
                _ = try served.store.channels.activate(served.v2, channel: "current")
                Thread.sleep(forTimeInterval: 0.4)
                #expect(recorder.requests().count == 12)
                let metrics = String(decoding: try request(port, "/_strata/metrics").body, as: UTF8.self)
                #expect(metrics.contains("strata_purges_total{target=\"\(recorder.url)/client/v4/zones/zone123/purge_cache\",outcome=\"purged\"} 3"),
                        "\(metrics.split(separator: "\n").filter { $0.contains("purge") })")
            }
        }
    }

    @Test func anExpiringChannelIsPurgedWhenItEnds() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            _ = try served.store.channels.activate(served.v2, channel: "pr-5", expires: .some(PointerValue.now() + 2))
            let flips = folder + "/flips.txt"
            try withServer(served.store, {
                $0.channelHosts = ["*.pr.example.com"]
                $0.purgeTargets = [.command("echo \"$1 [$2] $3\" >> '\(flips)'")]
            }) { _, _ in
                // A channel made while serving is found (listed every 2 s) and counts as flipped.
                _ = try served.store.channels.activate(served.v1, channel: "pr-6")
                Thread.sleep(forTimeInterval: 3.5)
                let lines = ((try? String(contentsOfFile: flips, encoding: .utf8)) ?? "").split(separator: "\n").sorted()
                #expect(lines == ["pr-5 [] \(served.v2)", "pr-6 [\(served.v1)] "], "\(lines)")
            }
        }
    }

    @Test func aFailingPurgeIsRetriedAndOneThatKeepsFailingShowsOnHealth() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            let flaky = try PurgeRecorder(recordIn: folder, ["--fail", "2"])
            let down = try PurgeRecorder(recordIn: folder, ["--always-fail"])
            let said = Said()
            try withServer(served.store, {
                $0.events = said.events
                $0.purgeRetryDelays = [0.1, 0.2, 0.2]
                $0.purgeTargets = [try! PurgeTarget.parse(flaky.url + "/", environment: [:]),
                                   try! PurgeTarget.parse(down.url + "/", environment: [:])]
            }) { port, _ in
                _ = try served.store.channels.activate(served.v2, channel: "current")
                #expect(flaky.wait(for: 3).count == 3, "two failures, then the retry that works")
                #expect(down.wait(for: 4).count == 4, "every attempt")
                Thread.sleep(forTimeInterval: 0.3)
                #expect(down.requests().count == 4, "and no more")
                #expect(said.containing("purge_retry").count == 5)
                #expect(said.containing("\"event\":\"purge_failed\"").count == 1)
                let health = try request(port, "/_strata/health")
                let text = String(decoding: health.body, as: UTF8.self)
                #expect(health.status == 200 && text.hasPrefix("ok \(served.v2)\n"))
                #expect(text.contains("purge: purges to \(down.url)/ failing since ") && text.contains("500 Internal Server Error"), "\(text)")
                #expect(!text.contains(flaky.url), "a purge that went through in the end is not a problem")
                let metrics = String(decoding: try request(port, "/_strata/metrics").body, as: UTF8.self)
                #expect(metrics.contains("strata_purge_failing{target=\"\(down.url)/\"} 1"))
                #expect(metrics.contains("strata_purges_total{target=\"\(flaky.url)/\",outcome=\"retried\"} 2"))
            }
        }
    }

    @Test func badPurgeTargetsAreOneLineEach() {
        let cases: [(String, [String: String], String)] = [
            ("ftp://cache.example.com/", [:], "is not an http:// or https:// URL"),
            ("varnish:6081", [:], "is not an http:// or https:// URL"),
            ("http://user:secret@cache.example.com/", [:], "carries credentials"),
            ("https://api.cloudflare.com/client/v4/zones/abc/purge_cache", [:], "set CLOUDFLARE_API_TOKEN"),
            ("https://api.fastly.com/service/abc/purge", ["FASTLY_API_TOKEN": ""], "set FASTLY_API_TOKEN"),
            ("ban+https://api.fastly.com/service/abc/purge", ["FASTLY_API_TOKEN": "x"], "ban+ is for Varnish"),
        ]
        for (url, environment, said) in cases {
            let error = #expect(throws: StrataError.self, "\(url)") { try PurgeTarget.parse(url, environment: environment) }
            #expect(error?.message.contains(said) == true && error?.message.contains("\n") == false, "\(url): \(error?.message ?? "-")")
        }
    }
}

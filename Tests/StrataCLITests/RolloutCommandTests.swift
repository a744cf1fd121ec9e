import Foundation
import StrataCore
import StrataTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `strata rollout` against a real `strata serve` with traffic: it widens a healthy canary step by
/// step, aborts a broken one within one interval with the figures in the history, and stops when
/// someone else flips the channel.
@Suite struct RolloutCommandTests {
    /// A stable release and a canary that lacks `/pricing/`, published into `folder/store`.
    struct Releases {
        let root: String
        let stable: String
        let canary: String
        let third: String

        init(in folder: String) throws {
            root = folder + "/store"
            func publish(_ name: String, _ files: [String: String]) throws -> String {
                let site = try makeSite(in: folder, name: name, files: files)
                return try strata(["publish", site, "--root", folder + "/store"]).stdout.trimmingCharacters(in: .newlines)
            }
            stable = try publish("stable", ["index.html": "stable", "pricing/index.html": "prices"])
            canary = try publish("canary", ["index.html": "canary"])
            third = try publish("third", ["index.html": "third", "pricing/index.html": "prices 3"])
            _ = try strata(["activate", stable, "--root", root])
        }
    }

    func history(_ root: String) throws -> [HistoryEntry] {
        try JSONDecoder().decode([HistoryEntry].self, from: Data(try strata(["history", "--root", root, "--json"]).stdout.utf8))
    }

    @Test func aRolloutWhoseCanaryLacksAPageVisitorsAskForAbortsWithinOneIntervalWithTheFigures() throws {
        try withTemporaryDirectory { folder in
            let releases = try Releases(in: folder)
            let server = try ServeProcess(["--root", releases.root])
            let traffic = Traffic(port: server.port, paths: ["/", "/pricing/"])
            defer { traffic.stop() }
            let started = Date()
            let result = try strata(["rollout", releases.canary, "--root", releases.root, "--steps", "10,50,100", "--every", "2s",
                                     "--watch", "http://127.0.0.1:\(server.port)", "--min-requests", "20"])
            let took = Date().timeIntervalSince(started)
            #expect(result.status == 2, "\(result.stdout)\(result.stderr)")
            #expect(result.stderr.hasPrefix("error: rollout of \(releases.canary) aborted: 404 ratio: canary "), "\(result.stderr)")
            #expect(took < 2 + 2.5, "aborted after \(took) s, more than one interval")
            #expect(try String(contentsOfFile: releases.root + "/channels/current", encoding: .utf8) == releases.stable + "\n")
            let entries = try history(releases.root)
            #expect(entries.map(\.action).suffix(2) == [.canary, .abort])
            let abort = try #require(entries.last)
            #expect(abort.from == releases.canary && abort.to == releases.stable)
            #expect(abort.reason?.range(of: #"^rollout: 404 ratio: canary [0-9.]+% \([0-9]+ of [0-9]+ requests\), stable 0\.0% \(0 of [0-9]+\) over [0-9]+s; limit \+1\.0 points$"#,
                                        options: .regularExpression) != nil, "\(abort.reason ?? "-")")
            #expect(try strata(["history", "--root", releases.root]).stdout.contains("rollout: 404 ratio"))
        }
    }

    @Test func aHealthyRolloutWalksEveryStepAndEndsWithEveryoneOnTheRelease() throws {
        try withTemporaryDirectory { folder in
            let releases = try Releases(in: folder)
            let server = try ServeProcess(["--root", releases.root])
            let traffic = Traffic(port: server.port, paths: ["/"])
            defer { traffic.stop() }
            let result = try strata(["rollout", releases.canary, "--root", releases.root, "--steps", "10,50,100", "--every", "1s",
                                     "--watch", "http://127.0.0.1:\(server.port)/_strata/metrics", "--min-requests", "10"])
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            #expect(result.stdout.contains("canary at 10%") && result.stdout.contains("canary at 50%") && result.stdout.contains("healthy: canary "))
            #expect(result.stdout.contains("complete: channel 'current' serves \(releases.canary) to everyone"))
            #expect(try String(contentsOfFile: releases.root + "/channels/current", encoding: .utf8) == releases.canary + "\n")
            let entries = try history(releases.root).suffix(3)
            #expect(entries.map(\.action) == [.canary, .canary, .activate])
            #expect(entries.compactMap(\.percent) == [10, 50])
            let status = try strata(["status", "--root", releases.root, "--json"]).stdout
            #expect(!status.contains("\"canary\""))
        }
    }

    @Test func aFlipBySomeoneElseStopsTheRolloutWithExit3AndIsNeverOverridden() throws {
        try withTemporaryDirectory { folder in
            let releases = try Releases(in: folder)
            let rollout = try ChildProcess(strataExecutable, ["rollout", releases.canary, "--root", releases.root, "--every", "60s", "--no-gates"],
                                           standardError: .pipe)
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline, (try? String(contentsOfFile: releases.root + "/channels/current", encoding: .utf8))?.contains("canary") != true {
                usleep(50_000)
            }
            let status = try strata(["status", "--root", releases.root]).stdout
            #expect(status.contains("\(releases.canary) 5%"), "\(status)")
            #expect(try strata(["activate", releases.third, "--root", releases.root]).status == 0)
            let flipped = Date()
            rollout.waitUntilExit()
            #expect(Date().timeIntervalSince(flipped) < 3)
            #expect(rollout.terminationStatus == 3)
            let said = String(decoding: rollout.standardError!.readDataToEndOfFile(), as: UTF8.self)
            #expect(said.contains("was moved by someone else") && said.contains(releases.third), "\(said)")
            #expect(try String(contentsOfFile: releases.root + "/channels/current", encoding: .utf8) == releases.third + "\n")
            #expect(try history(releases.root).last?.to == releases.third)
        }
    }

    @Test func aRolloutRunAgainResumesFromTheCanaryUnderWay() throws {
        try withTemporaryDirectory { folder in
            let releases = try Releases(in: folder)
            _ = try strata(["activate", releases.canary, "--canary", "50", "--root", releases.root])
            let result = try strata(["rollout", releases.canary, "--root", releases.root, "--steps", "10,50,100", "--every", "1s", "--no-gates"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("resuming at 50%") && !result.stdout.contains("canary at 10%"), "\(result.stdout)")
            #expect(try history(releases.root).map(\.action).suffix(2) == [.canary, .activate])
        }
    }

    @Test func badRolloutRequestsAreOneLineAndChangeNothing() throws {
        try withTemporaryDirectory { folder in
            let releases = try Releases(in: folder)
            let before = try snapshot(releases.root)
            let cases: [([String], Int32, String)] = [
                (["--steps", "5,25", "--no-gates"], 1, "--steps must end with 100"),
                (["--steps", "50,25,100", "--no-gates"], 1, "--steps must be increasing"),
                (["--steps", "five", "--no-gates"], 64, "--steps wants percents"),
                (["--every", "soon", "--no-gates"], 64, "--every wants a duration"),
                ([], 64, "a rollout checks health before each widening"),
                (["--watch", "ftp://x", "--every", "1s"], 1, "--watch wants a server's metrics URL"),
                (["--prometheus", "nowhere", "--every", "1s"], 1, "--prometheus wants Prometheus's address"),
                (["--max-404-increase=-1", "--no-gates"], 64, "in percentage points"),
            ]
            for (arguments, status, message) in cases {
                let result = try strata(["rollout", releases.canary, "--root", releases.root] + arguments)
                #expect(result.status == status, "\(arguments): \(result.stderr)")
                #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
            }
            let unknown = try strata(["rollout", "ffff", "--root", releases.root, "--no-gates"])
            #expect(unknown.status == 1 && unknown.stderr.split(separator: "\n").count == 1)
            // The stable release itself, and a canary of another release under way.
            let same = try strata(["rollout", releases.stable, "--root", releases.root, "--no-gates"])
            #expect(same.status == 1 && same.stderr.contains("already serves"), "\(same.stderr)")
            #expect(try snapshot(releases.root) == before)
            _ = try strata(["activate", releases.third, "--canary", "10", "--root", releases.root])
            let other = try strata(["rollout", releases.canary, "--root", releases.root, "--no-gates"])
            #expect(other.status == 3 && other.stderr.contains("has a canary of \(releases.third)"), "\(other.stderr)")
        }
    }
}

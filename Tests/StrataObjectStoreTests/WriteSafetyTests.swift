import Foundation
import StrataCore
import StrataObjectStore
import StrataTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Writers on a bucket: refused where the service ignores conditional writes, and ordered by the
/// lease lock where it does not, so the invariants the local flock gives hold on S3 too.
@Suite struct WriteSafetyTests {
    static func start(_ arguments: [String], environment extra: [String: String] = [:]) throws -> ChildProcess {
        try ChildProcess(strataExecutable, arguments, environment: ProcessInfo.processInfo.environment
            .merging(MotoServer.shared.environment) { _, new in new }.merging(extra) { _, new in new })
    }

    static func id(_ result: (status: Int32, stdout: String, stderr: String)) -> String {
        result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func aServiceThatIgnoresConditionalWritesIsRefusedByEveryWriterAndStillRead() throws {
        let bucket = try TestBucket.make()
        let root = ["--root", bucket.root]
        let v1 = Self.id(try strataS3(["publish", fixtures + "/aurora-v1", "--label", "v1", "--activate"] + root))
        let v2 = Self.id(try strataS3(["publish", fixtures + "/aurora-v2", "--label", "v2"] + root))
        #expect(try strataS3(["activate", "v2", "--channel", "staging"] + root).status == 0)
        #expect(try strataS3(["activate", "v2"] + root).status == 0 && strataS3(["activate", "v1"] + root).status == 0)
        let proxy = try FaultProxy(mode: ["ignore-conditions"])
        let through = ["AWS_ENDPOINT_URL_S3": proxy.endpoint]
        try withTemporaryDirectory { folder in
            #expect(try strata(["export", v1, "-o", folder + "/v1.tar.gz", "--root", bucket.root],
                               environment: MotoServer.shared.environment).status == 0)
            let before = try bucket.keys()
            let site = try makeSite(in: folder, name: "v3", files: ["index.html": "<p>three</p>"])
            let writers: [[String]] = [
                ["publish", site, "--label", "v3"], ["publish", site, "--activate"], ["import", folder + "/v1.tar.gz"],
                ["activate", "v2"], ["activate", v2, "--expect", v1], ["rollback"], ["rollback", "--channel", "staging", "--to", "v1"],
                ["promote", "--from", "staging", "--to", "current"], ["pin", "v1"], ["unpin", "v1"], ["prune", "--keep", "1"],
                ["config", "set", "API=x"],
            ]
            for writer in writers {
                let refused = try strataS3(writer + root, environment: through)
                #expect(refused.status == 1, "\(writer): \(refused.stderr)")
                #expect(refused.stderr == "error: \(bucket.root) (\(proxy.endpoint) bucket \(bucket.name)) does not enforce If-None-Match/If-Match on PUT, so flips could be lost; Strata will not write there\n",
                        "\(writer): \(refused.stderr)")
            }
            #expect(try bucket.keys() == before, "nothing written (the probe was removed)")
            // Readers still work through the same service.
            for reader in [["releases"], ["status"], ["history"], ["verify"], ["check", "v1"], ["diff", "v1", "v2"]] {
                let read = try strataS3(reader + root, environment: through)
                #expect(read.status == 0, "\(reader): \(read.stderr)")
            }
            #expect(try strataS3(["export", "v1", "-o", folder + "/again.tar.gz"] + root, environment: through).status == 0)
            let node = try ServeNodeTests.Node(["--root", bucket.root, "--cache", folder + "/cache", "--poll", "100ms"], environment: through)
            #expect(try node.release() == v1, "a serve node reads through it")
        }
        // And moto itself, which enforces the conditions, is written to as before.
        #expect(try strataS3(["activate", "v2"] + root).status == 0)
    }

    @Test func eightConcurrentPublishesWithOneLabelGiveItToExactlyOne() throws {
        let bucket = try TestBucket.make()
        try withTemporaryDirectory { folder in
            // Earlier releases make the label check read their manifests: a window the lock must close.
            for number in 0..<12 {
                _ = try strataS3(["publish", try makeSite(in: folder, name: "old\(number)", files: ["index.html": "old \(number)"]), "--root", bucket.root])
            }
            let sites = try (0..<8).map { try makeSite(in: folder, name: "build\($0)", files: ["index.html": "<p>build \($0)</p>"]) }
            let publishes = try sites.map { try Self.start(["publish", $0, "--label", "v1", "--root", bucket.root]) }
            publishes.forEach { $0.waitUntilExit() }
            let statuses = publishes.map(\.terminationStatus).sorted()
            #expect(statuses == [0, 3, 3, 3, 3, 3, 3, 3], "one winner, seven refused (exit 3): \(statuses)")
            let releases = try strataS3(["releases", "--json", "--root", bucket.root]).stdout
            #expect(releases.components(separatedBy: "\"v1\"").count - 1 == 1, "\(releases)")
        }
    }

    /// Prune racing a pin, an activate or a rollback: whatever the interleaving, no pointer names a
    /// removed release and no pinned release is removed.
    @Test(arguments: ["pin", "activate", "rollback"]) func pruneRacingAFlipNeverLeavesAPointerOrPinDangling(_ racer: String) throws {
        let bucket = try TestBucket.make()
        let root = ["--root", bucket.root]
        try withTemporaryDirectory { folder in
            let live = try makeSite(in: folder, name: "live", files: ["index.html": "live"])
            let target = try makeSite(in: folder, name: "target", files: ["index.html": "target"])
            let liveID = Self.id(try strataS3(["publish", live, "--activate"] + root))
            for round in 0..<20 {
                // The target is old and unreferenced (prune's to remove) until the racer makes it needed.
                let targetID = Self.id(try strataS3(["publish", target] + root))
                let newest = Self.id(try strataS3(["publish", try makeSite(in: folder, name: "newest\(round)", files: ["index.html": "newest \(round)"])] + root))
                if racer == "rollback" {
                    // The target was live once, but not in the last history entry, which is all --keep 1 spares.
                    for id in [targetID, newest, liveID] { #expect(try strataS3(["activate", id, "--no-check"] + root).status == 0) }
                }
                let flip: [String]
                switch racer {
                case "pin": flip = ["pin", targetID]
                case "activate": flip = ["activate", targetID, "--no-check"]
                default: flip = ["rollback", "--to", targetID]
                }
                let prune = try Self.start(["prune", "--keep", "1"] + root)
                usleep(UInt32.random(in: 0...150_000))
                let flipping = try Self.start(flip + root)
                prune.waitUntilExit()
                flipping.waitUntilExit()
                let releases = try strataS3(["releases", "--json"] + root).stdout
                let status = try strataS3(["status", "--json"] + root).stdout
                for id in Set(status.matches(of: /"release" *: *"([0-9a-f]{16})"/).map { String($0.1) }) {
                    #expect(releases.contains(id), "round \(round): a channel names removed release \(id)")
                }
                if flipping.terminationStatus == 0 {
                    #expect(releases.contains(targetID), "round \(round): \(racer) succeeded, yet prune removed \(targetID)")
                }
                // Back to the start: the target unpinned and not live.
                _ = try strataS3(["unpin", targetID] + root)
                _ = try strataS3(["activate", liveID, "--no-check"] + root)
            }
        }
    }

    @Test func aKilledLockHoldersLeaseIsTakenOverOnceItExpires() throws {
        let bucket = try TestBucket.make()
        let root = ["--root", bucket.root]
        let v1 = Self.id(try strataS3(["publish", fixtures + "/aurora-v1", "--activate"] + root))
        let v2 = Self.id(try strataS3(["publish", fixtures + "/aurora-v2"] + root))
        // A flip whose pointer write is held up: it holds the lock when it is killed.
        let slow = try FaultProxy(mode: ["delay-pointers", "30"])
        let holder = try Self.start(["activate", v2] + root, environment: ["AWS_ENDPOINT_URL_S3": slow.endpoint, "STRATA_S3_LOCK_LEASE": "3"])
        let deadline = Date().addingTimeInterval(10)
        while try !bucket.keys().contains("site/locks/write") && Date() < deadline { usleep(50_000) }
        #expect(try bucket.keys().contains("site/locks/write"))
        holder.signal(SIGKILL)
        holder.waitUntilExit()

        // While the lease is fresh, a writer that will not wait is refused, naming the holder.
        let refused = try strataS3(["activate", v2] + root, environment: ["STRATA_LOCK_TIMEOUT": "0"])
        #expect(refused.status == 4 && refused.stderr.contains("is locked by pid \(holder.processIdentifier) of "), "\(refused.stderr)")
        // Once it has gone unrenewed for its lifetime, the next writer takes it over.
        let started = Date()
        let taken = try strataS3(["activate", v2] + root)
        #expect(taken.status == 0, "\(taken.stderr)")
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(try strataS3(["status", "--json"] + root).stdout.contains(v2))
        #expect(try !bucket.keys().contains("site/locks/write"), "released on exit")
        #expect(try strataS3(["rollback"] + root).stdout.contains(v1))
    }
}

import Foundation
import StrataCore
import StrataObjectStore
import StrataTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What must hold when things go wrong against a bucket: busy pointers, killed publishes, a prune
/// racing a publish.
@Suite struct ObjectStoreFaultTests {
    @Test func aBusyPointerIsRetriedAndAPointerThatStaysBusyChangesNothing() throws {
        let bucket = try TestBucket.make()
        try withTemporaryDirectory { folder in
            let a = try strataS3(["publish", try makeSite(in: folder, name: "a", files: ["index.html": "a"]), "--root", bucket.root]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let b = try strataS3(["publish", try makeSite(in: folder, name: "b", files: ["index.html": "b"]), "--root", bucket.root]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try strataS3(["activate", a, "--root", bucket.root]).status == 0)
            let brief = try FaultProxy(conflicts: 3)
            let retried = try strataS3(["activate", b, "--root", bucket.root], environment: ["AWS_ENDPOINT_URL_S3": brief.endpoint])
            #expect(retried.status == 0, "three 409s are waited out: \(retried.stderr)")
            let busy = try FaultProxy(conflicts: 1000)
            let refused = try strataS3(["activate", a, "--root", bucket.root], environment: ["AWS_ENDPOINT_URL_S3": busy.endpoint])
            #expect(refused.status == 3 && refused.stderr.contains("409"), "\(refused.stderr)")
            let status = try strataS3(["status", "--json", "--root", bucket.root]).stdout
            #expect(status.contains(b))
            let history = try strataS3(["history", "--json", "--root", bucket.root]).stdout
            #expect(history.components(separatedBy: "\"action\"").count - 1 == 2, "one entry per flip that happened")
        }
    }

    @Test func aPublishKilledAtAnyMomentLeavesNoPartialRelease() throws {
        let bucket = try TestBucket.make()
        try withTemporaryDirectory { folder in
            var files: [String: String] = [:]
            for number in 0..<150 { files["page\(number).html"] = String(repeating: "<p>\(number) of the site</p>\n", count: 400) }
            for trial in 0..<20 {
                files["trial.txt"] = "trial \(trial)"
                let site = try makeSite(in: folder, name: "site\(trial)", files: files)
                let process = try ChildProcess(strataExecutable, ["publish", site, "--root", bucket.root],
                                               environment: ProcessInfo.processInfo.environment.merging(MotoServer.shared.environment) { _, new in new })
                usleep(UInt32.random(in: 50_000...900_000))
                process.signal(SIGKILL)
                process.waitUntilExit()
                // Every release the bucket shows is whole.
                let verified = try strataS3(["verify", "--root", bucket.root])
                #expect(verified.status == 0 || verified.stderr.contains("no Strata store"), "trial \(trial): \(verified.stdout)\(verified.stderr)")
            }
            // And a publish that is left alone completes, reusing what the killed ones uploaded.
            let finished = try strataS3(["publish", folder + "/site19", "--root", bucket.root])
            #expect(finished.status == 0)
            #expect(try strataS3(["verify", "--root", bucket.root]).status == 0)
        }
    }

    @Test func pruneNeverDeletesContentAConcurrentPublishIsAboutToName() throws {
        let bucket = try TestBucket.make()
        let root = ["--root", bucket.root]
        try withTemporaryDirectory { folder in
            var old: [String: String] = [:]
            for number in 0..<120 { old["old\(number).css"] = String(repeating: "body { margin: \(number)px }\n", count: 100) }
            for round in 0..<6 {
                // A release whose content is garbage once it is pruned…
                old["round.txt"] = "round \(round)"
                #expect(try strataS3(["publish", try makeSite(in: folder, name: "old\(round)", files: old)] + root).status == 0)
                let live = try makeSite(in: folder, name: "live\(round)", files: ["index.html": "live \(round)"])
                #expect(try strataS3(["publish", live, "--activate"] + root).status == 0)
                // …and a publish that names that same content, racing the prune that frees it.
                var reuse = old
                reuse["new.txt"] = "new in round \(round)"
                let site = try makeSite(in: folder, name: "reuse\(round)", files: reuse)
                let environment = ProcessInfo.processInfo.environment.merging(MotoServer.shared.environment) { _, new in new }
                func start(_ arguments: [String]) throws -> ChildProcess {
                    try ChildProcess(strataExecutable, arguments + root, environment: environment)
                }
                let publish = try start(["publish", site])
                usleep(UInt32.random(in: 0...300_000))
                let prune = try start(["prune", "--keep", "1"])
                publish.waitUntilExit()
                prune.waitUntilExit()
                #expect(publish.terminationStatus == 0)
                let verified = try strataS3(["verify"] + root)
                #expect(verified.status == 0, "round \(round): \(verified.stdout)")
            }
        }
    }
}

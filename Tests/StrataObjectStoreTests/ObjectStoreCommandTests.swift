import Foundation
import StrataCore
import StrataObjectStore
import StrataTestSupport
import Testing

/// `strata` with `--root s3://…` against moto, as a user runs it.
@Suite struct ObjectStoreCommandTests {
    @Test func aReleaseGoesThroughItsWholeLifeInABucket() throws {
        let bucket = try TestBucket.make()
        let root = ["--root", bucket.root]
        let v1 = try strataS3(["publish", fixtures + "/aurora-v1", "--label", "v1"] + root)
        #expect(v1.status == 0, "\(v1.stderr)")
        let id1 = v1.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        // The second version as an archive on a file: only its new content is uploaded.
        try withTemporaryDirectory { folder in
            let archive = folder + "/v2.tar.gz"
            try run("/bin/tar", ["-C", fixtures + "/aurora-v2", "-czf", archive, "."])
            let before = try bucket.keys().filter { $0.contains("/content/") }.count
            let v2 = try strataS3(["publish", archive, "--label", "v2"] + root)
            #expect(v2.status == 0, "\(v2.stderr)")
            let added = try bucket.keys().filter { $0.contains("/content/") }.count - before
            #expect(added > 0 && added < before, "only new content is uploaded (\(added) new of \(before))")
        }
        #expect(try strataS3(["activate", "v1"] + root).status == 0)
        #expect(try strataS3(["activate", "v2", "--channel", "staging"] + root).status == 0)
        #expect(try strataS3(["promote", "--from", "staging", "--to", "current"] + root).status == 0)
        let status = try strataS3(["status", "--json"] + root)
        #expect(status.stdout.contains("\"current\"") && !status.stdout.contains(id1))
        let rolled = try strataS3(["rollback"] + root)
        #expect(rolled.status == 0 && rolled.stdout.contains("-> \(id1)"), "\(rolled.stdout)\(rolled.stderr)")
        let history = try strataS3(["history", "--json"] + root)
        #expect(history.stdout.components(separatedBy: "\"action\"").count - 1 == 3, "activate, promote, rollback: \(history.stdout)")
        #expect(try strataS3(["verify"] + root).status == 0)
        #expect(try strataS3(["check", "v2"] + root).status == 0)
        #expect(try strataS3(["diff", "v1", "v2"] + root).status == 0)

        // Pins hold against prune; unpinned and unreferenced releases go, with their content.
        let v3 = try strataS3(["publish", fixtures + "/e2e-v1", "--label", "v3"] + root)
        #expect(v3.status == 0)
        #expect(try strataS3(["pin", "v2"] + root).status == 0)
        let pruned = try strataS3(["prune", "--keep", "1", "--json"] + root)
        #expect(pruned.status == 0, "\(pruned.stderr)")
        let left = try strataS3(["releases", "--json"] + root).stdout
        #expect(left.contains("\"v1\"") && left.contains("\"v2\"") && left.contains("\"v3\""), "live, pinned and newest stay")
        #expect(try strataS3(["unpin", "v2"] + root).status == 0)
        #expect(try strataS3(["activate", "v3"] + root).status == 0)
        #expect(try strataS3(["prune", "--keep", "1"] + root).status == 0)
        #expect(try strataS3(["verify"] + root).status == 0, "what prune kept is whole")
        let after = try bucket.keys()
        #expect(!after.contains { $0.contains("/leases/") || $0.contains("/locks/") }, "no lease or lock left behind: \(after)")
        // Variants went with their content: the bucket keeps exactly those its releases list.
        var listed = Set<String>()
        for key in after where key.contains("/releases/") {
            let manifest = try Manifest.decode(try #require(try bucket.client.getObject(key)).body, path: key)
            for entry in manifest.files {
                for encoding in entry.variantEncodings { listed.insert("site/variants/\(entry.sha256)\(encoding.fileSuffix)") }
            }
        }
        #expect(!listed.isEmpty && Set(after.filter { $0.contains("/variants/") }) == listed)
    }

    @Test func aPreviewChannelExpiresIsDeletedAndFreesItsReleasesInABucket() throws {
        let bucket = try TestBucket.make()
        try PreviewChannelScenario.run(root: bucket.root, strata: { try strataS3($0) }, snapshot: { try bucket.keys().sorted() })
    }

    @Test func exportAndImportMoveAReleaseBetweenAFolderAndABucketUnchanged() throws {
        let bucket = try TestBucket.make()
        try withTemporaryDirectory { folder in
            let local = folder + "/store"
            let published = try strata(["publish", fixtures + "/aurora-v1", "--root", local])
            let id = published.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try strata(["export", id, "-o", folder + "/out.tar.gz", "--root", local]).status == 0)
            let imported = try strataS3(["import", folder + "/out.tar.gz", "--root", bucket.root])
            #expect(imported.status == 0, "\(imported.stderr)")
            #expect(imported.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == id)
            // And back: the bucket's export is byte for byte the folder's.
            #expect(try strataS3(["export", id, "-o", folder + "/back.tar.gz", "--root", bucket.root]).status == 0)
            #expect(FileManager.default.contentsEqual(atPath: folder + "/out.tar.gz", andPath: folder + "/back.tar.gz"))
            let again = try strata(["import", folder + "/back.tar.gz", "--root", folder + "/second"])
            #expect(again.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == id)
        }
    }

    @Test func eightConcurrentActivationsHaveOneWinnerPerRoundAndLoseNoHistory() throws {
        let bucket = try TestBucket.make()
        let root = ["--root", bucket.root]
        var ids: [String] = []
        try withTemporaryDirectory { folder in
            for number in 0..<8 {
                let site = try makeSite(in: folder, name: "site\(number)", files: ["index.html": "<p>\(number)</p>"])
                ids.append(try strataS3(["publish", site] + root).stdout.trimmingCharacters(in: .whitespacesAndNewlines))
            }
        }
        #expect(try strataS3(["activate", ids[0]] + root).status == 0)
        var current = ids[0]
        for round in 0..<20 {
            // Eight processes started together, then waited for.
            let processes = try ids.map { id in
                try ChildProcess(strataExecutable, ["activate", id, "--expect", current] + root,
                                 environment: ProcessInfo.processInfo.environment.merging(MotoServer.shared.environment) { _, new in new })
            }
            let values = processes.map { process in
                process.waitUntilExit()
                return process.terminationStatus
            }
            let winners = values.indices.filter { values[$0] == 0 }
            // The release already live cannot "win" a move; the seven others race.
            let movers = values.indices.filter { ids[$0] != current }
            #expect(winners.filter { ids[$0] != current }.count == 1, "round \(round): \(values)")
            #expect(movers.allSatisfy { values[$0] == 0 || values[$0] == 3 }, "losers exit 3: \(values)")
            let now = try strataS3(["status", "--json"] + root).stdout
            let winner = ids[winners.first { ids[$0] != current }!]
            #expect(now.contains(winner))
            current = winner
        }
        let history = try strataS3(["history", "--json"] + root).stdout
        #expect(history.components(separatedBy: "\"action\"").count - 1 == 21, "one entry per winning flip")
    }

    @Test func aFileAboveTheMultipartThresholdGoesUpInPartsAndComesBackWhole() throws {
        let bucket = try TestBucket.make()
        try withTemporaryDirectory { folder in
            try FileManager.default.createDirectory(atPath: folder + "/site", withIntermediateDirectories: true)
            var generator = SystemRandomNumberGenerator()
            let large = (0..<(17 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) }  // 17 MiB: three parts
            try Data(large).write(to: URL(fileURLWithPath: folder + "/site/video.bin"))
            try write("<p>big</p>", to: folder + "/site/index.html")
            let published = try strataS3(["publish", folder + "/site", "--root", bucket.root])
            #expect(published.status == 0, "\(published.stderr)")
            #expect(try strataS3(["verify", "--root", bucket.root]).status == 0)
            let id = published.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try strataS3(["export", id, "-o", folder + "/out.tar", "--root", bucket.root]).status == 0)
            #expect(try run("/bin/tar", ["-xf", folder + "/out.tar", "-C", folder, "video.bin"]).status == 0)
            #expect(FileManager.default.contentsEqual(atPath: folder + "/site/video.bin", andPath: folder + "/video.bin"))
        }
    }

    @Test func wrongCredentialsGetOneLineAndWriteNothing() throws {
        let bucket = try TestBucket.make()
        let refused = try strataS3(["publish", fixtures + "/aurora-v1", "--root", bucket.root],
                                   environment: ["AWS_SECRET_ACCESS_KEY": "not-the-secret"])
        #expect(refused.status == 1)
        #expect(refused.stderr.split(separator: "\n").count == 1, "\(refused.stderr)")
        #expect(refused.stderr.contains("refused") && refused.stderr.contains("AWS_SECRET_ACCESS_KEY"), "\(refused.stderr)")
        #expect(!refused.stderr.contains("not-the-secret") && !refused.stderr.contains("Signature="))
        #expect(try bucket.keys().isEmpty)
        let noSecret = try strataS3(["releases", "--root", bucket.root], environment: ["AWS_SECRET_ACCESS_KEY": ""])
        #expect(noSecret.status == 1 && noSecret.stderr.contains("AWS_SECRET_ACCESS_KEY"))
    }

    @Test func aBadSiteRuleRefusesThePublishAndTheBucketStaysAsItWas() throws {
        let bucket = try TestBucket.make()
        #expect(try strataS3(["publish", fixtures + "/aurora-v1", "--root", bucket.root]).status == 0)
        let before = try bucket.keys()
        try withTemporaryDirectory { folder in
            let site = try makeSite(in: folder, name: "site", files: ["index.html": "x", "_redirects": "/ok /\n/bad /x 999\n"])
            let refused = try strataS3(["publish", site, "--root", bucket.root])
            #expect(refused.status == 1)
            #expect(refused.stderr == "error: _redirects:2: status 999 is not supported (301, 302, 303, 307, 308, 200, 404)\n", "\(refused.stderr)")
        }
        #expect(try bucket.keys() == before)
    }

    @Test func anUnreachableEndpointIsAClearErrorWithinTenSeconds() throws {
        let port = try MotoServer.freePort()  // nothing listens there
        let started = Date()
        let result = try strataS3(["releases", "--root", "s3://nowhere/site"], environment: ["AWS_ENDPOINT_URL_S3": "http://127.0.0.1:\(port)"])
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(result.status == 1)
        #expect(result.stderr.contains("cannot reach http://127.0.0.1:\(port) for s3://nowhere: connection refused"), "\(result.stderr)")
    }

    @Test func aBadRootIsRefusedBeforeAnyRequest() throws {
        let result = try strataS3(["releases", "--root", "s3://A_B/site"])
        #expect(result.status == 1 && result.stderr.contains("is not a bucket name"))
    }
}

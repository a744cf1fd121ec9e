import Foundation
import StrataCore
import StrataObjectStore
import StrataTestSupport
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `strata serve --root s3://… --cache DIR`: serve nodes following a bucket.
@Suite struct ServeNodeTests {
    /// A running serve node (or any `strata serve`), killed when released.
    final class Node {
        let server: ServeProcess
        var port: Int { server.port }

        init(_ arguments: [String], environment: [String: String] = [:]) throws {
            server = try ServeProcess(arguments, environment: MotoServer.shared.environment.merging(environment) { _, new in new })
        }

        /// Status line, headers and body of one GET.
        func get(_ path: String) throws -> (head: String, body: String) {
            let reply = try run("/bin/bash", ["-c", "exec 3<>/dev/tcp/127.0.0.1/$0; printf 'GET %s HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n' \"$1\" >&3; cat <&3",
                                              String(port), path]).stdout
            let parts = reply.components(separatedBy: "\r\n\r\n")
            return (parts[0], parts.dropFirst().joined(separator: "\r\n\r\n"))
        }

        func release(_ path: String = "/") throws -> String? {
            let head = try get(path).head
            return head.components(separatedBy: "\r\n").first { $0.lowercased().hasPrefix("strata-release:") }
                .map { String($0.dropFirst("strata-release:".count)).trimmingCharacters(in: .whitespaces) }
        }
    }

    func publish(_ site: String, _ root: String, label: String) throws -> String {
        let result = try strataS3(["publish", site, "--root", root, "--label", label])
        #expect(result.status == 0, "\(result.stderr)")
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func aNodeFollowsFlipsFetchesVersionedReleasesOnDemandAndKeepsItsCacheBounded() throws {
        let bucket = try TestBucket.make()
        let v1 = try publish(fixtures + "/aurora-v1", bucket.root, label: "v1")
        let v2 = try publish(fixtures + "/aurora-v2", bucket.root, label: "v2")
        let v3 = try publish(fixtures + "/e2e-v1", bucket.root, label: "v3")
        #expect(try strataS3(["activate", "v1", "--root", bucket.root]).status == 0)
        try withTemporaryDirectory { folder in
            let node = try Node(["--root", bucket.root, "--cache", folder + "/cache", "--poll", "200ms", "--cache-max", "1K"])
            #expect(try node.release() == v1, "the live release is served from the first request")
            #expect(try node.get("/_strata/release").body.contains(v1))
            #expect(try node.get("/_strata/health").body == "ok \(v1)\n")

            #expect(try strataS3(["config", "set", "API_URL=https://api.example.com", "--root", bucket.root]).status == 0)
            #expect(try strataS3(["activate", "v2", "--root", bucket.root]).status == 0)
            let flipped = Date()
            while try node.release() != v2 && Date().timeIntervalSince(flipped) < 5 { usleep(50_000) }
            #expect(try node.release() == v2, "the flip is followed within the poll interval plus the download")
            #expect(try node.get("/_strata/release").body.contains(v2))
            // The channel's runtime config follows too.
            let expected = "{\"API_URL\":\"https://api.example.com\"}\n"
            while try node.get("/_strata/config.json").body != expected && Date().timeIntervalSince(flipped) < 5 { usleep(50_000) }
            #expect(try node.get("/_strata/config.json").body == expected)
            // A release never made live is fetched when its versioned URL is asked for.
            let versioned = try node.get("/_v/\(v3)/index.html")
            #expect(versioned.head.hasPrefix("HTTP/1.1 200"), "\(versioned.head)")
            #expect(versioned.body == (try String(contentsOfFile: fixtures + "/e2e-v1/index.html", encoding: .utf8)))
            // The cache keeps what is live; with a 1 KiB budget the others were evicted.
            let cached = try strata(["releases", "--root", folder + "/cache", "--json"]).stdout
            #expect(cached.contains(v2) && !cached.contains(v1), "\(cached)")
            #expect(try strata(["verify", "--root", folder + "/cache"]).status == 0)
        }
    }

    @Test func threeServeNodesSendOnePurgePerFlipBetweenThem() throws {
        let bucket = try TestBucket.make()
        _ = try publish(fixtures + "/aurora-v1", bucket.root, label: "v1")
        let v2 = try publish(fixtures + "/aurora-v2", bucket.root, label: "v2")
        #expect(try strataS3(["activate", "v1", "--root", bucket.root]).status == 0)
        try withTemporaryDirectory { folder in
            let recorder = try PurgeRecorder(recordIn: folder)
            let nodes = try (0..<3).map { number in
                try Node(["--root", bucket.root, "--cache", folder + "/cache-\(number)", "--poll", "200ms",
                          "--shared-cache-ttl", "1h", "--purge", recorder.url + "/"])
            }
            Thread.sleep(forTimeInterval: 0.5)
            #expect(recorder.requests().isEmpty, "starting is no flip")
            #expect(try strataS3(["activate", "v2", "--root", bucket.root]).status == 0)
            let flipped = Date()
            for node in nodes {
                while try node.release() != v2 && Date().timeIntervalSince(flipped) < 5 { usleep(50_000) }
                #expect(try node.release() == v2)
            }
            // The winner waits for the others to switch (2 polls + 2 s), then purges once.
            let purges = recorder.wait(for: 1, seconds: 6)
            Thread.sleep(forTimeInterval: 1.5)
            #expect(recorder.requests().count == 1, "one purge for three nodes: \(recorder.requests().map(\.path))")
            #expect(purges.first?.method == "PURGE" && purges.first?.headers["xkey-purge"] == "strata-channel-current")
            let skipped = nodes.flatMap { $0.server.lines(containing: "purge_skipped") + $0.server.lines(containing: "another node") }
            #expect(skipped.count >= 2, "the two others said why they did not purge: \(nodes.map(\.server.stderr))")
            #expect(try bucket.keys().contains { $0.hasPrefix("site/purges/current/") })
        }
    }

    @Test func aNodeServesEveryChannelByHostFindsNewOnesAndStopsAtTheirExpiry() throws {
        let bucket = try TestBucket.make()
        let v1 = try publish(fixtures + "/aurora-v1", bucket.root, label: "v1")
        let v2 = try publish(fixtures + "/aurora-v2", bucket.root, label: "v2")
        #expect(try strataS3(["activate", "v1", "--root", bucket.root]).status == 0)
        #expect(try strataS3(["activate", "v2", "--channel", "pr-1", "--expires", "6s", "--root", bucket.root]).status == 0)
        try withTemporaryDirectory { folder in
            let node = try Node(["--root", bucket.root, "--cache", folder + "/cache", "--poll", "200ms", "--channel-host", "*.pr.test",
                                 "--release-host", "*.preview.test"])
            func release(of host: String) throws -> (status: String, release: String?) {
                let reply = try run("/usr/bin/curl", ["-s", "-D", "-", "-o", "/dev/null", "-H", "Host: \(host)", "http://127.0.0.1:\(node.port)/"]).stdout
                let lines = reply.components(separatedBy: "\r\n")
                let release = lines.first { $0.lowercased().hasPrefix("strata-release:") }.map { String($0.dropFirst(15)).trimmingCharacters(in: .whitespaces) }
                return (lines.first ?? "", release)
            }
            #expect(try release(of: "pr-1.pr.test").release == v2, "a channel of the bucket, served by its host")
            #expect(try release(of: "current.pr.test").release == v1)
            #expect(try release(of: "pr-2.pr.test").status.hasPrefix("HTTP/1.1 404"))
            // A release live nowhere, named by its label: found in the bucket, fetched into the cache.
            let preview = try publish(fixtures + "/e2e-v1", bucket.root, label: "pr-9")
            var found = try release(of: "pr-9.preview.test")
            for _ in 0..<30 where found.release == nil {
                usleep(100_000)
                found = try release(of: "pr-9.preview.test")
            }
            #expect(found.status.hasPrefix("HTTP/1.1 200") && found.release == preview, "\(found)")
            #expect(try release(of: "nope.preview.test").status.hasPrefix("HTTP/1.1 404"))
            // A channel made in the bucket later is found (listed every 2 s here) and mirrored.
            #expect(try strataS3(["activate", "v1", "--channel", "pr-2", "--root", bucket.root]).status == 0)
            let made = Date()
            while try release(of: "pr-2.pr.test").release != v1 && Date().timeIntervalSince(made) < 8 { usleep(100_000) }
            #expect(try release(of: "pr-2.pr.test").release == v1, "a new channel shows within the listing interval")
            // pr-1 expires in the bucket with no write at all; the node stops serving it then.
            while try release(of: "pr-1.pr.test").release == v2 && Date().timeIntervalSince(made) < 10 { usleep(100_000) }
            let expired = try release(of: "pr-1.pr.test")
            #expect(expired.status.hasPrefix("HTTP/1.1 404") && expired.release == nil, "\(expired)")
        }
    }

    /// About `bytes` of code-like text, different for each seed (compresses like real code).
    func codeLikeText(bytes: Int, seed: UInt64) -> String {
        let words = ["const", "return", "function", "await", "import", "export", "class", "this", "value", "index",
                     "render", "props", "state", "map", "filter", "push", "length", "document", "window", "fetch"]
        var state = seed &* 6364136223846793005 &+ 1442695040888963407
        var text = ""
        while text.utf8.count < bytes {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            text += words[Int(state >> 59) % words.count] + (state & 7 == 0 ? "(\(state >> 40));\n" : " ")
        }
        return text
    }

    @Test func variantsGoUpOnceAndServeNodesDownloadThemChecked() throws {
        let bucket = try TestBucket.make()
        try withTemporaryDirectory { sites in
            // The fixture and three files large enough that a node downloads their variants.
            let site = sites + "/site"
            try FileManager.default.copyItem(atPath: fixtures + "/aurora-v1", toPath: site)
            for (number, name) in ["big-1.js", "big-2.js", "big-3.css"].enumerated() {
                try codeLikeText(bytes: 150_000, seed: UInt64(number + 1)).write(toFile: site + "/assets/" + name, atomically: true, encoding: .utf8)
            }
            // brotli at level 11 in the bucket: a node compressing for itself would make other bytes.
            let published = try strataS3(["publish", site, "--root", bucket.root, "--label", "v1", "--brotli-level", "11", "--variants", "gzip,br,zstd"])
            #expect(published.status == 0, "\(published.stderr)")
            let v1 = published.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let manifest = try Manifest.decode(try #require(try bucket.client.getObject("site/releases/\(v1).json")).body, path: "manifest")
            #expect(manifest.variantEncodings == [.gzip, .br, .zstd])
            func key(_ entry: Manifest.Entry, _ encoding: ContentEncoding) -> String { "site/variants/\(entry.sha256)\(encoding.fileSuffix)" }
            let listed = Set(manifest.files.flatMap { entry in entry.variantEncodings.map { key(entry, $0) } })
            let uploaded = Set(try bucket.keys().filter { $0.hasPrefix("site/variants/") })
            #expect(!listed.isEmpty && uploaded == listed)
            for entry in manifest.files {
                for encoding in entry.variantEncodings {
                    #expect(sha256Hex(try #require(try bucket.client.getObject(key(entry, encoding))).body) == entry[variant: encoding]!.sha256)
                }
            }

            // One variant replaced by other bytes, one deleted: the node makes both itself.
            let large = { (name: String) in try #require(manifest.files.first { $0.path == "assets/" + name }) }
            let index = try large("big-1.js"), kept = try large("big-2.js"), deleted = try large("big-3.css")
            #expect(index.gzip != nil && kept.br != nil && deleted.zstd != nil)
            _ = try bucket.client.putObject(key(index, .gzip), Array("not gzip".utf8))
            try bucket.client.deleteObject(key(deleted, .zstd))
            // `verify` on the bucket decompresses every variant and finds both.
            let verified = try strataS3(["verify", "--root", bucket.root])
            #expect(verified.status != 0)
            #expect((verified.stdout + verified.stderr).contains("gzip variant of '\(index.path)'"), "\(verified.stdout)\(verified.stderr)")
            #expect((verified.stdout + verified.stderr).contains("zstd variant of '\(deleted.path)': missing"))
            #expect(try strataS3(["activate", "v1", "--root", bucket.root]).status == 0)
            try withTemporaryDirectory { folder in
                let node = try Node(["--root", bucket.root, "--cache", folder + "/cache", "--poll", "200ms"])
                #expect(try node.release() == v1)
                let variants = folder + "/cache/releases/\(v1)/" + ReleaseLayout.variantsFolder + "/"
                let downloaded = try Data(contentsOf: URL(fileURLWithPath: variants + kept.sha256 + ".br"))
                #expect(sha256Hex(Array(downloaded)) == kept.br!.sha256, "downloaded as published, not compressed again")
                let atStandardLevel = try TestStore(in: folder).publish(site).manifest
                #expect(atStandardLevel.files.first { $0.path == kept.path }?.br != kept.br, "a node's own would differ")
                for (entry, encoding, decoder) in [(index, ContentEncoding.gzip, "gzip -dc"), (deleted, .zstd, "zstd -dcq")] {
                    let made = try run("/bin/sh", ["-c", "\(decoder) < \"$0\" | sha256sum", variants + entry.sha256 + encoding.fileSuffix])
                    #expect(made.stdout.hasPrefix(entry.sha256), "\(entry.path): made by the node, from the file")
                }
                #expect(try strata(["verify", "--root", folder + "/cache"]).status == 0)
                let served = try run("/bin/sh", ["-c", "curl -s -H 'Accept-Encoding: gzip' http://127.0.0.1:$0/$1 | gzip -dc | sha256sum",
                                                 String(node.port), index.path])
                #expect(served.stdout.hasPrefix(index.sha256))
            }

            // The next release names content v1 had: its variants are listed, not made or uploaded again.
            let shared = try #require(manifest.files.first { $0.path == "assets/logo.b56bc6af.svg" && $0.gzip != nil })
            try bucket.client.deleteObject(key(shared, .gzip))
            let v2 = try publish(fixtures + "/aurora-v2", bucket.root, label: "v2")
            let second = try Manifest.decode(try #require(try bucket.client.getObject("site/releases/\(v2).json")).body, path: "manifest")
            #expect(second.files.first { $0.path == shared.path }?.gzip == shared.gzip)
            #expect(try bucket.client.getObject(key(shared, .gzip)) == nil, "not uploaded again")
        }
    }

    @Test func aNodeCutOffFromItsBucketKeepsServingAndSaysSo() throws {
        let bucket = try TestBucket.make()
        let v1 = try publish(fixtures + "/aurora-v1", bucket.root, label: "v1")
        #expect(try strataS3(["activate", "v1", "--root", bucket.root]).status == 0)
        let proxy = try FaultProxy(conflicts: 0)
        try withTemporaryDirectory { folder in
            let node = try Node(["--root", bucket.root, "--cache", folder + "/cache", "--poll", "100ms"],
                                environment: ["AWS_ENDPOINT_URL_S3": proxy.endpoint])
            #expect(try node.release() == v1)
            proxy.stop()
            // Connection attempts are retried for a few seconds before a poll counts as failed.
            let stopped = Date()
            var health = try node.get("/_strata/health")
            while !health.body.contains("upstream:") && Date().timeIntervalSince(stopped) < 15 {
                usleep(200_000)
                health = try node.get("/_strata/health")
            }
            #expect(try node.release() == v1, "still serving what it holds")
            #expect(health.head.hasPrefix("HTTP/1.1 200"))
            #expect(health.body.hasPrefix("ok \(v1)\nupstream: cannot sync from \(bucket.root)"), "\(health.body)")
            #expect(!health.body.contains(MotoServer.shared.secretAccessKey))
        }
    }
}

/// Work off the event loops is split by kind: a release fetched on demand from a slow bucket
/// holds up neither password checks nor the node's other answers.
extension ServeNodeTests {
    @Test func aSlowOnDemandFetchDelaysNoPasswordCheck() throws {
        let bucket = try TestBucket.make()
        _ = try publish(fixtures + "/aurora-v1", bucket.root, label: "v1")
        let v3 = try publish(fixtures + "/e2e-v1", bucket.root, label: "v3")
        #expect(try strataS3(["activate", "v1", "--root", bucket.root]).status == 0)
        let slow = try FaultProxy(mode: ["delay-content", "4"])
        try withTemporaryDirectory { folder in
            let users = folder + "/users"
            #expect(try run("/bin/sh", ["-c", "printf 'secret\\n' | \"$0\" password \"$1\" alice", strataExecutable, users]).status == 0)
            // v1 is cached before the bucket turns slow; v3 is not.
            let node = try Node(["--root", bucket.root, "--cache", folder + "/cache", "--poll", "100ms", "--protect", "current=" + users],
                                environment: ["AWS_ENDPOINT_URL_S3": slow.endpoint])
            @Sendable func curl(_ arguments: [String]) throws -> (code: String, seconds: Double) {
                let out = try run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}"] + arguments).stdout.split(separator: " ")
                return (String(out[0]), Double(out[1]) ?? 99)
            }
            let fetched = Mutex<(code: String, seconds: Double)?>(nil)
            let versionedURL = "http://127.0.0.1:\(node.port)/_v/\(v3)/index.html"
            let fetching = Thread { fetched.withLock { $0 = try? curl([versionedURL]) } }
            fetching.start()
            usleep(300_000)  // the fetch is waiting on the bucket now
            let checked = try curl(["-u", "alice:secret", "http://127.0.0.1:\(node.port)/"])
            #expect(checked.code == "200" && checked.seconds < 2, "a password check waits for no fetch: \(checked)")
            let refused = try curl(["-u", "alice:wrong", "http://127.0.0.1:\(node.port)/"])
            #expect(refused.code == "401" && refused.seconds < 2, "\(refused)")
            // And the fetch itself completes (its content took 4 s a file to arrive).
            let started = Date()
            while fetched.withLock({ $0 }) == nil && Date().timeIntervalSince(started) < 30 { usleep(100_000) }
            let versioned = fetched.withLock { $0 }
            #expect(versioned?.code == "200" && (versioned?.seconds ?? 0) >= 4, "\(String(describing: versioned))")
        }
    }
}

/// `fault-proxy.py` in front of the shared moto server (its modes are described there).
final class FaultProxy {
    let process: ChildProcess
    let endpoint: String

    convenience init(conflicts: Int) throws {
        try self.init(mode: ["conflicts", String(conflicts)])
    }

    init(mode: [String]) throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("fault-proxy.py").path
        process = try ChildProcess("/usr/bin/env", ["python3", script, MotoServer.shared.endpoint] + mode,
                                   environment: ProcessInfo.processInfo.environment.merging(MotoServer.shared.environment) { _, new in new },
                                   standardOutput: .pipe)
        let line = firstLine(of: process.standardOutput!)
        endpoint = "http://127.0.0.1:" + line.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func stop() {
        process.signal(SIGKILL)
        process.waitUntilExit()
    }

    deinit { if process.isRunning { stop() } }
}

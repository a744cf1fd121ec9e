import Foundation
import StrataCore
import StrataObjectStore
import StrataTestSupport
import Testing

/// What someone who can write to the bucket can make a bucket hold: manifests and pointers
/// written by hand, with fingerprints recomputed to match. Each is refused, naming the release and
/// the first bad entry, and no file is ever created outside the cache or the store.
@Suite struct BucketInputTests {
    /// A release written straight into the bucket: content objects and a manifest whose fingerprint
    /// and id are computed from `files` as given (order included), then changed by `edit`.
    static func craft(_ bucket: TestBucket, _ files: [(path: String, body: String)], edit: (inout [String: Any]) -> Void = { _ in }) throws -> String {
        var entries: [[String: Any]] = []
        for file in files {
            let sha = sha256Hex(Array(file.body.utf8))
            _ = try bucket.client.putObject("site/content/" + sha, Array(file.body.utf8))
            entries.append(["path": file.path, "size": file.body.utf8.count, "sha256": sha, "type": "text/plain"])
        }
        let fingerprint = Fingerprint.compute(entries.map { (path: $0["path"] as! String, sha256: $0["sha256"] as! String) })
        var manifest: [String: Any] = [
            "format": 1, "id": String(fingerprint.prefix(16)), "fingerprint": fingerprint, "created": "2026-12-01T00:00:00.000Z",
            "source": "crafted", "fileCount": entries.count, "byteCount": files.reduce(0) { $0 + $1.body.utf8.count }, "files": entries,
        ]
        edit(&manifest)
        let id = String(fingerprint.prefix(16))
        _ = try bucket.client.putObject("site/releases/\(id).json", Array(try JSONSerialization.data(withJSONObject: manifest)))
        return id
    }

    /// Each rule, the manifest that breaks it, and what the refusal says.
    static func cases(escapingTo outside: String) -> [(rule: String, files: [(path: String, body: String)], edit: (inout [String: Any]) -> Void, says: String)] {
        let climb = String(repeating: "../", count: 24) + outside.dropFirst()
        func files(_ paths: String...) -> [(path: String, body: String)] { paths.map { ($0, "crafted \($0)") } }
        func editFirst(_ key: String, _ value: Any) -> (inout [String: Any]) -> Void {
            { manifest in
                var entries = manifest["files"] as! [[String: Any]]
                entries[0][key] = value
                manifest["files"] = entries
            }
        }
        return [
            ("'..'", files(climb), { _ in }, "climbs out with '..'"),
            ("absolute", files("/etc/crafted"), { _ in }, "is an absolute path"),
            ("empty segment", files("a//b.txt"), { _ in }, "has an empty or '.' segment"),
            ("'.' segment", files("./a.txt"), { _ in }, "has an empty or '.' segment"),
            ("control character", files("a\u{7}.txt"), { _ in }, "has a control character"),
            ("backslash", files("a\\b.txt"), { _ in }, "has a backslash"),
            (".strata/", files(".strata/manifest.json"), { _ in }, "is inside .strata/"),
            ("sorted", files("b.txt", "a.txt"), { _ in }, "is out of order"),
            ("unique", files("a.txt", "a.txt"), { _ in }, "is listed twice"),
            ("file or folder", files("a", "a/b"), { _ in }, "is both a file and a folder"),
            ("size", files("a.txt"), editFirst("size", -1), "has a negative size"),
            ("digest", files("a.txt"), editFirst("sha256", "not-a-digest"), "has a sha256 that is not 64 lowercase hex digits"),
            ("type", files("a.txt"), editFirst("type", "text/html\r\nSet-Cookie: a=b"), "has a malformed type"),
            ("fingerprint", files("a.txt"), { manifest in
                manifest["fingerprint"] = (manifest["id"] as! String) + String(repeating: "0", count: 48)
            }, "its files do not give its recorded fingerprint"),
            ("id", files("a.txt"), { manifest in manifest["id"] = "0123456789abcdef" }, "its manifest names release 0123456789abcdef"),
            ("counts", files("a.txt"), { manifest in manifest["byteCount"] = 1 }, "does not add up"),
        ]
    }

    @Test func craftedManifestsAreRefusedByActivateAndVerifyNamingTheReleaseAndTheEntry() throws {
        let bucket = try TestBucket.make()
        let root = ["--root", bucket.root]
        #expect(try strataS3(["publish", fixtures + "/aurora-v1", "--label", "v1", "--activate"] + root).status == 0)
        try withTemporaryDirectory { folder in
            for crafted in Self.cases(escapingTo: folder + "/escaped") {
                let id = try Self.craft(bucket, crafted.files, edit: crafted.edit)
                let prefix = "error: release \(id) in \(bucket.root) is invalid: "
                let activated = try strataS3(["activate", id, "--no-check"] + root)
                #expect(activated.status == 1, "\(crafted.rule): \(activated.stderr)")
                #expect(activated.stderr.hasPrefix(prefix) && activated.stderr.contains(crafted.says), "\(crafted.rule): \(activated.stderr)")
                #expect(activated.stderr.split(separator: "\n").count == 1, "one line: \(activated.stderr)")
                let verified = try strataS3(["verify", id] + root)
                #expect(verified.status == 1 && verified.stderr.contains(crafted.says), "\(crafted.rule): \(verified.stdout)\(verified.stderr)")
                _ = try bucket.client.deleteObject("site/releases/\(id).json")
            }
            #expect(!FileManager.default.fileExists(atPath: folder + "/escaped"), "nothing written outside the store")
            let status = try strataS3(["status", "--json"] + root)
            #expect(status.status == 0 && !status.stdout.contains("crafted"))
        }
    }

    @Test func aServeNodeRefusesACraftedReleaseKeepsServingAndWritesNothingOutsideItsCache() throws {
        let bucket = try TestBucket.make()
        let root = ["--root", bucket.root]
        let v1 = try strataS3(["publish", fixtures + "/aurora-v1", "--activate"] + root).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try withTemporaryDirectory { folder in
            let node = try ServeNodeTests.Node(["--root", bucket.root, "--cache", folder + "/cache", "--poll", "100ms"],
                                               environment: ["TMPDIR": folder + "/tmp"])
            #expect(try node.release() == v1)
            for crafted in Self.cases(escapingTo: folder + "/escaped").prefix(7) {
                let id = try Self.craft(bucket, crafted.files + [("index.html", "<p>crafted</p>")], edit: crafted.edit)
                _ = try bucket.client.putObject("site/channels/current", Array("\(id)\n".utf8))
                let moved = Date()
                var health = try node.get("/_strata/health").body
                while !health.contains(id) && Date().timeIntervalSince(moved) < 5 {
                    usleep(100_000)
                    health = try node.get("/_strata/health").body
                }
                #expect(health.hasPrefix("ok \(v1)\n") && health.contains(crafted.says), "\(crafted.rule): \(health)")
                #expect(try node.release() == v1, "\(crafted.rule): still serving what it had")
            }
            // A pointer that does not hold an id is refused the same way.
            _ = try bucket.client.putObject("site/channels/current", Array("../../../etc/passwd\n".utf8))
            let moved = Date()
            var health = try node.get("/_strata/health").body
            while !health.contains("does not hold a release id") && Date().timeIntervalSince(moved) < 5 {
                usleep(100_000)
                health = try node.get("/_strata/health").body
            }
            #expect(health.contains("does not hold a release id"), "\(health)")
            #expect(try node.release() == v1)
            #expect(!FileManager.default.fileExists(atPath: folder + "/escaped"), "nothing written outside the cache")
            let cached = try strata(["releases", "--json", "--root", folder + "/cache"]).stdout
            #expect(cached.contains(v1) && !cached.contains("crafted"))
        }
    }
}

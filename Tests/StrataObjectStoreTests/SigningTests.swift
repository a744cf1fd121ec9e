import Foundation
import StrataCore
import StrataObjectStore
import StrataTestSupport
import Testing

/// Signed releases: `keygen`, `publish --sign`, and `--trust` on `verify`, `import` and serve nodes;
/// the signature checked by the standard tool too.
@Suite struct SigningTests {
    static func id(_ result: (status: Int32, stdout: String, stderr: String)) -> String {
        result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func aSignedReleaseVerifiesWithSshKeygenAndImportAndVerifyRefuseWhatTheKeysDidNotSign() throws {
        try withTemporaryDirectory { folder in
            let store = ["--root", folder + "/store"]
            let made = try strata(["keygen", folder + "/key"])
            #expect(made.status == 0, "\(made.stderr)")
            #expect(mode(folder + "/key") & 0o777 == 0o600, "the secret key is 0600")
            let secret = try String(contentsOfFile: folder + "/key", encoding: .utf8)
            let secretBody = secret.split(separator: "\n")[1]
            #expect(!made.stdout.contains(secretBody) && !made.stderr.contains(secretBody), "never printed")
            #expect(try strata(["keygen", folder + "/key"]).status == 3, "an existing key is never replaced")
            #expect(try strata(["keygen", folder + "/other"]).status == 0)

            let signed = Self.id(try strata(["publish", fixtures + "/aurora-v1", "--sign", folder + "/key"] + store))
            // The standard tool checks it from the files alone: the listing is coreutils' sha256sum.
            let release = folder + "/store/releases/" + signed
            let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: release + "/.strata/manifest.json"))) as! [String: Any]
            try write(manifest["signature"] as! String, to: folder + "/release.sig")
            try write("releases " + (try String(contentsOfFile: folder + "/key.pub", encoding: .utf8)), to: folder + "/allowed_signers")
            let checked = try run("/bin/sh", ["-c", """
                cd "$0" && find . -type f ! -path './.strata/*' -printf '%P\\0' | LC_ALL=C sort -z | xargs -0 sha256sum \
                | ssh-keygen -Y verify -f "$1/allowed_signers" -I releases -n strata-release -s "$1/release.sig"
                """, release, folder])
            #expect(checked.status == 0 && checked.stdout.contains("Good \"strata-release\" signature"), "\(checked.stdout)\(checked.stderr)")

            #expect(try strata(["verify", signed, "--trust", folder + "/key.pub"] + store).status == 0)
            let wrongKey = try strata(["verify", signed, "--trust", folder + "/other.pub"] + store)
            #expect(wrongKey.status == 1 && wrongKey.stdout.contains("which is not a trusted key"), "\(wrongKey.stdout)")
            let unsigned = Self.id(try strata(["publish", fixtures + "/aurora-v2"] + store))
            let refused = try strata(["verify", unsigned, "--trust", folder + "/key.pub"] + store)
            #expect(refused.status == 1 && refused.stdout.contains("release \(unsigned) is not signed"), "\(refused.stdout)")
            let fromEnvironment = Self.id(try strata(["publish", fixtures + "/e2e-v1"] + store, environment: ["STRATA_SIGNING_KEY": folder + "/key"]))
            #expect(try strata(["verify", fromEnvironment, "--trust", folder + "/key.pub"] + store).status == 0, "STRATA_SIGNING_KEY signs")

            // An export carries the signature, so import --trust can check it.
            let other = ["--root", folder + "/other-store"]
            #expect(try strata(["export", signed, "-o", folder + "/signed.tar.gz"] + store).status == 0)
            #expect(try strata(["export", unsigned, "-o", folder + "/unsigned.tar.gz"] + store).status == 0)
            let imported = try strata(["import", folder + "/signed.tar.gz", "--trust", folder + "/key.pub"] + other)
            #expect(imported.status == 0 && Self.id(imported) == signed, "\(imported.stderr)")
            #expect(try strata(["verify", "--trust", folder + "/key.pub"] + other).status == 0, "the imported release is still signed")
            let before = try snapshot(folder + "/other-store")
            let notSigned = try strata(["import", folder + "/unsigned.tar.gz", "--trust", folder + "/key.pub"] + other)
            #expect(notSigned.status == 1 && notSigned.stderr.contains("release \(unsigned) in '\(folder)/unsigned.tar.gz' is not signed"),
                    "\(notSigned.stderr)")

            // The signed export with one file changed and its record made to match, signature kept.
            let altered = folder + "/altered.tar.gz"
            let rebuilt = try run("/usr/bin/env", ["python3", "-c", """
                import hashlib, io, json, sys, tarfile
                source, target = sys.argv[1], sys.argv[2]
                files = {}
                with tarfile.open(source) as archive:
                    for member in archive.getmembers():
                        if member.isfile():
                            files[member.name] = archive.extractfile(member).read()
                record = json.loads(files.pop(".strata/release.json"))
                files["index.html"] = b"<h1>not what was signed</h1>"
                listing = "".join(f"{hashlib.sha256(files[p]).hexdigest()}  {p}\\n" for p in sorted(files))
                record["fingerprint"] = hashlib.sha256(listing.encode()).hexdigest()
                record["id"] = record["fingerprint"][:16]
                files[".strata/release.json"] = json.dumps(record).encode()
                with tarfile.open(target, "w:gz") as archive:
                    for name, data in files.items():
                        info = tarfile.TarInfo(name)
                        info.size = len(data)
                        archive.addfile(info, io.BytesIO(data))
                """, folder + "/signed.tar.gz", altered])
            #expect(rebuilt.status == 0, "\(rebuilt.stderr)")
            let forged = try strata(["import", altered, "--trust", folder + "/key.pub"] + other)
            #expect(forged.status == 1 && forged.stderr.contains("has a signature that does not match its files"), "\(forged.stderr)")
            #expect(try snapshot(folder + "/other-store") == before, "refusals leave the store as it was")
        }
    }

    @Test func serveWithTrustAnswersOnlySignedReleases() throws {
        try withTemporaryDirectory { folder in
            let store = ["--root", folder + "/store"]
            #expect(try strata(["keygen", folder + "/key"]).status == 0)
            let signed = Self.id(try strata(["publish", fixtures + "/aurora-v1", "--sign", folder + "/key", "--activate"] + store))
            let unsigned = Self.id(try strata(["publish", fixtures + "/aurora-v2"] + store))
            let server = try ServeNodeTests.Node(["--trust", folder + "/key.pub"] + store)
            #expect(try server.release() == signed)
            #expect(try server.get("/_v/\(signed)/index.html").head.hasPrefix("HTTP/1.1 200"))
            let refused = try server.get("/_v/\(unsigned)/index.html")
            #expect(refused.head.hasPrefix("HTTP/1.1 503") && refused.body.contains("release \(unsigned) in \(folder)/store is not signed"),
                    "\(refused.head)\n\(refused.body)")
            #expect(try strata(["activate", unsigned] + store).status == 0)
            #expect(try server.get("/").head.hasPrefix("HTTP/1.1 503"), "an unsigned release made live is not served")
        }
    }

    @Test func aServeNodeWithTrustNeverSwitchesToAnUnsignedOrAlteredRelease() throws {
        let bucket = try TestBucket.make()
        let root = ["--root", bucket.root]
        try withTemporaryDirectory { folder in
            #expect(try strata(["keygen", folder + "/key"]).status == 0)
            let v1 = Self.id(try strataS3(["publish", fixtures + "/aurora-v1", "--sign", folder + "/key", "--activate"] + root))
            let node = try ServeNodeTests.Node(["--root", bucket.root, "--cache", folder + "/cache", "--poll", "100ms",
                                                "--trust", folder + "/key.pub"])
            #expect(try node.release() == v1)

            func waitForHealth(containing text: String) throws -> String {
                let started = Date()
                var health = try node.get("/_strata/health").body
                while !health.contains(text) && Date().timeIntervalSince(started) < 5 {
                    usleep(100_000)
                    health = try node.get("/_strata/health").body
                }
                return health
            }
            let v2 = Self.id(try strataS3(["publish", fixtures + "/aurora-v2", "--activate"] + root))
            let unsigned = try waitForHealth(containing: v2)
            #expect(unsigned.hasPrefix("ok \(v1)\n") && unsigned.contains("release \(v2) in \(bucket.root) is not signed"), "\(unsigned)")
            #expect(try node.release() == v1, "still serving the signed release")

            // A signed release whose manifest is changed in the bucket (fingerprint recomputed, signature kept).
            let v3 = Self.id(try strataS3(["publish", fixtures + "/e2e-v1", "--sign", folder + "/key"] + root))
            var manifest = try JSONSerialization.jsonObject(with: Data(try #require(try bucket.client.getObject("site/releases/\(v3).json")).body)) as! [String: Any]
            var files = manifest["files"] as! [[String: Any]]
            let forgedBody = Array("<h1>forged</h1>".utf8)
            _ = try bucket.client.putObject("site/content/" + sha256Hex(forgedBody), forgedBody)
            files[0]["sha256"] = sha256Hex(forgedBody)
            files[0]["size"] = forgedBody.count
            manifest["files"] = files
            manifest["byteCount"] = files.reduce(0) { $0 + ($1["size"] as! Int) }
            let fingerprint = Fingerprint.compute(files.map { (path: $0["path"] as! String, sha256: $0["sha256"] as! String) })
            let forged = String(fingerprint.prefix(16))
            manifest["fingerprint"] = fingerprint
            manifest["id"] = forged
            _ = try bucket.client.putObject("site/releases/\(forged).json", Array(try JSONSerialization.data(withJSONObject: manifest)))
            #expect(try strataS3(["activate", forged, "--no-check"] + root).status == 0, "the bucket itself takes it")
            let altered = try waitForHealth(containing: forged)
            #expect(altered.contains("release \(forged) in \(bucket.root) has a signature that does not match its files"), "\(altered)")
            #expect(try node.release() == v1)

            // The signed release with a media type changed in its manifest (types are not signed).
            let original = try #require(try bucket.client.getObject("site/releases/\(v3).json")).body
            var retyped = try JSONSerialization.jsonObject(with: Data(original)) as! [String: Any]
            var entries = retyped["files"] as! [[String: Any]]
            entries[0]["type"] = (entries[0]["type"] as! String) == "text/html" ? "text/plain" : "text/html"
            retyped["files"] = entries
            _ = try bucket.client.putObject("site/releases/\(v3).json", Array(try JSONSerialization.data(withJSONObject: retyped)))
            #expect(try strataS3(["activate", v3, "--no-check"] + root).status == 0)
            let mistyped = try waitForHealth(containing: "its name gives")
            #expect(mistyped.contains("release \(v3) in \(bucket.root) types '"), "\(mistyped)")
            #expect(try node.release() == v1)
            _ = try bucket.client.putObject("site/releases/\(v3).json", original)

            // A release the key did sign is taken at once.
            #expect(try strataS3(["activate", v1, "--no-check"] + root).status == 0)
            #expect(try strataS3(["activate", v3, "--no-check"] + root).status == 0)
            let started = Date()
            while try node.release() != v3 && Date().timeIntervalSince(started) < 5 { usleep(100_000) }
            #expect(try node.release() == v3)
            #expect(try node.get("/_strata/health").body == "ok \(v3)\n", "the refusal is over")
        }
    }
}

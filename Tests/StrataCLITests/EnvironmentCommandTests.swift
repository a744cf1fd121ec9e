import Foundation
import StrataCore
import StrataTestSupport
import Testing

/// The environment workflow as a CI script drives it: promote, config, patch, diff, check.
@Suite struct EnvironmentCommandTests {
    @Test func buildOncePromoteConfigurePatchAndCheck() throws {
        try withTemporaryDirectory { folder in
            let root = ["--root", folder + "/store"]
            let v1 = try strata(["publish", fixtures + "/aurora-v1", "--label", "v1", "--channel", "staging", "--activate"] + root)
            #expect(v1.status == 0)
            let id = v1.stdout.trimmingCharacters(in: .whitespacesAndNewlines)

            let promoted = try strata(["promote", "--from", "staging", "--to", "production"] + root)
            #expect(promoted.status == 0 && promoted.stdout == "production: nothing -> \(id)\n")
            let stale = try strata(["promote", "--from", "staging", "--to", "production", "--expect-to", "none"] + root)
            #expect(stale.status == 3)
            #expect(stale.stderr == "error: channel 'production' points at \(id), not nothing as expected; nothing changed\n")

            #expect(try strata(["config", "set", "--channel", "production", "API_URL=https://api.example.com"] + root).status == 0)
            let shown = try strata(["config", "show", "--channel", "production"] + root)
            #expect(shown.stdout == "API_URL=https://api.example.com\n")
            let status = try strata(["status"] + root)
            #expect(status.stdout.contains("production") && status.stdout.contains("staging") && status.stdout.contains("CONFIG"))

            let hotfix = try makeSite(in: folder, name: "hotfix", files: ["robots.txt": "User-agent: *\n"])
            let patch = try strata(["publish", hotfix, "--base", "production", "--delete", "docs/getting-started/index.html",
                                    "--label", "v1.1"] + root)
            #expect(patch.status == 0)
            let releases = try strata(["releases"] + root)
            let patchLine = try #require(releases.stdout.split(separator: "\n").first { $0.contains("v1.1") })
            #expect(patchLine.contains(id))  // its BASE column
            let diff = try strata(["diff", "production", "v1.1"] + root)
            #expect(diff.stdout.contains("removed  docs/getting-started/index.html"))
            #expect(diff.stdout.contains("changed  robots.txt"))
            #expect(diff.stdout.hasSuffix("0 added, 1 removed, 1 changed, 11 unchanged; +14 B -358 B\n"))
            let diffJSON = try JSONSerialization.jsonObject(with: Data(try strata(["diff", "v1", "v1.1", "--json"] + root).stdout.utf8)) as? [String: Any]
            #expect((diffJSON?["removed"] as? [[String: Any]])?.first?["path"] as? String == "docs/getting-started/index.html")

            // The patch removed a page index.html links to: check lists it, activate refuses it.
            let check = try strata(["check", "v1.1"] + root)
            #expect(check.status == 1)
            #expect(check.stdout.contains("broken: index.html: "))
            let refused = try strata(["activate", "v1.1", "--channel", "production"] + root)
            #expect(refused.status != 0)
            #expect(refused.stderr.hasSuffix("error: release \(patch.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) has 1 broken references (listed above); fix them, or pass --force\n"))
            #expect(try strata(["status", "--json"] + root).stdout.contains(id))
            let forced = try strata(["activate", "v1.1", "--channel", "production", "--force"] + root)
            #expect(forced.status == 0)
            #expect(try strata(["rollback", "--channel", "production", "--config"] + root).status != 0)  // one config version only
        }
    }
}

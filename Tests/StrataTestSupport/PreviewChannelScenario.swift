import Foundation
import Testing

/// A preview channel's whole life through the command line, the same on a folder and on a bucket:
/// made with `--expires`, listed, expired during the test (no longer listed, its release then
/// pruned), another deleted by `strata channel delete` (history kept), and bad expiries refused
/// with the store left as it was.
public enum PreviewChannelScenario {
    public typealias Runner = ([String]) throws -> (status: Int32, stdout: String, stderr: String)

    public static func run(root: String, strata: Runner, snapshot: () throws -> [String]) throws {
        let at = ["--root", root]
        func id(_ result: (status: Int32, stdout: String, stderr: String)) throws -> String {
            #expect(result.status == 0, "\(result.stderr)")
            return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let stable = try id(try strata(["publish", fixtures + "/aurora-v1", "--label", "v1", "--activate"] + at))
        let before = try snapshot()

        // Hostile expiries: one line each, exit 64, nothing written (not even the release).
        for (words, said) in [(["--expires", "7x"], "is not a span"), (["--expires", "0d"], "out of range"),
                              (["--expires", "2001-01-01T00:00:00Z"], "has passed already"), (["--expires", "20000d"], "out of range")] {
            let refused = try strata(["publish", fixtures + "/aurora-v2", "--channel", "pr-1", "--activate"] + words + at)
            #expect(refused.status == 64 && refused.stderr.contains(said), "\(words): \(refused.stderr)")
        }
        let noActivate = try strata(["publish", fixtures + "/aurora-v2", "--expires", "7d"] + at)
        #expect(noActivate.status == 64 && noActivate.stderr.contains("--expires needs --activate"), "\(noActivate.stderr)")
        #expect(try snapshot() == before, "a refused --expires leaves the store exactly as it was")

        // pr-1 lives for a few seconds; pr-2 for a week.
        let preview = try id(try strata(["publish", fixtures + "/aurora-v2", "--label", "pr-1", "--channel", "pr-1", "--activate",
                                         "--expires", "4s"] + at))
        let other = try id(try strata(["publish", fixtures + "/e2e-v1", "--label", "pr-2", "--channel", "pr-2", "--activate",
                                       "--expires", "7d"] + at))
        let listed = try strata(["channels", "--json"] + at)
        #expect(listed.status == 0)
        let rows = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(rows.map { $0["channel"] as? String } == ["current", "pr-1", "pr-2"], "\(listed.stdout)")
        #expect(rows[0]["expires"] == nil && rows[1]["release"] as? String == preview && (rows[2]["expires"] as? String)?.hasSuffix("Z") == true)
        // A later activate without --expires keeps the expiry; the text listing says when.
        #expect(try strata(["activate", stable, "--channel", "pr-2"] + at).status == 0)
        #expect(try strata(["activate", other, "--channel", "pr-2"] + at).status == 0)
        let text = try strata(["channels"] + at).stdout
        #expect(text.contains("pr-2") && (text.contains("(in 6d 23h)") || text.contains("(in 7d 0h)")), "\(text)")

        // While pr-1 lives, prune keeps its release; once it expired, the release goes.
        let kept = try strata(["prune", "--keep", "1"] + at)
        #expect(kept.status == 0)
        #expect(try strata(["releases", "--json"] + at).stdout.contains(preview))
        Thread.sleep(forTimeInterval: 4.5)
        let after = try strata(["channels", "--json"] + at).stdout
        #expect(!after.contains("\"pr-1\"") && after.contains("\"pr-2\""), "an expired channel is no longer listed: \(after)")
        #expect(!(try strata(["status"] + at).stdout.contains("pr-1")))
        let pruned = try strata(["prune", "--keep", "1"] + at)
        #expect(pruned.status == 0, "\(pruned.stderr)")
        let releases = try strata(["releases", "--json"] + at).stdout
        #expect(!releases.contains(preview) && releases.contains(other) && releases.contains(stable),
                "prune removes what only the expired channel kept: \(releases)")

        // Deleting: gone at once, history kept; the name can be used again afresh.
        let deleted = try strata(["channel", "delete", "pr-2"] + at)
        #expect(deleted.status == 0 && deleted.stdout.contains("deleted"), "\(deleted.stdout)\(deleted.stderr)")
        #expect(!(try strata(["channels"] + at).stdout.contains("pr-2")))
        let history = try strata(["history", "--channel", "pr-2", "--json"] + at).stdout
        #expect(history.components(separatedBy: "\"action\"").count - 1 == 4 && history.contains("\"delete\""), "\(history)")
        let missing = try strata(["channel", "delete", "pr-2"] + at)
        #expect(missing.status == 1 && missing.stderr.contains("no channel 'pr-2'"), "\(missing.stderr)")
        let again = try strata(["activate", other, "--channel", "pr-2"] + at)
        #expect(again.status == 0 && again.stdout.contains("nothing -> \(other)") && !again.stdout.contains("expires"), "\(again.stdout)")
    }
}

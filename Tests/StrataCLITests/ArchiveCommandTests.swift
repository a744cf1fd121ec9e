import Foundation
import StrataCore
import StrataTestSupport
import Testing

/// `export`, `import` and archive publishing as a script sees them.
@Suite struct ArchiveCommandTests {
    @Test func exportPipedIntoImportOnAnotherStore() throws {
        try withTemporaryDirectory { folder in
            let origin = ["--root", folder + "/origin"]
            let id = try strata(["publish", fixtures + "/aurora-v1", "--label", "v1"] + origin).stdout.trimmingCharacters(in: .newlines)
            let toFile = try strata(["export", "v1", "-o", folder + "/v1.tar.gz"] + origin)
            #expect(toFile.status == 0)
            #expect(toFile.stderr.hasPrefix("exported \(id): 13 files as tar.gz, "))

            let piped = try run("/bin/sh", ["-c", "\"$0\" export v1 -o - --root \"$1\" | tee \"$2\" | \"$0\" import - --activate --root \"$3\"",
                                            strataExecutable, folder + "/origin", folder + "/piped.tar.gz", folder + "/target"])
            #expect(piped.status == 0, "\(piped.stderr)")
            #expect(piped.stdout == id + "\n")
            #expect(try Data(contentsOf: URL(fileURLWithPath: folder + "/piped.tar.gz")) == Data(contentsOf: URL(fileURLWithPath: folder + "/v1.tar.gz")))
            #expect(try strata(["status", "--root", folder + "/target"]).stdout.contains("current  \(id)"))
            #expect(try strata(["verify", "--root", folder + "/target"]).status == 0)

            // Without -o: <id>.tar.gz in the current folder. --json reports it.
            let report = try run("/bin/sh", ["-c", "cd \"$1\" && \"$0\" export v1 --json --root \"$2\"", strataExecutable, folder, folder + "/origin"])
            let json = try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any]
            #expect(json?["output"] as? String == id + ".tar.gz")
            #expect(FileManager.default.fileExists(atPath: folder + "/" + id + ".tar.gz"))
        }
    }

    @Test func aHostileArchiveIsOneLineAndExitOne() throws {
        try withTemporaryDirectory { folder in
            try makeArchive(at: folder + "/evil.tgz", #"tar([("index.html", "file", "x"), ("../../evil.sh", "file", "rm -rf /")])"#)
            let result = try strata(["publish", folder + "/evil.tgz", "--root", folder + "/store"])
            #expect(result.status == 1)
            #expect(result.stdout.isEmpty)
            #expect(result.stderr == "error: archive entry '../../evil.sh' climbs out of the archive with '..'\n")
            #expect(!FileManager.default.fileExists(atPath: folder + "/store"))
        }
    }

    @Test func limitsAreSetOnTheCommandLine() throws {
        try withTemporaryDirectory { folder in
            try makeArchive(at: folder + "/big.tgz", #"tar([("index.html", "file", "x"), ("zeros.bin", "file", bytes(3 << 20))])"#)
            let root = ["--root", folder + "/store"]
            let small = try strata(["publish", folder + "/big.tgz", "--max-bytes", "2M"] + root)
            #expect(small.status == 1)
            #expect(small.stderr == "error: archive expands past 2.0 MiB (the size limit, --max-bytes)\n")
            let few = try strata(["publish", folder + "/big.tgz", "--max-entries", "1"] + root)
            #expect(few.stderr == "error: archive has more than 1 entries (the entry limit, --max-entries)\n")
            #expect(try strata(["publish", folder + "/big.tgz", "--max-bytes", "4M"] + root).status == 0)
            #expect(try strata(["publish", folder + "/big.tgz", "--max-bytes", "lots"] + root).status == 64)
        }
    }

    @Test func exportRefusesAnUnknownFormatAndLeavesNoPartialFile() throws {
        try withTemporaryDirectory { folder in
            let root = ["--root", folder + "/store"]
            _ = try strata(["publish", fixtures + "/aurora-v1", "--label", "v1"] + root)
            let unknown = try strata(["export", "v1", "-o", folder + "/site.rar"] + root)
            #expect(unknown.status == 1)
            #expect(unknown.stderr.contains("cannot tell the format from"))
            #expect(!FileManager.default.fileExists(atPath: folder + "/site.rar"))
            let missing = try strata(["export", "nope", "-o", folder + "/x.tar.gz"] + root)
            #expect(missing.status == 1)
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["store"])
        }
    }
}

import Foundation
import StrataCore
import StrataTestSupport
import Testing

/// contrib/backup-store.sh and restore-store.sh, as docs/operations.md tells operators to run them.
@Suite struct BackupRestoreTests {
    static let contrib = URL(fileURLWithPath: fixtures).deletingLastPathComponent().appendingPathComponent("contrib").path

    func script(_ name: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try run("/bin/sh", [Self.contrib + "/" + name] + arguments,
                environment: ProcessInfo.processInfo.environment.merging(["STRATA": strataExecutable]) { _, new in new })
    }

    @Test func aStoreRestoredFromItsBackupServesTheSameReleases() throws {
        try withTemporaryDirectory { folder in
            let (store, backup, restored) = (folder + "/store", folder + "/backup", folder + "/restored")
            let v1 = try strata(["publish", fixtures + "/aurora-v1", "--root", store, "--activate"]).stdout.trimmingCharacters(in: .newlines)
            let v2 = try strata(["publish", fixtures + "/aurora-v2", "--root", store]).stdout.trimmingCharacters(in: .newlines)
            #expect(try strata(["activate", v2, "--channel", "staging", "--root", store]).status == 0)

            let first = try script("backup-store.sh", [store, backup])
            #expect(first.status == 0, "\(first.stderr)")
            #expect(try Set(FileManager.default.contentsOfDirectory(atPath: backup)) == ["\(v1).tar.gz", "\(v2).tar.gz", "channels"])
            let archive = try Data(contentsOf: URL(fileURLWithPath: backup + "/\(v1).tar.gz"))
            // Again: unchanged releases are not written again.
            #expect(try script("backup-store.sh", [store, backup]).status == 0)
            #expect(try Data(contentsOf: URL(fileURLWithPath: backup + "/\(v1).tar.gz")) == archive)

            let restore = try script("restore-store.sh", [backup, restored])
            #expect(restore.status == 0, "\(restore.stderr)")
            #expect(try strata(["status", "--root", restored]).stdout.split(separator: "\n").dropFirst().map { $0.split(separator: " ").prefix(2).joined(separator: " ") }
                    == ["current \(v1)", "staging \(v2)"])
            #expect(try strata(["verify", "--root", restored]).status == 0)
            let releases = try strata(["releases", "--root", restored]).stdout
            #expect(releases.contains(v1) && releases.contains(v2))

            // A damaged archive is refused, and the store is left as it was.
            let before = try snapshot(restored)
            var damaged = archive
            damaged[damaged.count / 2] ^= 0xFF
            try damaged.write(to: URL(fileURLWithPath: backup + "/\(v1).tar.gz"))
            let refused = try script("restore-store.sh", [backup, restored])
            #expect(refused.status != 0 && refused.stderr.hasPrefix("error: "), "\(refused.stderr)")
            #expect(try snapshot(restored) == before)
        }
    }
}

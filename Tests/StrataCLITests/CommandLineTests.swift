import Foundation
import StrataCore
import StrataTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a user at a terminal or a CI script sees: stdout, one-line errors on stderr, exit statuses.
@Suite struct CommandLineTests {
    func json(_ text: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8))
    }

    @Test func aDeployByHandFromPublishToRollback() throws {
        try withTemporaryDirectory { folder in
            let root = ["--root", folder + "/store"]
            let v1 = try strata(["publish", fixtures + "/aurora-v1", "--label", "v1"] + root)
            #expect(v1.status == 0)
            let id1 = v1.stdout.trimmingCharacters(in: .newlines)
            #expect(Fingerprint.isReleaseID(id1) && v1.stdout == id1 + "\n")
            #expect(v1.stderr.hasPrefix("published \(id1) (v1): 13 files"))

            let v2 = try strata(["publish", fixtures + "/aurora-v2", "--label", "v2", "--activate"] + root)
            let id2 = v2.stdout.trimmingCharacters(in: .newlines)
            #expect(v2.stderr.contains("wrote 5 files"))
            #expect(v2.stderr.contains("current: nothing -> \(id2)"))

            let again = try strata(["publish", fixtures + "/aurora-v1"] + root)
            #expect(again.stdout == id1 + "\n" && again.stderr.contains("already published"))

            let releases = try strata(["releases"] + root).stdout.split(separator: "\n")
            #expect(releases.count == 3)
            #expect(releases[0].hasPrefix("ID") && releases[1].hasPrefix(id2) && releases[1].hasSuffix("current"))

            #expect(try strata(["activate", String(id1.prefix(6))] + root).stdout == "current: \(id2) -> \(id1)\n")
            #expect(try strata(["rollback"] + root).stdout == "current: \(id1) -> \(id2)\n")
            let status = try strata(["status"] + root).stdout
            #expect(status.contains("current  \(id2)  v2"))
            let history = try json(try strata(["history", "--json"] + root).stdout) as? [[String: Any]]
            #expect(history?.map { $0["action"] as? String } == ["activate", "activate", "rollback"])
            #expect(try strata(["verify"] + root).stdout == "\(id2)  ok  13 files\n\(id1)  ok  13 files\n" ||
                    strata(["verify"] + root).stdout == "\(id1)  ok  13 files\n\(id2)  ok  13 files\n")
        }
    }

    @Test func jsonOutputIsParseable() throws {
        try withTemporaryDirectory { folder in
            let root = ["--root", folder + "/store"]
            let published = try json(try strata(["publish", fixtures + "/aurora-v1", "--label", "v1", "--activate", "--json"] + root).stdout) as? [String: Any]
            let id = try #require(published?["id"] as? String)
            #expect(published?["isNew"] as? Bool == true)
            #expect(published?["fileCount"] as? Int == 13)
            #expect((published?["activation"] as? [String: Any])?["to"] as? String == id)
            let releases = try json(try strata(["releases", "--json"] + root).stdout) as? [[String: Any]]
            #expect(releases?.first?["channels"] as? [String] == ["current"])
            let status = try json(try strata(["status", "--json"] + root).stdout) as? [[String: Any]]
            #expect(status?.first?["release"] as? String == id)
            let verify = try json(try strata(["verify", "--json"] + root).stdout) as? [[String: Any]]
            #expect(verify?.first?["intact"] as? Bool == true)
            let prune = try json(try strata(["prune", "--keep", "1", "--dry-run", "--json"] + root).stdout) as? [String: Any]
            #expect((prune?["removed"] as? [Any])?.isEmpty == true)
            let pin = try json(try strata(["pin", "v1", "--json"] + root).stdout) as? [String: Any]
            #expect(pin?["pinned"] as? Bool == true && pin?["changed"] as? Bool == true && pin?["id"] as? String == id)
            let unpin = try json(try strata(["unpin", "v1", "--json"] + root).stdout) as? [String: Any]
            #expect(unpin?["pinned"] as? Bool == false && unpin?["changed"] as? Bool == true)
        }
    }

    @Test func errorsAreOneLineOnStderrWithANonZeroStatus() throws {
        try withTemporaryDirectory { folder in
            let store = folder + "/store"
            let root = ["--root", store]
            let missing = try strata(["releases"] + root)
            #expect(missing.status == 1)
            #expect(missing.stderr == "error: no Strata store at '\(store)'; publish something first, or pass --root\n")

            #expect(try strata(["publish", fixtures + "/aurora-v1"] + root).status == 0)
            let before = try snapshot(store)
            let unknown = try strata(["activate", "zzzz"] + root)
            #expect(unknown.status == 1)
            #expect(unknown.stderr == "error: release 'zzzz' not found; run 'strata releases'\n")
            #expect(unknown.stdout.isEmpty)

            let site = try makeSite(in: folder, name: "site", files: ["index.html": "x"])
            try FileManager.default.createSymbolicLink(atPath: site + "/escape", withDestinationPath: "/etc")
            let hostile = try strata(["publish", site] + root)
            #expect(hostile.status == 1)
            #expect(hostile.stderr == "error: symlink 'escape' leads outside the source (to '/etc')\n")

            let keepZero = try strata(["prune", "--keep", "0"] + root)
            #expect(keepZero.status == 64)
            #expect(keepZero.stderr.contains("--keep must be at least 1"))
            #expect(try snapshot(store) == before)
        }
    }

    @Test func aRefusedCompareAndSwapExitsWithStatus3() throws {
        try withTemporaryDirectory { folder in
            let root = ["--root", folder + "/store"]
            let id1 = try strata(["publish", fixtures + "/aurora-v1", "--activate"] + root).stdout.trimmingCharacters(in: .newlines)
            let id2 = try strata(["publish", fixtures + "/aurora-v2"] + root).stdout.trimmingCharacters(in: .newlines)
            let refused = try strata(["activate", id2, "--expect", id2] + root)
            #expect(refused.status == 3)
            #expect(refused.stderr == "error: channel 'current' points at \(id1), not \(id2) as expected; nothing changed\n")
            #expect(try strata(["activate", id2, "--expect", String(id1.prefix(5))] + root).status == 0)
            #expect(try strata(["activate", id1, "--channel", "staging", "--expect", "none"] + root).status == 0)
            #expect(try strata(["activate", id2, "--channel", "staging", "--expect", "none"] + root).status == 3)
        }
    }

    @Test func verifyExitsNonZeroOnATamperedRelease() throws {
        try withTemporaryDirectory { folder in
            let store = folder + "/store"
            let id = try strata(["publish", fixtures + "/aurora-v1", "--root", store]).stdout.trimmingCharacters(in: .newlines)
            let file = store + "/releases/\(id)/assets/logo.b56bc6af.svg"
            chmod(file, 0o644)
            try write("<svg/>", to: file)
            let result = try strata(["verify", id, "--root", store])
            #expect(result.status == 1)
            #expect(result.stdout == "\(id)  FAILED\n  modified: assets/logo.b56bc6af.svg: size 6, manifest says 408\n")
        }
    }

    @Test func theStoreDefaultsToStrataRoot() throws {
        try withTemporaryDirectory { folder in
            let result = try strata(["publish", fixtures + "/aurora-v1"], environment: ["STRATA_ROOT": folder + "/env-store"])
            #expect(result.status == 0)
            #expect(FileManager.default.fileExists(atPath: folder + "/env-store/releases/" + result.stdout.trimmingCharacters(in: .newlines)))
        }
    }

    @Test func aWriterWaitsForALiveLockHolderThenGivesUpWithStatus4() throws {
        try withTemporaryDirectory { folder in
            let store = folder + "/store"
            let id = try strata(["publish", fixtures + "/aurora-v1", "--root", store]).stdout.trimmingCharacters(in: .newlines)
            // Another process holds the lock, as a long publish would.
            // --close: the lock stays with flock itself (not with sleep), so killing flock frees it.
            let holder = try ChildProcess("/usr/bin/flock", ["--close", store + "/lock", "sleep", "20"])
            defer { killWithChildren(holder.processIdentifier) }
            usleep(200_000)
            let blocked = try strata(["activate", id, "--root", store], environment: ["STRATA_LOCK_TIMEOUT": "0.5"])
            #expect(blocked.status == 4)
            #expect(blocked.stderr.hasPrefix("error: the store is locked by "))
            #expect(blocked.stderr.contains("gave up after"))

            // The holder dies without cleaning up: its lock goes with it.
            killWithChildren(holder.processIdentifier)
            holder.waitUntilExit()
            let freed = try strata(["activate", id, "--root", store], environment: ["STRATA_LOCK_TIMEOUT": "0.5"])
            #expect(freed.status == 0)
        }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") || getuid() != 0))
    func anUnreadableFileIsNamedAndNothingIsWritten() throws {
        try withTemporaryDirectory { folder in
            // Root reads everything, so as root the publisher runs as 'nobody' via setpriv.
            chmod(folder, 0o777)
            let store = folder + "/store"
            let site = try makeSite(in: folder, name: "site", files: ["index.html": "x", "secret.key": "k"])
            #expect(try strata(["publish", fixtures + "/aurora-v1", "--root", store]).status == 0)
            try run("/bin/chmod", ["-R", "a+rwX", store, site])
            chmod(site + "/secret.key", 0o000)
            let before = try snapshot(store)
            let arguments = ["publish", site, "--root", store]
            let result = getuid() == 0
                ? try run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", strataExecutable] + arguments)
                : try strata(arguments)
            #expect(result.status == 1)
            #expect(result.stderr == "error: cannot read '\(site)/secret.key': Permission denied\n")
            #expect(try snapshot(store) == before)
        }
    }
}

/// SIGKILLs a process and its children (an orphaned child would keep its inherited pipes open).
func killWithChildren(_ pid: Int32) {
    let children = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
    for child in children.split(separator: " ").compactMap({ Int32($0) }) { kill(child, SIGKILL) }
    kill(pid, SIGKILL)
}

import Foundation
import StrataCore
import StrataTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct MaintenanceTests {
    @Test func pruneKeepsNewestLivePinnedAndRecentHistory() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let ids = try store.publishNumberedReleases(7, sitesIn: folder)
            // current: r3 then r1 (r3 is its rollback target). staging: r4, r5, then the pinned r2, so
            // r5 is staging's rollback target and r4 is older history. r7 is the newest.
            _ = try store.channels.activate(ids[3], channel: "staging")
            _ = try store.channels.activate(ids[4], channel: "staging")
            _ = try store.channels.activate(ids[1], channel: "staging")
            _ = try store.channels.activate(ids[2], channel: "current")
            _ = try store.channels.activate(ids[0], channel: "current")
            try Pins(store: store.store).pin(ids[1])

            let pruner = Pruner(store: store.store)
            let before = try snapshot(store.root)
            let plan = try pruner.plan(keep: 1)
            #expect(try snapshot(store.root) == before, "planning (dry run) changes nothing")
            #expect(plan.remove.map(\.id) == [ids[3], ids[5]])
            let reasons = Dictionary(plan.keep.map { ($0.release.id, $0.reasons) }, uniquingKeysWith: { a, _ in a })
            #expect(reasons[ids[0]] == [.live, .recentHistory])
            #expect(reasons[ids[1]] == [.live, .pinned, .recentHistory])
            #expect(reasons[ids[2]] == [.recentHistory])
            #expect(reasons[ids[4]] == [.recentHistory])
            #expect(reasons[ids[6]] == [.newest])

            let report = try pruner.prune(keep: 1)
            #expect(report.plan.remove.count == 2)
            #expect(try Set(store.catalog.ids()) == Set([ids[0], ids[1], ids[2], ids[4], ids[6]]))
            // Content only the pruned releases had is freed; shared content stays for the others.
            #expect(report.filesFreed == 8)  // index.html, unique-N.js and its gzip and br variants, of r4 and r6
            #expect(try Verifier().verify(releaseFolder: store.root + "/releases/" + ids[0]).isIntact)
            #expect(try FileManager.default.contentsOfDirectory(atPath: store.root + "/staging").isEmpty)

            // The rollback target survived, so rollback still works.
            #expect(try store.channels.rollback(channel: "current").to == ids[2])
        }
    }

    @Test func pruneWithALargeKeepRemovesNothing() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            _ = try store.publishNumberedReleases(3, sitesIn: folder)
            let report = try Pruner(store: store.store).prune(keep: 3)
            #expect(report.plan.remove.isEmpty)
            #expect(report.filesFreed == 0)
            #expect(try store.catalog.ids().count == 3)
            #expect(throws: StrataError.self) { try Pruner(store: store.store).plan(keep: 0) }
        }
    }

    @Test func unpinnedReleasesBecomePrunable() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let ids = try store.publishNumberedReleases(2, sitesIn: folder)
            let pins = Pins(store: store.store)
            #expect(try pins.pin(ids[0]))
            #expect(try !pins.pin(ids[0]))
            #expect(try Pruner(store: store.store).plan(keep: 1).remove.isEmpty)
            #expect(try pins.unpin(ids[0]))
            #expect(try Pruner(store: store.store).plan(keep: 1).remove.map(\.id) == [ids[0]])
        }
    }

    @Test func rollbackSkipsReleasesThatWerePruned() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let ids = try store.publishNumberedReleases(4, sitesIn: folder)
            for id in ids.prefix(3) { _ = try store.channels.activate(id, channel: "current") }
            _ = try store.channels.activate(ids[3], channel: "current")
            _ = try Pruner(store: store.store).prune(keep: 1)  // keeps r4 (live, newest) and r3 (last history entry)
            #expect(try Set(store.catalog.ids()) == Set([ids[2], ids[3]]))
            #expect(try store.channels.rollback(channel: "current").to == ids[2])
            #expect(throws: StrataError.self) { try store.channels.rollback(channel: "current") }
        }
    }

    @Test func verifyCatchesModifiedMissingAndUnexpectedFiles() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let id = try store.publishFixture("aurora-v1")
            let release = store.root + "/releases/" + id
            #expect(try Verifier().verify(releaseFolder: release).isIntact)

            chmod(release + "/robots.txt", 0o644)
            try write("User-agent: *\nDisallow: /\n", to: release + "/robots.txt")
            chmod(release, 0o755)
            unlink(release + "/404.html")
            try write("extra", to: release + "/extra.txt")
            let report = try Verifier().verify(releaseFolder: release)
            #expect(!report.isIntact)
            #expect(report.problems.map(\.kind) == [.unexpected, .missing, .modified])
            #expect(report.problems.map(\.path) == ["extra.txt", "404.html", "robots.txt"])
        }
    }

    @Test func verifyCatchesATamperedManifest() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let id = try store.publishFixture("aurora-v1")
            let metadata = store.root + "/releases/" + id + "/.strata"
            chmod(metadata, 0o755)
            let path = metadata + "/manifest.json"
            chmod(path, 0o644)
            let text = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: "\"robots.txt\"", with: "\"robots2.txt\"")
            try write(text, to: path)
            let report = try Verifier().verify(releaseFolder: store.root + "/releases/" + id)
            #expect(report.problems.contains { $0.kind == .manifest })
        }
    }

    @Test func aCopiedReleaseFolderVerifiesOnItsOwn() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let id = try store.publishFixture("aurora-v2")
            try run("/bin/cp", ["-r", store.root + "/releases/" + id, folder + "/copy"])
            #expect(try Verifier().verify(releaseFolder: folder + "/copy").isIntact)
        }
    }
}

@Suite struct LockTests {
    @Test func aLockHeldByALiveWriterMakesOthersWaitThenFailNamingIt() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let id = try store.publishFixture("aurora-v1")
            try store.store.withWriteLock {
                let started = Date()
                let error = #expect(throws: StrataError.self) {
                    try Channels(store: Store(root: store.root, lockTimeout: 0.3)).activate(id, channel: "current")
                }
                #expect(error?.kind == .locked)
                #expect(error?.message.contains("the store is locked by pid \(getpid()) on ") == true, "\(error?.message ?? "")")
                #expect(Date().timeIntervalSince(started) >= 0.3)
            }
            #expect(try store.channels.activate(id, channel: "current").changed)
        }
    }

    @Test func aStaleLockRecordDoesNotBlock() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let id = try store.publishFixture("aurora-v1")
            // The record a killed writer leaves: the file says it is locked, but no process holds the flock.
            try write("pid 999999 on elsewhere since 2020-01-01T00:00:00.000Z\n", to: store.root + "/lock")
            #expect(try Channels(store: Store(root: store.root, lockTimeout: 0.1)).activate(id, channel: "current").changed)
        }
    }
}

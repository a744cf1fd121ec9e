import Foundation
import StrataCore
import StrataTestSupport
import Testing

/// Promotion between channels, per-channel config versions, patch releases, diff and pre-flight.
@Suite struct EnvironmentTests {
    func text(_ path: String) -> String? {
        try? String(contentsOfFile: path, encoding: .utf8)
    }

    @Test func promotionIsACompareAndSwapOnBothPointersAndIsRecorded() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let v1 = try store.publishFixture("aurora-v1", label: "v1")
            let v2 = try store.publishFixture("aurora-v2", label: "v2")
            let channels = store.channels
            _ = try channels.activate(v1, channel: "staging")

            let first = try channels.promote(from: "staging", to: "production")
            #expect(first.from == nil && first.to == v1 && first.changed)
            #expect(text(store.root + "/channels/production") == v1 + "\n")
            let entry = try #require(try channels.history("production").last)
            #expect(entry.action == .promote && entry.source == "staging" && entry.to == v1)

            // Staging moves on; a promotion that expected the old staging release is refused.
            _ = try channels.activate(v2, channel: "staging")
            let before = try snapshot(store.root)
            let stale = #expect(throws: StrataError.self) {
                try channels.promote(from: "staging", to: "production", expectedSource: v1)
            }
            #expect(stale?.kind == .conflict)
            #expect(stale?.message == "channel 'staging' serves \(v2), not \(v1) as expected; nothing changed")
            let movedTarget = #expect(throws: StrataError.self) {
                try channels.promote(from: "staging", to: "production", expectedTarget: .some(nil))
            }
            #expect(movedTarget?.message == "channel 'production' points at \(v1), not nothing as expected; nothing changed")
            #expect(try snapshot(store.root) == before)

            let second = try channels.promote(from: "staging", to: "production", expectedSource: v2, expectedTarget: v1)
            #expect(second.from == v1 && second.to == v2)
            // A promotion is a flip like any other: rollback undoes it.
            #expect(try channels.rollback(channel: "production").to == v1)

            #expect(throws: StrataError.self) { try channels.promote(from: "staging", to: "staging") }
            let nothing = #expect(throws: StrataError.self) { try channels.promote(from: "qa", to: "production") }
            #expect(nothing?.message == "channel 'qa' has never been activated; nothing to promote")
        }
    }

    @Test func configVersionsAreImmutableContentAddressedAndRollBackOnTheirOwn() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let v1 = try store.publishFixture("aurora-v1", label: "v1")
            _ = try store.channels.activate(v1, channel: "production")
            let configs = ChannelConfigs(store: Store(root: store.root, lockTimeout: 5))
            #expect(try configs.current("production") == nil)

            let first = try configs.set(["API_URL": "https://api.example.com", "FEATURE_X": "on"], channel: "production")
            let version = try configs.version(first.to)
            #expect(String(decoding: version.bytes, as: UTF8.self) == #"{"API_URL":"https://api.example.com","FEATURE_X":"on"}"#)
            #expect(sha256Hex(version.bytes).hasPrefix(first.to))
            #expect(text(store.root + "/configs/channels/production") == first.to + "\n")
            let versionFile = store.root + "/configs/versions/\(first.to).json"
            #expect(mode(versionFile) & 0o777 == 0o444)

            let second = try configs.set(["FEATURE_X": "off"], channel: "production")
            #expect(second.from == first.to && second.to != first.to)
            #expect(try configs.current("production")?.values == ["API_URL": "https://api.example.com", "FEATURE_X": "off"])
            #expect(text(versionFile) == #"{"API_URL":"https://api.example.com","FEATURE_X":"on"}"#)  // untouched

            // Setting the same values again points at the same version: content-addressed.
            #expect(try configs.set(["FEATURE_X": "off"], channel: "production").changed == false)

            let third = try configs.unset(["FEATURE_X"], channel: "production")
            #expect(try configs.version(third.to).values == ["API_URL": "https://api.example.com"])
            #expect(try configs.rollback(channel: "production").to == second.to)
            #expect(try configs.rollback(channel: "production").to == first.to)
            #expect(try configs.history("production").map(\.action) == [.set, .set, .unset, .rollback, .rollback])
            // The release pointer never moved.
            #expect(try store.channels.pointer("production") == v1)

            let before = try snapshot(store.root)
            let badKey = #expect(throws: StrataError.self) { try configs.set(["API-URL": "x"], channel: "production") }
            #expect(badKey?.message.hasPrefix("config key 'API-URL' is not allowed") == true)
            let missing = #expect(throws: StrataError.self) { try configs.unset(["NOPE"], channel: "production") }
            #expect(missing?.message == "channel 'production' has no config key 'NOPE'")
            #expect(throws: StrataError.self) { try configs.rollback(channel: "staging") }
            #expect(try snapshot(store.root) == before)
        }
    }

    @Test func aPatchReleaseLinksTheBaseRecordsItAndLeavesItUntouched() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let base = try store.publishFixture("aurora-v1", label: "v1")
            let baseFolder = store.root + "/releases/" + base
            let baseBefore = try snapshot(baseFolder)
            let hotfix = try makeSite(in: folder, name: "hotfix", files: [
                "robots.txt": "User-agent: *\nDisallow: /admin\n",
                "assets/banner.1a2b3c4d.js": "console.log('hotfix banner')\n",
            ])
            let report = try store.publish(PublishRequest(source: hotfix, label: "v1.1", base: base,
                                                          deletions: ["/docs/getting-started/index.html"]))
            let patch = report.manifest
            #expect(report.isNew && report.filesCopied == 2)
            #expect(patch.base == base)
            #expect(patch.id != base)
            let paths = Set(patch.files.map(\.path))
            #expect(paths.contains("assets/banner.1a2b3c4d.js"))
            #expect(!paths.contains("docs/getting-started/index.html"))
            #expect(patch.fileCount == 13 - 1 + 1)
            let patchFolder = store.root + "/releases/" + patch.id
            #expect(text(patchFolder + "/robots.txt") == "User-agent: *\nDisallow: /admin\n")
            // Unchanged files are the base's own bytes, linked, not copied.
            #expect(inode(patchFolder + "/index.html") == inode(baseFolder + "/index.html"))
            #expect(try snapshot(baseFolder) == baseBefore)
            // Its fingerprint is that of its own files: publishing the same tree as a folder gives it.
            let whole = folder + "/whole"
            try FileManager.default.copyItem(atPath: fixtures + "/aurora-v1", toPath: whole)
            try FileManager.default.removeItem(atPath: whole + "/docs/getting-started/index.html")
            try FileManager.default.removeItem(atPath: whole + "/robots.txt")
            try FileManager.default.copyItem(atPath: hotfix + "/robots.txt", toPath: whole + "/robots.txt")
            try FileManager.default.copyItem(atPath: hotfix + "/assets/banner.1a2b3c4d.js", toPath: whole + "/assets/banner.1a2b3c4d.js")
            #expect(try store.publish(whole).manifest.id == patch.id)
            #expect(try Verifier().verify(releaseFolder: patchFolder).isIntact)
            #expect(try store.catalog.summaries().first { $0.id == patch.id }?.base == base)
        }
    }

    @Test func aBadPatchIsRefusedAndLeavesTheStoreAsItWas() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let base = try store.publishFixture("aurora-v1", label: "v1")
            let hotfix = try makeSite(in: folder, name: "hotfix", files: ["robots.txt": "x\n", "index.html/inner.txt": "clash\n"])
            let empty = folder + "/empty"
            try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
            let before = try snapshot(store.root)
            let cases: [(PublishRequest, String)] = [
                (PublishRequest(source: empty, base: base, deletions: ["nope.html"]), "--delete 'nope.html': release \(base) has no such file"),
                (PublishRequest(source: empty, base: base, deletions: ["../etc/passwd"]), "--delete '../etc/passwd' is not a file path inside the release"),
                (PublishRequest(source: hotfix, base: base, deletions: ["robots.txt"]), "'robots.txt' is both in the patch and given to --delete; pick one"),
                (PublishRequest(source: hotfix, base: base), "'index.html' would be both a file and a folder; --delete one of them"),
                (PublishRequest(source: hotfix, base: "0123456789abcdef"), "release 0123456789abcdef not found; run 'strata releases'"),
                (PublishRequest(source: empty, deletions: ["robots.txt"]), "--delete needs --base: it removes files of the release being patched"),
            ]
            for (request, message) in cases {
                let error = #expect(throws: StrataError.self) { try store.publish(request) }
                #expect(error?.message == message)
            }
            #expect(try snapshot(store.root) == before)
        }
    }

    @Test func diffListsAddedRemovedAndChangedFilesWithSizes() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let v1 = try store.catalog.manifest(try store.publishFixture("aurora-v1"))
            let v2 = try store.catalog.manifest(try store.publishFixture("aurora-v2"))
            let diff = ReleaseDiff(from: v1, to: v2)
            let v1Paths = Set(v1.files.map(\.path)), v2Paths = Set(v2.files.map(\.path))
            #expect(Set(diff.added.map(\.path)) == v2Paths.subtracting(v1Paths))
            #expect(Set(diff.removed.map(\.path)) == v1Paths.subtracting(v2Paths))
            #expect(diff.added.map(\.path).contains("assets/chunk-billing.48d2e2b4.js"))
            #expect(diff.removed.map(\.path).contains("assets/chunk-settings.88c4240a.js"))
            let index = try #require(diff.changed.first { $0.path == "index.html" })
            #expect(index.oldSize == v1.files.first { $0.path == "index.html" }?.size)
            #expect(index.newSize == v2.files.first { $0.path == "index.html" }?.size)
            #expect(diff.unchangedCount + diff.changed.count == v1Paths.intersection(v2Paths).count)
            #expect(!diff.changed.contains { $0.path == "assets/vendor.a1d646b7.js" })
            #expect(ReleaseDiff(from: v1, to: v1).isEmpty)
        }
    }

    @Test func preflightFindsBrokenReferencesInHTMLAndCSS() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            #expect(try Preflight(store: store.store).check(try store.publishFixture("aurora-v1")).passes)

            // aurora-v1 broken on purpose: a missing stylesheet, image in srcset, url() in CSS,
            // module import, and a link climbing above the root; the fine ones must not be listed.
            let site = try copyFixture("aurora-v1", to: folder)
            try write("""
                <!doctype html><html><head>
                <link rel="stylesheet" href="/assets/missing.css">
                <link rel="icon" href="favicon.ico?v=2#x">
                <script type="module">import { boot } from './assets/gone.1234abcd.js'; boot();</script>
                </head><body>
                <img src="images/hero.png" srcset="images/hero.png 1x, images/hero@2x.png 2x" alt="">
                <a href="https://example.com/">out</a> <a href="#top">top</a> <a href="mailto:x@example.com">m</a>
                <a href="docs/getting-started/">docs</a> <a href="../../etc/passwd">up</a>
                <p>Writing href="nowhere.html" in prose is not a link.</p>
                <script src="/_strata/config.js"></script>
                </body></html>
                """, to: site + "/index.html")
            let css = try FileManager.default.contentsOfDirectory(atPath: site + "/assets").first { $0.hasSuffix(".css") }!
            try write(".hero { background: url('../images/nope.webp') } .logo { background: url(data:image/png;base64,AAAA) }",
                      to: site + "/assets/" + css)
            let broken = try store.publish(site).manifest.id
            let report = try Preflight(store: store.store).check(broken)
            #expect(!report.passes && report.isIntact)
            let found = Set(report.brokenReferences.map { "\($0.file) \($0.reference) \($0.resolved)" })
            #expect(found == [
                "index.html /assets/missing.css assets/missing.css",
                "index.html ./assets/gone.1234abcd.js assets/gone.1234abcd.js",
                "index.html images/hero@2x.png images/hero@2x.png",
                "index.html ../../etc/passwd (above the release's root)",
                "assets/\(css) ../images/nope.webp images/nope.webp",
            ])
            #expect(report.warnings.isEmpty)
        }
    }

    @Test func preflightSaysWhenThereIsNoIndexAndCatchesAModifiedFile() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let site = try makeSite(in: folder, name: "api", files: ["data/items.json": "[1,2,3]\n"])
            let id = try store.publish(site).manifest.id
            let report = try Preflight(store: store.store).check(id)
            #expect(report.passes)
            #expect(report.warnings == ["no index.html at the release's root: the channel URL '/' will answer 404"])

            let file = store.root + "/releases/\(id)/data/items.json"
            chmod(store.root + "/releases/\(id)/data", 0o755)
            chmod(file, 0o644)
            try write("[1,2,3,4]\n", to: file)
            let damaged = try Preflight(store: store.store).check(id)
            #expect(!damaged.isIntact && damaged.problems.map(\.path) == ["data/items.json"])
            // Same size, other bytes: only the full check sees it.
            try write("[9,9,9]\n", to: file)
            #expect(try Preflight(store: store.store).check(id).isIntact)
            #expect(try !Preflight(store: store.store).check(id, full: true).isIntact)
        }
    }
}

import Foundation
import StrataCore
import StrataTestSupport
import Testing

/// `_redirects` and `_headers` as read at publish: every rule form, and what is kept in the manifest.
@Suite struct SiteRulesTests {
    func rules(redirects: String = "", headers: String = "") throws -> SiteRules {
        try SiteRules.load { name in
            name == SiteRules.redirectsFile ? Array(redirects.utf8) : name == SiteRules.headersFile ? Array(headers.utf8) : nil
        }
    }

    @Test func everyRedirectFormIsRead() throws {
        let read = try rules(redirects: """
            # comment, then a blank line

            /home              /
            /blog/:year/:slug  /posts/:year/:slug   302
            /docs/*            /manual/:splat       308!
            /app/*             /app/index.html      200
            /gone              /404.html            404
            /ext               https://example.com/x?y=1  307   # trailing comment
            \t/tabbed\t/tab\t303\r
            """).redirects
        #expect(read.map(\.line) == [3, 4, 5, 6, 7, 8, 9])
        #expect(read.map(\.status) == [301, 302, 308, 200, 404, 307, 303])
        #expect(read.map(\.isForced) == [false, false, true, false, false, false, false])
        #expect(read[1].from.placeholderNames == ["year", "slug"])
        #expect(read[2].from.hasSplat)
        #expect(read[1].to.expand(["year": "2024", "slug": "a b"], encoded: true) == "/posts/2024/a%20b")
        #expect(read[2].to.expand(["splat": "x/y"], encoded: true) == "/manual/x/y")
        #expect(read[5].to.expand([:], encoded: true) == "https://example.com/x?y=1")
        #expect(!read[5].to.isLocal)
    }

    @Test func patternsMatchSegmentsAndSplats() throws {
        let read = try rules(redirects: "/blog/:year/:slug /x\n/docs/* /y\n/ /z\n/caf%C3%A9 /w\n").redirects
        #expect(read[0].from.match("blog/2024/post") == ["year": "2024", "slug": "post"])
        #expect(read[0].from.match("blog/2024") == nil)
        #expect(read[0].from.match("blog/2024/post/more") == nil)
        #expect(read[1].from.match("docs") == ["splat": ""])
        #expect(read[1].from.match("docs/a/b/c") == ["splat": "a/b/c"])
        #expect(read[1].from.match("documents") == nil)
        #expect(read[2].from.match("") == [:])
        #expect(read[3].from.match("café") == [:])
    }

    @Test func headerBlocksAreRead() throws {
        let read = try rules(headers: """
            # security for everything
            /*
              X-Frame-Options: DENY
              Content-Security-Policy: default-src 'self'; img-src *
            /assets/:name
              Cache-Control: public, max-age=60
              ! X-Content-Type-Options
            /empty
            """).headers
        #expect(read.count == 3)
        #expect(read[0].line == 2)
        #expect(read[0].actions == [.set(name: "X-Frame-Options", value: "DENY"),
                                    .set(name: "Content-Security-Policy", value: "default-src 'self'; img-src *")])
        #expect(read[1].actions == [.set(name: "Cache-Control", value: "public, max-age=60"), .remove(name: "X-Content-Type-Options")])
        #expect(read[2].actions.isEmpty)
    }

    @Test func aByteOrderMarkIsIgnored() throws {
        #expect(try rules(redirects: "\u{FEFF}/a /b\n").redirects.count == 1)
    }

    @Test func aLongLineIsRefused() throws {
        let error = #expect(throws: StrataError.self) { try rules(redirects: "/a /" + String(repeating: "b", count: 9000) + "\n") }
        #expect(error?.message == "_redirects:1: line longer than 8192 bytes")
    }

    @Test func publishKeepsTheContentCheckAndReportsMissingRedirectTargets() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let site = try makeSite(in: folder, name: "site", files: [
                "index.html": "<a href=\"/about.html\">about</a> <img src=\"/missing.png\">",
                "about.html": "about", "docs/index.html": "docs",
                "_redirects": "/a /about.html\n/b /docs/\n/c /nowhere 301\n/d/:page /elsewhere/:page\n/e/* /d/x\n/f /e/anything 302\n/g /about\n",
            ])
            let manifest = try store.publish(site).manifest
            let check = try #require(manifest.check)
            #expect(check.brokenReferences == [
                BrokenReference(file: "index.html", reference: "/missing.png", resolved: "missing.png"),
                BrokenReference(file: "_redirects:3", reference: "/nowhere", resolved: "nowhere"),
            ])  // /d has a placeholder (not checked); /f is caught by rule 5; /g is about.html
            // The report of `strata check` is the one kept at publish.
            let report = try Preflight(store: store.store).check(manifest.id)
            #expect(report.brokenReferences == check.brokenReferences)
            #expect(report.referencesChecked == check.referencesChecked)
            // Both rule files stay files of the release.
            #expect(manifest.files.map(\.path).contains("_redirects"))
        }
    }

    @Test func targetsOfManyRulesAreCheckedAgainstTheRulesCompiled() throws {
        try withTemporaryDirectory { folder in
            // Each target is the next rule's source; the last points nowhere. Compared rule by
            // rule this would be 30,000² pattern matches.
            let count = 30_000
            var rules = ""
            for number in 0..<count { rules += "/r/\(number) /r/\(number + 1) 301\n" }
            let site = try makeSite(in: folder, name: "site", files: ["index.html": "x", "_redirects": rules])
            let check = try #require(try TestStore(in: folder).publish(site).manifest.check)
            #expect(check.brokenReferences == [BrokenReference(file: "_redirects:\(count)", reference: "/r/\(count)", resolved: "r/\(count)")])
        }
    }

    @Test func aBadRuleInAnArchiveLeavesTheStoreUnchanged() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            _ = try store.publishFixture("aurora-v1")
            let site = try makeSite(in: folder, name: "site", files: ["index.html": "x", "_headers": "/*\n  Transfer-Encoding: chunked\n"])
            let archive = folder + "/site.tar.gz"
            #expect(try run("/bin/tar", ["-czf", archive, "-C", site, "."]).status == 0)
            let before = try snapshot(store.root)
            let error = #expect(throws: StrataError.self) { try store.publish(archive) }
            #expect(error?.message == "_headers:2: 'Transfer-Encoding' is Strata's to send; _headers cannot set or remove it")
            #expect(try snapshot(store.root) == before)
        }
    }

    @Test func aBadRuleInAPatchIsRefused() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let base = try store.publishFixture("aurora-v1")
            let patch = try makeSite(in: folder, name: "patch", files: ["_redirects": "/a\n"])
            let before = try snapshot(store.root)
            let error = #expect(throws: StrataError.self) { try store.publish(PublishRequest(source: patch, base: base)) }
            #expect(error?.message == "_redirects:1: '/a' has no target (a rule is: from to [status])")
            #expect(try snapshot(store.root) == before)
        }
    }
}

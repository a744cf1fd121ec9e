import Foundation
import StrataCore
import StrataServer
import StrataTestSupport
import Testing

/// `_redirects`, `_headers` and the trailing-slash policy, as a client sees them.
@Suite struct SiteRulesServingTests {
    /// Publishes `files` and makes them live on `current`.
    func live(_ files: [String: String], in folder: String) throws -> (TestStore, String) {
        let store = TestStore(in: folder)
        let site = try makeSite(in: folder, name: "site-\(UUID().uuidString.prefix(8))", files: files)
        let id = try store.publish(site).manifest.id
        _ = try store.channels.activate(id, channel: "current")
        return (store, id)
    }

    static let site: [String: String] = [
        "index.html": "home", "about.html": "about page", "docs/index.html": "docs", "app/index.html": "app shell",
        "404.html": "custom not found", "kept.html": "kept", "blog/2024/hello.html": "hello",
        "_redirects": """
            # old paths
            /home                /                                 301
            /old-blog/:year/:slug /blog/:year/:slug.html           302
            /news/*              https://news.example.com/:splat   308
            /search              /find?source=old                  307
            /app/*               /app/index.html                   200
            /gone/*              /404.html                         404
            /kept.html           /about.html                       302
            /kept.html           /never                            301!
            /about.html          /docs/                            303
            /*                   /index.html                       200
            """,
        "_headers": "/*\n  X-Frame-Options: DENY\n",
    ]

    @Test func everyRedirectFormAnswersAsWritten() throws {
        try withTemporaryDirectory { folder in
            let (store, id) = try live(Self.site, in: folder)
            try withServer(store) { port, _ in
                let home = try request(port, "/home?ref=mail")
                #expect(home.status == 301)
                #expect(home.header("Location") == "/?ref=mail")  // query strings pass through
                #expect(home.header("Strata-Release") == id)
                #expect(home.header("Cache-Control") == "no-cache")

                let post = try request(port, "/old-blog/2024/hello")
                #expect(post.status == 302 && post.header("Location") == "/blog/2024/hello.html")
                #expect(try request(port, "/old-blog/2024/hello/").header("Location") == "/blog/2024/hello.html")  // trailing slash ignored

                let news = try request(port, "/news/2024/a%20b/c")
                #expect(news.status == 308 && news.header("Location") == "https://news.example.com/2024/a%20b/c")
                #expect(try request(port, "/news").header("Location") == "https://news.example.com/")
                // The slash a request had stays on the splat: one redirect, not a second to add it back.
                #expect(try request(port, "/news/new-post/").header("Location") == "https://news.example.com/new-post/")
                #expect(try request(port, "/news/new-post").header("Location") == "https://news.example.com/new-post")

                let search = try request(port, "/search?q=x")
                #expect(search.status == 307 && search.header("Location") == "/find?source=old&q=x")

                let shell = try request(port, "/app/settings/profile")
                #expect(shell.status == 200 && shell.text == "app shell")

                let gone = try request(port, "/gone/thing")
                #expect(gone.status == 404 && gone.text == "custom not found")

                // A file wins over its rule; `!` wins over the file.
                #expect(try request(port, "/about.html").status == 200)
                let forced = try request(port, "/kept.html")
                #expect(forced.status == 301 && forced.header("Location") == "/never")

                // The catch-all is last: it answers only what nothing else did.
                let other = try request(port, "/unknown/page")
                #expect(other.status == 200 && other.text == "home")
            }
        }
    }

    @Test func theRuleFilesAreNeverServed() throws {
        try withTemporaryDirectory { folder in
            var files = Self.site
            files["_redirects"] = "/a /b\n"
            let (store, id) = try live(files, in: folder)
            try withServer(store) { port, _ in
                for path in ["/_redirects", "/_headers", "/_v/\(id)/_redirects", "/_v/\(id)/_headers"] {
                    let reply = try request(port, path)
                    #expect(reply.status == 404, "\(path)")
                    #expect(!reply.text.contains("X-Frame-Options") && !reply.text.contains("/a /b"))
                }
            }
            // They stay files of the release: in its manifest and its fingerprint.
            #expect(try store.catalog.manifest(id).files.map(\.path).contains("_headers"))
        }
    }

    @Test func headersApplyToSuccessfulAnswersOnly() throws {
        try withTemporaryDirectory { folder in
            let (store, id) = try live([
                "index.html": "home", "docs/index.html": "docs", "assets/app.js": "js()", "assets/logo.svg": "<svg/>",
                "404.html": "missing",
                "_headers": """
                    /*
                      X-Frame-Options: DENY
                      Link: </style.css>; rel=preload
                    /assets/*
                      Cache-Control: public, max-age=600
                      X-Robots-Tag: noindex
                      ! X-Content-Type-Options
                    /assets/:file
                      Link: </font.woff2>; rel=preload
                    /docs/
                      Content-Security-Policy: default-src 'self'
                    """,
            ], in: folder)
            try withServer(store) { port, _ in
                let page = try request(port, "/")
                #expect(page.header("X-Frame-Options") == "DENY")
                #expect(page.header("Cache-Control") == "no-cache")
                #expect(page.header("X-Content-Type-Options") == "nosniff")

                let script = try request(port, "/assets/app.js")
                #expect(script.header("Cache-Control") == "public, max-age=600")  // replaced, not added
                #expect(script.headers.filter { $0.name == "Cache-Control" }.count == 1)
                #expect(script.header("X-Content-Type-Options") == nil)  // removed
                #expect(script.header("Link") == "</style.css>; rel=preload, </font.woff2>; rel=preload")  // joined
                #expect(script.header("ETag") != nil && script.header("Content-Length") == "4")
                #expect(script.header("Strata-Release") == id)

                // The same head on 304, range and versioned answers.
                let tag = try #require(script.header("ETag"))
                let revalidated = try request(port, "/assets/app.js", headers: ["If-None-Match": tag])
                #expect(revalidated.status == 304 && revalidated.header("X-Robots-Tag") == "noindex")
                let part = try request(port, "/assets/app.js", headers: ["Range": "bytes=0-1"])
                #expect(part.status == 206 && part.header("X-Robots-Tag") == "noindex" && part.text == "js")
                #expect(try request(port, "/_v/\(id)/assets/app.js").header("Cache-Control") == "public, max-age=600")

                // A folder's page gets the blocks of its URL.
                #expect(try request(port, "/docs/").header("Content-Security-Policy") == "default-src 'self'")

                // Never on errors.
                let missing = try request(port, "/nope")
                #expect(missing.status == 404 && missing.header("X-Frame-Options") == nil)
                let badRange = try request(port, "/assets/app.js", headers: ["Range": "bytes=50-60"])
                #expect(badRange.status == 416 && badRange.header("X-Robots-Tag") == nil)
            }
        }
    }

    @Test func immutableGoesOnlyOnSuccessfulAnswers() throws {
        try withTemporaryDirectory { folder in
            let (store, id) = try live(["index.html": "home", "app.3f9a12c4.js": "js()", "_redirects": "/old.3f9a12c4.js /app.3f9a12c4.js\n"],
                                       in: folder)
            try withServer(store) { port, _ in
                let immutable = "public, max-age=31536000, immutable"
                #expect(try request(port, "/app.3f9a12c4.js").header("Cache-Control") == immutable)
                #expect(try request(port, "/_v/\(id)/index.html").header("Cache-Control") == immutable)
                let tag = try #require(try request(port, "/app.3f9a12c4.js").header("ETag"))
                #expect(try request(port, "/app.3f9a12c4.js", headers: ["If-None-Match": tag]).header("Cache-Control") == immutable)
                for (path, headers, status) in [("/gone.4a8b9c0d.js", [:], 404), ("/old.3f9a12c4.js", [:], 301),
                                                ("/_v/\(id)/missing.html", [:], 404),
                                                ("/_v/\(id)/index.html", ["Range": "bytes=90-99"], 416)] {
                    let reply = try request(port, path, headers: headers)
                    #expect(reply.status == status, "\(path)")
                    #expect(reply.header("Cache-Control")?.contains("immutable") == false, "\(path)")
                }
            }
        }
    }

    @Test func headersCanOverrideTheHashedNameGuessEitherWay() throws {
        try withTemporaryDirectory { folder in
            let (store, _) = try live([
                "index.html": "home", "app.3f9a12c4.js": "js()", "fonts/inter.woff2": "font",
                "_headers": "/app.3f9a12c4.js\n  Cache-Control: no-store\n/fonts/*\n  Cache-Control: public, max-age=31536000, immutable\n",
            ], in: folder)
            try withServer(store) { port, _ in
                let script = try request(port, "/app.3f9a12c4.js")
                let font = try request(port, "/fonts/inter.woff2")
                #expect(script.header("Cache-Control") == "no-store")
                #expect(font.header("Cache-Control") == "public, max-age=31536000, immutable")
            }
        }
    }

    @Test func trailingSlashPolicies() throws {
        try withTemporaryDirectory { folder in
            let (store, _) = try live(["index.html": "home", "docs/index.html": "docs", "about.html": "about", "docs.txt": "t"], in: folder)
            let expectations: [(TrailingSlash, String, Int, String)] = [
                (.add, "/docs", 301, "/docs/?x=1"), (.add, "/docs/", 200, "docs"), (.add, "/about", 200, "about"),
                (.add, "/about/", 301, "/about?x=1"),
                (.remove, "/docs", 200, "docs"), (.remove, "/docs/", 301, "/docs?x=1"), (.remove, "/about", 200, "about"),
                (.remove, "/about/", 301, "/about?x=1"),
                (.off, "/docs", 200, "docs"), (.off, "/docs/", 200, "docs"), (.off, "/about", 200, "about"), (.off, "/about/", 200, "about"),
            ]
            for policy in TrailingSlash.allCases {
                try withServer(store, { $0.trailingSlash = policy }) { port, _ in
                    for (mode, path, status, expected) in expectations where mode == policy {
                        let reply = try request(port, path + "?x=1")
                        #expect(reply.status == status, "\(policy) \(path)")
                        #expect((status == 301 ? reply.header("Location") : reply.text) == expected, "\(policy) \(path)")
                    }
                    #expect(try request(port, "/").text == "home")
                    #expect(try request(port, "/docs.txt").text == "t")
                }
            }
        }
    }

    @Test func manyRulesAreFoundByPathNotByScanning() throws {
        try withTemporaryDirectory { folder in
            var rules = ""
            for number in 0..<20_000 { rules += "/old/\(number)/:page /new/\(number)/:page 301\n" }
            rules += "/old/* /archive/:splat 302\n"
            let (store, _) = try live(["index.html": "home", "_redirects": rules], in: folder)
            try withServer(store) { port, _ in
                #expect(try request(port, "/old/19999/x").header("Location") == "/new/19999/x")
                #expect(try request(port, "/old/0/y").header("Location") == "/new/0/y")
                let fallback = try request(port, "/old/20000/z")
                #expect(fallback.status == 302 && fallback.header("Location") == "/archive/20000/z")
            }
        }
    }
}

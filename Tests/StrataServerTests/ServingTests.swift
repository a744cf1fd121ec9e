import Foundation
import StrataCore
import StrataServer
import StrataTestSupport
import Testing

/// What the server answers, checked on the wire: bodies, statuses and headers.
@Suite struct ServingTests {
    @Test func theChannelURLServesTheLiveReleaseWithItsHeaders() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            try withServer(served.store) { port, _ in
                let index = try fixtureBytes("aurora-v1", "index.html")
                let page = try request(port, "/")
                #expect(page.status == 200)
                #expect(page.body == index)
                #expect(page.header("Content-Type") == "text/html; charset=utf-8")
                #expect(page.header("Content-Length") == String(index.count))
                #expect(page.header("ETag") == etag(of: index))
                #expect(page.header("Cache-Control") == "no-cache")
                #expect(page.header("Strata-Release") == served.v1)
                #expect(page.header("X-Content-Type-Options") == "nosniff")
                #expect(page.header("Vary") == "Accept-Encoding")
                #expect(page.header("Date")?.hasSuffix(" GMT") == true)

                let head = try request(port, "/", method: "HEAD")
                #expect(head.status == 200 && head.body.isEmpty)
                #expect(head.header("Content-Length") == String(index.count))
                #expect(head.header("ETag") == page.header("ETag"))

                let png = try request(port, "/images/hero.png")
                #expect(png.header("Content-Type") == "image/png")
                #expect(png.body == (try fixtureBytes("aurora-v1", "images/hero.png")))
                #expect(png.header("Vary") == nil)
            }
        }
    }

    /// A second server on a served port fails to start with the reason; starting it again is
    /// refused, and stopping it (as `defer` does) returns: its event loops were already stopped.
    @Test func aServerThatCannotListenSaysWhyAndStopsTwice() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            try withServer(served.store) { port, _ in
                var configuration = ServerConfiguration()
                configuration.port = port
                configuration.threads = 2
                let second = try StrataHTTPServer(store: served.store.store, configuration: configuration)
                let failure = #expect(throws: (any Error).self) { try second.start() }
                #expect(failure.map { "\($0)" }?.contains("Address already in use") == true, "\(String(describing: failure))")
                // Starting it again is refused at once: its loops are stopped and run nothing.
                let again = #expect(throws: (any Error).self) { try second.start() }
                #expect(again.map { "\($0)" }?.contains("already stopped") == true, "\(String(describing: again))")
                second.shutdown()
                second.shutdown()
                #expect(try request(port, "/robots.txt").status == 200, "the first server carries on")
            }
        }
    }

    @Test func aFlipIsSeenByTheNextRequestWithoutARestart() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            try withServer(served.store) { port, _ in
                #expect(try request(port, "/").header("Strata-Release") == served.v1)
                _ = try served.store.channels.activate(served.v2, channel: "current")
                let after = try request(port, "/")
                #expect(after.header("Strata-Release") == served.v2)
                #expect(after.body == (try fixtureBytes("aurora-v2", "index.html")))
                _ = try served.store.channels.rollback(channel: "current")
                #expect(try request(port, "/").header("Strata-Release") == served.v1)
            }
        }
    }

    @Test func versionedURLsServeEveryReleaseForeverCacheable() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            try withServer(served.store) { port, _ in
                let v2 = try request(port, "/_v/\(served.v2)/index.html")
                #expect(v2.status == 200)
                #expect(v2.body == (try fixtureBytes("aurora-v2", "index.html")))
                #expect(v2.header("Cache-Control") == "public, max-age=31536000, immutable")
                #expect(v2.header("Strata-Release") == served.v2)
                #expect(try request(port, "/_v/\(served.v2)/").body == v2.body)
                #expect(try request(port, "/_v/\(served.v2.prefix(8))/index.html").status == 404, "prefixes are not accepted")
                #expect(try request(port, "/_v/0123456789abcdef/index.html").status == 404)
                #expect(try request(port, "/_v/\(served.v2.uppercased())/index.html").status == 404)
            }
        }
    }

    @Test func hashNamedFilesAreImmutableAndETagsFollowContentAcrossReleases() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            try withServer(served.store) { port, _ in
                let vendor = try request(port, "/assets/vendor.a1d646b7.js")
                #expect(vendor.header("Cache-Control") == "public, max-age=31536000, immutable")
                #expect(try request(port, "/robots.txt").header("Cache-Control") == "no-cache")
                // Unchanged content keeps its ETag after a flip, so the browser gets a 304.
                _ = try served.store.channels.activate(served.v2, channel: "current")
                let tag = try #require(vendor.header("ETag"))
                let revalidated = try request(port, "/assets/vendor.a1d646b7.js", headers: ["If-None-Match": tag])
                #expect(revalidated.status == 304)
                #expect(revalidated.body.isEmpty)
                #expect(revalidated.header("ETag") == tag)
                #expect(revalidated.header("Strata-Release") == served.v2)
                // Lists, weak tags and * match; another tag does not.
                for value in ["\"nope\", \(tag)", "W/\(tag)", "*"] {
                    #expect(try request(port, "/assets/vendor.a1d646b7.js", headers: ["If-None-Match": value]).status == 304, "\(value)")
                }
                #expect(try request(port, "/assets/vendor.a1d646b7.js", headers: ["If-None-Match": "\"other\""]).status == 200)
                // Changed content: a different ETag, so no 304.
                let oldIndexTag = etag(of: try fixtureBytes("aurora-v1", "index.html"))
                #expect(try request(port, "/", headers: ["If-None-Match": oldIndexTag]).status == 200)
            }
        }
    }

    @Test func variantsFollowAcceptEncoding() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            try withServer(served.store) { port, _ in
                let path = "/assets/vendor.a1d646b7.js"
                let plain = try fixtureBytes("aurora-v1", String(path.dropFirst()))
                // Each encoding as a browser would get it, decoded by its own command-line tool.
                var tags: [String: String] = [:]
                var sizes: [String: Int] = [:]
                for (coding, decoder) in [("gzip", "gzip -dc"), ("br", "brotli -dc"), ("zstd", "zstd -dcq")] {
                    let response = try request(port, path, headers: ["Accept-Encoding": coding])
                    #expect(response.header("Content-Encoding") == coding)
                    #expect(response.header("Vary") == "Accept-Encoding")
                    #expect(response.header("Content-Length") == String(response.body.count))
                    #expect(response.body.count < plain.count)
                    let file = folder + "/body." + coding
                    try Data(response.body).write(to: URL(fileURLWithPath: file))
                    #expect(try run("/bin/sh", ["-c", "\(decoder) < \"$0\" | sha256sum", file]).stdout.hasPrefix(sha256Hex(plain)), "\(coding)")
                    tags[coding] = response.header("ETag")
                    sizes[coding] = response.body.count
                    // A 304 for the variant's own tag.
                    #expect(try request(port, path, headers: ["Accept-Encoding": coding, "If-None-Match": tags[coding]!]).status == 304)
                }
                // Every representation has its own ETag.
                #expect(Set(tags.values + [etag(of: plain)]).count == 4)
                // Among equals, the first of gzip, br, zstd.
                let smallest = ["gzip", "br", "zstd"].reduce("gzip") { sizes[$1]! < sizes[$0]! ? $1 : $0 }

                // q-values first, then the smallest; q=0 refuses; identity and * as RFC 9110 §12.5.3 says.
                for (accept, expected) in [
                    ("gzip, deflate, br, zstd", smallest), ("br, gzip", sizes["br"]! <= sizes["gzip"]! ? "br" : "gzip"),
                    ("br;q=0.5, gzip", "gzip"), ("gzip;q=0.2, zstd;q=0.3", "zstd"), ("GZIP;q=0.8", "gzip"),
                    ("gzip;q=0", nil), ("identity", nil), ("*;q=0.5", smallest), ("*, br;q=0, zstd;q=0", "gzip"),
                    ("identity;q=1, br;q=0.5", nil), ("br;q=1, identity;q=0.5", "br"), ("*;q=0", nil), ("compress, deflate", nil),
                    ("br;q=0.000", nil), ("br;q=1.5", nil), ("br;q=0.001", "br"), ("", nil),
                ] as [(String, String?)] {
                    let response = try request(port, path, headers: ["Accept-Encoding": accept])
                    #expect(response.header("Content-Encoding") == expected, "\(accept)")
                    #expect(response.header("Vary") == "Accept-Encoding", "\(accept)")
                    if expected == nil { #expect(response.body == plain, "\(accept)") }
                }
                // A file without a variant is never encoded and carries no Vary.
                let png = try request(port, "/images/hero.png", headers: ["Accept-Encoding": "gzip, br, zstd"])
                #expect(png.header("Content-Encoding") == nil && png.header("Vary") == nil)
                // A range is served from the file's own bytes, whatever the client accepts.
                let ranged = try request(port, path, headers: ["Range": "bytes=0-3", "Accept-Encoding": "br, zstd, gzip"])
                #expect(ranged.status == 206 && ranged.header("Content-Encoding") == nil && ranged.body == Array(plain.prefix(4)))
                // The same choice at a versioned URL.
                let versioned = try request(port, "/_v/\(served.v1)" + path, headers: ["Accept-Encoding": "gzip, br, zstd"])
                #expect(versioned.header("Content-Encoding") == smallest && versioned.header("ETag") == tags[smallest])
            }
        }
    }

    @Test func byteRangesFollowRFC9110() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            try withServer(served.store) { port, _ in
                let whole = try fixtureBytes("aurora-v1", "robots.txt")
                let length = whole.count
                let tag = etag(of: whole)
                func range(_ value: String, _ extra: [String: String] = [:]) throws -> WireResponse {
                    try request(port, "/robots.txt", headers: ["Range": value].merging(extra) { a, _ in a })
                }
                let first = try range("bytes=0-9")
                #expect(first.status == 206)
                #expect(first.body == Array(whole[0...9]))
                #expect(first.header("Content-Range") == "bytes 0-9/\(length)")
                #expect(first.header("Content-Length") == "10")
                #expect(try range("bytes=-5").body == Array(whole[(length - 5)...]))
                #expect(try range("bytes=10-").body == Array(whole[10...]))
                let clamped = try range("bytes=5-99999")
                #expect(clamped.status == 206 && clamped.header("Content-Range") == "bytes 5-\(length - 1)/\(length)")
                #expect(try range("bytes=-99999").body == whole)
                let beyond = try range("bytes=\(length)-")
                #expect(beyond.status == 416)
                #expect(beyond.header("Content-Range") == "bytes */\(length)")
                #expect(try range("bytes=-0").status == 416)
                // Overflowing numbers neither crash nor wrap.
                #expect(try range("bytes=99999999999999999999999999-").status == 416)
                #expect(try range("bytes=0-99999999999999999999999999").status == 206)
                #expect(try range("bytes=-99999999999999999999999999").body == whole)
                // Several ranges, bad syntax, other units: the whole file.
                for value in ["bytes=0-1,4-5", "bytes=abc", "bytes=5-2", "lines=1-2", "bytes=--1"] {
                    let answer = try range(value)
                    #expect(answer.status == 200 && answer.body == whole, "\(value)")
                }
                // If-Range: the current strong tag keeps the range, anything else gets the whole file.
                #expect(try range("bytes=0-9", ["If-Range": tag]).status == 206)
                #expect(try range("bytes=0-9", ["If-Range": "\"stale\""]).status == 200)
                #expect(try range("bytes=0-9", ["If-Range": "W/\(tag)"]).status == 200)
                #expect(try range("bytes=0-9", ["If-Range": "Sat, 21 Nov 2026 10:00:00 GMT"]).status == 200)
                // A range asks for identity bytes even from a client that accepts gzip.
                let ranged = try request(port, "/assets/vendor.a1d646b7.js", headers: ["Range": "bytes=0-3", "Accept-Encoding": "gzip"])
                #expect(ranged.status == 206 && ranged.header("Content-Encoding") == nil)
            }
        }
    }

    @Test func foldersRedirectsNotFoundAndHiddenFiles() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            try withServer(served.store) { port, _ in
                let guide = try fixtureBytes("aurora-v1", "docs/getting-started/index.html")
                #expect(try request(port, "/docs/getting-started/").body == guide)
                let redirect = try request(port, "/docs/getting-started?from=nav")
                #expect(redirect.status == 301)
                #expect(redirect.header("Location") == "/docs/getting-started/?from=nav")
                #expect(try request(port, "/_v/\(served.v1)/docs/getting-started").header("Location") == "/_v/\(served.v1)/docs/getting-started/")

                let missing = try request(port, "/no/such/page")
                #expect(missing.status == 404)
                #expect(missing.body == (try fixtureBytes("aurora-v1", "404.html")))
                #expect(missing.header("Cache-Control") == "no-cache")
                #expect(try request(port, "/docs/").status == 404, "a folder without index.html")

                #expect(try request(port, "/.well-known/security.txt").body == (try fixtureBytes("aurora-v1", ".well-known/security.txt")))
                for hidden in ["/.strata/manifest.json", "/_v/\(served.v1)/.strata/manifest.json", "/.well-known/../.strata/manifest.json",
                               "/assets/.DS_Store", "/.git/config"] {
                    let response = try request(port, hidden)
                    #expect(response.status == 404 || response.status == 400, "\(hidden)")
                    #expect(!response.text.contains("fingerprint"), "\(hidden)")
                }
            }
        }
    }

    @Test func singlePageAppsGetIndexForRoutesButNeverForAssets() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            let index = try fixtureBytes("aurora-v1", "index.html")
            try withServer(served.store, { $0.spa = true }) { port, _ in
                let route = try request(port, "/settings/profile", headers: ["Accept": "text/html,application/xhtml+xml,*/*;q=0.8"])
                #expect(route.status == 200 && route.body == index)
                #expect(route.header("Cache-Control") == "no-cache")
                #expect(try request(port, "/assets/missing.js", headers: ["Accept": "text/html"]).status == 404)
                #expect(try request(port, "/settings/profile", headers: ["Accept": "application/json"]).status == 404)
            }
            try withServer(served.store) { port, _ throws in
                #expect(try request(port, "/settings/profile", headers: ["Accept": "text/html"]).status == 404, "only with --spa")
            }
        }
    }

    @Test func anOpenPageStillGetsItsChunksAfterAFlip() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            _ = try served.store.channels.activate(served.v2, channel: "current")
            try withServer(served.store) { port, _ in
                let chunk = try request(port, "/assets/chunk-settings.88c4240a.js")  // only v1 has it
                #expect(chunk.status == 200)
                #expect(chunk.body == (try fixtureBytes("aurora-v1", "assets/chunk-settings.88c4240a.js")))
                #expect(chunk.header("Strata-Release") == served.v1)
                #expect(chunk.header("Cache-Control") == "public, max-age=31536000, immutable")
            }
            // Not beyond the configured history, and never for names without a hash.
            try withServer(served.store, { $0.fallbackHistoryEntries = 0 }) { port, _ throws in
                #expect(try request(port, "/assets/chunk-settings.88c4240a.js").status == 404)
            }
            let only = try makeSite(in: folder, name: "v3", files: ["index.html": "three", "old-only.js": "x"])
            let v3 = try served.store.publish(only).manifest.id
            _ = try served.store.channels.activate(v3, channel: "current")
            _ = try served.store.channels.activate(served.v2, channel: "current")
            try withServer(served.store) { port, _ throws in
                #expect(try request(port, "/old-only.js").status == 404)
            }
        }
    }

    @Test func methodsOtherThanGetAndHeadAreRefusedAndBodiesIgnored() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            try withServer(served.store) { port, _ in
                for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
                    let response = try request(port, "/", method: method)
                    #expect(response.status == 405, "\(method)")
                    #expect(response.header("Allow") == "GET, HEAD", "\(method)")
                }
                // A GET with a body: the body is dropped and the connection stays usable.
                let connection = try RawConnection(port: port)
                try connection.send("GET /robots.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world")
                #expect(try connection.readResponse().status == 200)
                try connection.send("GET /robots.txt HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(try connection.readResponse().body == (try fixtureBytes("aurora-v1", "robots.txt")))
            }
        }
    }

    @Test func healthAndReleaseEndpoints() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            try withServer(served.store) { port, _ in
                let health = try request(port, "/_strata/health")
                #expect(health.status == 200 && health.text == "ok \(served.v1)\n")
                let release = try request(port, "/_strata/release")
                let json = try JSONSerialization.jsonObject(with: Data(release.body)) as? [String: Any]
                #expect(json?["channel"] as? String == "current")
                #expect(json?["id"] as? String == served.v1)
                #expect(json?["label"] as? String == "v1")
                #expect((json?["activated"] as? String)?.hasPrefix("20") == true)
                #expect(release.header("Content-Type") == "application/json")
                #expect(release.header("Cache-Control") == "no-cache")
            }
        }
    }

    @Test func aMissingPointerOrReleaseIs503AndTheServerRecoversByItself() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder, live: nil)
            try withServer(served.store) { port, _ in
                let none = try request(port, "/")
                #expect(none.status == 503)
                #expect(none.text.contains("channel 'current' has no release yet"))
                #expect(try request(port, "/_strata/health").status == 503)
                #expect(try request(port, "/_v/\(served.v1)/").status == 200, "versioned URLs work regardless")

                _ = try served.store.channels.activate(served.v1, channel: "current")
                #expect(try request(port, "/").status == 200)

                // A pointer naming a release that is not there (edited by hand, or restored from a backup).
                let pointer = served.store.root + "/channels/current"
                try "0123456789abcdef\n".write(toFile: pointer + ".tmp", atomically: false, encoding: .utf8)
                #expect(rename(pointer + ".tmp", pointer) == 0)
                // No strata command made that rename, so nothing told the server: it sees it at its
                // next look at the pointers' folder, within a second.
                var missing = try request(port, "/")
                let renamed = Date()
                while missing.status != 503 && Date().timeIntervalSince(renamed) < 3 {
                    usleep(50_000)
                    missing = try request(port, "/")
                }
                #expect(Date().timeIntervalSince(renamed) < 1.5)
                #expect(missing.status == 503)
                #expect(missing.text.contains("points at release 0123456789abcdef, which is not in the store"))

                _ = try served.store.channels.activate(served.v2, channel: "current")
                #expect(try request(port, "/").header("Strata-Release") == served.v2)
            }
        }
    }

    @Test func aReleasePrunedWhileServingIsA404NotACrash() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder, live: "v2")
            try withServer(served.store) { port, _ in
                #expect(try request(port, "/_v/\(served.v1)/index.html").status == 200)
                #expect(try request(port, "/_v/\(served.v1)/images/hero.png").status == 200)
                _ = try Pruner(store: served.store.store).prune(keep: 1)
                #expect(try !served.store.catalog.contains(served.v1))
                #expect(try request(port, "/_v/\(served.v1)/docs/getting-started/index.html").status == 404)
                #expect(try request(port, "/_v/\(served.v1)/index.html").status != 500)
                #expect(try request(port, "/").status == 200)
            }
        }
    }

    @Test func theServerNeverWritesToTheStoreAndLogsEachRequest() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            let before = try snapshot(served.store.root)
            let log = folder + "/access.log"
            try withServer(served.store, { $0.accessLog = log }) { port, _ in
                for path in ["/", "/assets/vendor.a1d646b7.js", "/nope", "/_v/\(served.v2)/", "/%2e%2e/x", "/_strata/health"] {
                    _ = try request(port, path, headers: ["User-Agent": "test \"agent\""])
                }
            }
            #expect(try snapshot(served.store.root) == before)
            let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
            #expect(lines.count == 6)
            #expect(lines[0].contains("\"GET / HTTP/1.1\" 200 "))
            #expect(lines[0].contains("\"test \\x22agent\\x22\""), "quotes from clients are escaped")
            #expect(lines[2].contains("\" 404 "))
            #expect(lines[4].contains("\" 400 "))
        }
    }
}

import Dispatch
import Foundation
import StrataCore
import StrataServer
import StrataTestSupport
import Synchronization
import Testing

/// A channel with a canary, as visitors see it: who gets which release, that each keeps it, that
/// no answer mixes releases or leaks into a shared cache, and the browser error reports.
@Suite struct CanaryServingTests {
    /// Two releases whose pages and un-hashed assets differ, so any mix shows.
    struct TwoReleases {
        let store: TestStore
        let stable: String
        let canary: String

        init(in folder: String) throws {
            let store = TestStore(in: folder)
            self.store = store
            func site(_ name: String, extra: [String: String] = [:]) throws -> String {
                try store.publish(try makeSite(in: folder, name: name, files: [
                    "index.html": "<!doctype html><title>\(name)</title><script src=/app.js></script>",
                    "app.js": "window.release = '\(name)';", "style.css": "body { --release: '\(name)'; }",
                    "docs/index.html": "docs of \(name)", "assets/logo.0123abcd.svg": "<svg/>",
                ].merging(extra) { $1 })).manifest.id
            }
            stable = try site("stable")
            canary = try site("canary", extra: ["_headers": "/docs/*\n  Cache-Control: public, max-age=600\n"])
            _ = try store.channels.activate(stable, channel: "current")
        }
    }

    /// The `Strata-Release` of each answer to `paths`, sent pipelined on one connection (HEAD), and
    /// the `Set-Cookie` values among them.
    static func visit(_ port: Int, cookie: String?, paths: [String]) throws -> (releases: [String], cookies: [String]) {
        let connection = try RawConnection(port: port)
        var text = ""
        for (number, path) in paths.enumerated() {
            text += "HEAD \(path) HTTP/1.1\r\nHost: localhost\r\n" + (cookie.map { "Cookie: \($0)\r\n" } ?? "")
                + (number == paths.count - 1 ? "Connection: close\r\n" : "") + "\r\n"
        }
        try connection.send(text)
        var bytes: [UInt8] = []
        while true {
            let chunk = try connection.receive()
            if chunk.isEmpty { break }
            bytes += chunk
        }
        return lineValues(in: bytes)
    }

    /// The `Strata-Release` and `Set-Cookie` values of every line, found with memchr rather than
    /// by splitting Strings: a million answers are read here, and the reading must not cost more
    /// than the serving.
    static func lineValues(in bytes: [UInt8]) -> (releases: [String], cookies: [String]) {
        let release = Array("Strata-Release: ".utf8)
        let cookie = Array("Set-Cookie: ".utf8)
        var releases: [String] = []
        var cookies: [String] = []
        bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            var start = 0
            while start < buffer.count {
                let newline = memchr(base + start, 0x0A, buffer.count - start)
                let end = newline.map { UnsafePointer($0.assumingMemoryBound(to: UInt8.self)) - base } ?? buffer.count
                let line = UnsafeBufferPointer(rebasing: buffer[start..<(end > start && buffer[end - 1] == 0x0D ? end - 1 : end)])
                if line.starts(with: release) {
                    releases.append(String(decoding: line.dropFirst(release.count), as: UTF8.self))
                } else if line.starts(with: cookie) {
                    cookies.append(String(decoding: line.dropFirst(cookie.count), as: UTF8.self))
                }
                start = end + 1
            }
        }
        return (releases, cookies)
    }

    /// `strata-bucket=…` from a `Set-Cookie` value.
    static func bucketCookie(_ setCookie: String) -> String {
        String(setCookie.prefix { $0 != ";" })
    }

    @Test func tenThousandVisitorsSplitByThePercentAndEachKeepsItsReleaseAcrossWidening() throws {
        try withTemporaryDirectory { folder in
            let releases = try TwoReleases(in: folder)
            _ = try releases.store.channels.startCanary(releases.canary, percent: 10, channel: "current")
            try withServer(releases.store) { port, _ in
                let visitors = 10_000
                let paths = ["/", "/app.js", "/style.css", "/docs/", "/assets/logo.0123abcd.svg", "/_strata/release", "/_strata/rollout.js"]
                // First request of each visitor, without a cookie: assigned, answered and told its bucket at once.
                let first = Mutex<[(cookie: String, release: String)]>([])
                let problems = Mutex<[String]>([])
                DispatchQueue.concurrentPerform(iterations: 4) { worker in
                    for _ in stride(from: worker, to: visitors, by: 4) {
                        do {
                            let seen = try Self.visit(port, cookie: nil, paths: ["/"])
                            guard seen.releases.count == 1, seen.cookies.count == 1 else { throw StrataError(.corrupt, "first answer: \(seen)") }
                            first.withLock { $0.append((Self.bucketCookie(seen.cookies[0]), seen.releases[0])) }
                        } catch { problems.withLock { $0.append("\(error)") } }
                    }
                }
                #expect(problems.withLock { $0 }.isEmpty, "\(problems.withLock { $0.prefix(3) })")
                let assigned = first.withLock { $0 }
                #expect(assigned.count == visitors)
                let onCanary = assigned.filter { $0.release == releases.canary }.count
                #expect((850...1150).contains(onCanary), "\(onCanary) of \(visitors) on the canary at 10%")
                #expect(Set(assigned.map(\.cookie)).count == visitors, "every visitor gets its own bucket")

                // 100 more requests each, across pages, un-hashed assets and endpoints: always its release, never a new cookie.
                func checkEveryVisitor(requests: Int) -> [(cookie: String, release: String)] {
                    let kept = Mutex<[(cookie: String, release: String)]>([])
                    DispatchQueue.concurrentPerform(iterations: 4) { worker in
                        for number in stride(from: worker, to: visitors, by: 4) {
                            let visitor = assigned[number]
                            do {
                                let seen = try Self.visit(port, cookie: visitor.cookie, paths: (0..<requests).map { paths[$0 % paths.count] })
                                let distinct = Set(seen.releases)
                                guard seen.releases.count == requests, distinct.count == 1, seen.cookies.isEmpty else {
                                    throw StrataError(.corrupt, "visitor \(visitor.cookie) saw \(distinct) in \(seen.releases.count) answers, cookies \(seen.cookies)")
                                }
                                kept.withLock { $0.append((visitor.cookie, distinct.first!)) }
                            } catch { problems.withLock { $0.append("\(error)") } }
                        }
                    }
                    return kept.withLock { $0 }
                }
                let at10 = checkEveryVisitor(requests: 100)
                #expect(problems.withLock { $0 }.isEmpty, "\(problems.withLock { $0.prefix(3) })")
                let firstRelease = Dictionary(uniqueKeysWithValues: assigned.map { ($0.cookie, $0.release) })
                #expect(at10.allSatisfy { firstRelease[$0.cookie] == $0.release }, "a visitor changed release without any flip")

                // Widening only moves visitors from stable to the canary.
                _ = try releases.store.channels.startCanary(releases.canary, percent: 50, channel: "current")
                let at50 = checkEveryVisitor(requests: 20)
                #expect(problems.withLock { $0 }.isEmpty, "\(problems.withLock { $0.prefix(3) })")
                let movedBack = at50.filter { firstRelease[$0.cookie] == releases.canary && $0.release != releases.canary }
                #expect(movedBack.isEmpty, "\(movedBack.count) canary visitors were moved back to stable by widening")
                let canaryAt50 = at50.filter { $0.release == releases.canary }.count
                #expect((4750...5250).contains(canaryAt50), "\(canaryAt50) of \(visitors) on the canary at 50%")
            }
        }
    }

    @Test func splitAnswersArePrivateAndOnlyANewVisitorIsGivenACookie() throws {
        try withTemporaryDirectory { folder in
            let releases = try TwoReleases(in: folder)
            try withServer(releases.store) { port, _ in
                // No canary: answers as they always were.
                let plain = try request(port, "/")
                #expect(plain.header("Cache-Control") == "no-cache" && plain.header("Set-Cookie") == nil)

                _ = try releases.store.channels.startCanary(releases.canary, percent: 50, channel: "current")
                let fresh = try request(port, "/")
                let setCookie = try #require(fresh.header("Set-Cookie"))
                #expect(setCookie.range(of: #"^strata-bucket=[0-9a-f]{16}; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly$"#, options: .regularExpression) != nil, "\(setCookie)")
                #expect(fresh.header("Cache-Control") == "private, no-cache")
                let cookie = Self.bucketCookie(setCookie)
                let release = fresh.header("Strata-Release")

                let again = try request(port, "/", headers: ["Cookie": "theme=dark; \(cookie)"])
                #expect(again.header("Set-Cookie") == nil && again.header("Strata-Release") == release)
                #expect(again.header("Cache-Control") == "private, no-cache")
                let missing = try request(port, "/nowhere", headers: ["Cookie": cookie])
                #expect(missing.status == 404 && missing.header("Cache-Control")?.hasPrefix("private") == true)
                #expect(missing.header("Strata-Release") == release)
                // A hash-named file is the same on both sides: shared, unless it carries a new visitor's cookie.
                let logo = try request(port, "/assets/logo.0123abcd.svg", headers: ["Cookie": cookie])
                #expect(logo.header("Cache-Control") == "public, max-age=31536000, immutable")
                let logoFirst = try request(port, "/assets/logo.0123abcd.svg")
                #expect(logoFirst.header("Cache-Control") == "private, max-age=31536000, immutable" && logoFirst.header("Set-Cookie") != nil)
                // Versioned URLs are one release's, whoever asks: shared, no cookie.
                let versioned = try request(port, "/_v/\(releases.canary)/app.js")
                #expect(versioned.header("Cache-Control") == "public, max-age=31536000, immutable" && versioned.header("Set-Cookie") == nil)
                // The canary's `_headers` makes its docs public; during the split they stay private.
                let docs = try request(port, "/docs/", headers: ["Cookie": "strata-release=canary"])
                #expect(docs.header("Strata-Release") == releases.canary)
                #expect(docs.headers.filter { $0.name == "Cache-Control" }.map(\.value) == ["private, no-cache"], "\(docs.headers)")
                // The canary ended: its `_headers` count again, and nobody gets a cookie.
                _ = try releases.store.channels.activate(releases.canary, channel: "current")
                let after = try request(port, "/docs/")
                #expect(after.header("Cache-Control") == "public, max-age=600" && after.header("Set-Cookie") == nil)
            }
        }
    }

    @Test func testersForceASideWithACookie() throws {
        try withTemporaryDirectory { folder in
            let releases = try TwoReleases(in: folder)
            _ = try releases.store.channels.startCanary(releases.canary, percent: 1, channel: "current")
            try withServer(releases.store) { port, _ in
                for _ in 0..<20 {
                    let canary = try request(port, "/app.js", headers: ["Cookie": "strata-release=canary"])
                    #expect(canary.text == "window.release = 'canary';" && canary.header("Set-Cookie") == nil)
                    let stable = try request(port, "/app.js", headers: ["Cookie": "strata-bucket=0000000000000000; strata-release=stable"])
                    #expect(stable.text == "window.release = 'stable';")
                }
                let live = try request(port, "/_strata/release", headers: ["Cookie": "strata-release=canary"])
                #expect(live.text.contains(#""side":"canary""#) && live.text.contains(#""canaryPercent":1"#), "\(live.text)")
                let health = try request(port, "/_strata/health")
                #expect(health.text == "ok \(releases.stable)\ncanary \(releases.canary) 1%\n")
                let script = try request(port, "/_strata/rollout.js", headers: ["Cookie": "strata-release=canary"])
                #expect(script.status == 200 && script.text.contains(#"var release = "\#(releases.canary)""#))
                #expect(script.header("Content-Type") == "text/javascript; charset=utf-8")
            }
        }
    }

    @Test func beaconReportsAreCountedPerReleaseAndHostileOnesRefused() throws {
        try withTemporaryDirectory { folder in
            let releases = try TwoReleases(in: folder)
            _ = try releases.store.channels.startCanary(releases.canary, percent: 10, channel: "current")
            try withServer(releases.store) { port, _ in
                func post(_ body: String, path: String = "/_strata/beacon") throws -> WireResponse {
                    try rawRequest(port, "POST \(path) HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                                   + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
                }
                #expect(try post("release=\(releases.canary)&errors=3").status == 204)
                #expect(try post("errors=2&release=\(releases.canary)").status == 204)
                #expect(try post("release=\(releases.stable)&errors=500").status == 204)  // counted as 20 at most
                #expect(try post("release=0123456789abcdef&errors=4").status == 204)  // not served here: ignored
                #expect(try post("release=\(releases.canary)").status == 400)
                #expect(try post("release=\(releases.canary)&errors=-1").status == 400)
                #expect(try post("release=../x&errors=1").status == 400)
                #expect(try post("release=\(releases.canary)&errors=1&pad=" + String(repeating: "x", count: 2000)).status == 413)
                #expect(try post("x", path: "/").status == 405)
                #expect(try request(port, "/_strata/beacon").status == 404)
                // Chunked bodies are capped the same way.
                let chunked = try rawRequest(port, "POST /_strata/beacon HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                                             + "800\r\n" + String(repeating: "y", count: 2048) + "\r\n0\r\n\r\n")
                #expect(chunked.status == 413)
                Thread.sleep(forTimeInterval: 1.5)
                let metrics = try request(port, "/_strata/metrics").text
                #expect(metrics.contains(#"strata_beacon_errors_total{channel="current",release="\#(releases.canary)"} 5"#), "\(metrics)")
                #expect(metrics.contains(#"strata_beacon_errors_total{channel="current",release="\#(releases.stable)"} 20"#))
                #expect(metrics.contains(#"strata_beacon_reports_total{outcome="counted"} 3"#))
                #expect(metrics.contains(#"strata_beacon_reports_total{outcome="ignored"} 1"#))
                #expect(metrics.contains(#"strata_beacon_reports_total{outcome="rejected"} 5"#))
                #expect(metrics.contains(#"strata_canary_percent{channel="current",release="\#(releases.canary)"} 10"#))

                // Past the rate limit a report is answered 429 and not counted.
                let connection = try RawConnection(port: port)
                let body = "release=\(releases.canary)&errors=1"
                let one = "POST /_strata/beacon HTTP/1.1\r\nHost: localhost\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
                try connection.send(String(repeating: one, count: 450))
                var statuses: [Int] = []
                for _ in 0..<450 { statuses.append(try connection.readResponse().status) }
                #expect(statuses.contains(429) && statuses.contains(204), "\(Set(statuses))")
            }
        }
    }
}

import Foundation
import StrataCore
import StrataServer
import StrataTestSupport
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Hostile clients: traversal, oversized heads, slow and greedy connections; and the server's
/// behaviour around flips and shutdown while requests are in flight.
@Suite struct HardeningTests {
    @Test func traversalInRawAndEncodedFormsNeverReachesTheStore() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            let secrets = ["\"format\"", "fingerprint", "pid ", served.v1 + "\n"]
            try withServer(served.store) { port, _ in
                let attempts = [
                    "/../strata-store.json", "/../../etc/passwd", "/%2e%2e/strata-store.json", "/%2E%2E/%2e%2e/etc/passwd",
                    "/..%2fstrata-store.json", "/%2e%2e%2fstrata-store.json", "/assets/%2e%2e/%2e%2e/channels/current",
                    "/..\\strata-store.json", "/%5c..%5cstrata-store.json", "/assets%5c..%5c..%5clock", "/index.html%00.js",
                    "/%00", "/a%0d%0aSet-Cookie:%20x=1", "/%zz", "/%", "/%2", "/_v/\(served.v1)/../../channels/current",
                    "/_v/\(served.v1)/%2e%2e/%2e%2e/strata-store.json", "/_v/\(served.v1)/.strata/manifest.json",
                    "/./index.html", "/assets/./vendor.a1d646b7.js", "/%c0%ae%c0%ae/strata-store.json", "/caf%e9",
                    "http://localhost/../strata-store.json", "*",
                ]
                for attempt in attempts {
                    let response = try rawRequest(port, "GET \(attempt) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    #expect([400, 404].contains(response.status), "\(attempt) -> \(response.status)")
                    for secret in secrets { #expect(!response.text.contains(secret), "\(attempt) leaked \(secret)") }
                }
                // Encoded forms that are legitimate still work.
                #expect(try request(port, "/docs/getting%2Dstarted/").status == 200)
            }
        }
    }

    @Test func oversizedHeadsGet431AndTheServerCarriesOn() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            try withServer(served.store) { port, _ in
                let huge = try rawRequest(port, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 20_000))\r\n\r\n")
                #expect(huge.status == 431)
                let many = (0..<150).map { "X-H\($0): v\r\n" }.joined()
                #expect(try rawRequest(port, "GET / HTTP/1.1\r\nHost: x\r\n\(many)\r\n").status == 431)
                let longURL = try rawRequest(port, "GET /\(String(repeating: "a", count: 40_000)) HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(longURL.status == 431)
                #expect(try rawRequest(port, "NOT HTTP AT ALL\r\n\r\n").status == 400)
                #expect(try rawRequest(port, "GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n").status == 400)
                #expect(try request(port, "/").status == 200)
            }
        }
    }

    /// Smuggling shapes: whatever a proxy in front made of them, this server answers the first
    /// request with an error and closes, so no second request can hide inside it.
    @Test func framingAttacksGetOneRefusalAndTheClose() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            try withServer(served.store) { port, _ in
                let hidden = "GET /robots.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                let attacks: [(String, Int)] = [
                    ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \(hidden.utf8.count)\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n\(hidden)", 400),
                    ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: \(hidden.utf8.count)\r\n\r\n\(hidden)", 400),
                    ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n x\r\n\r\n0\r\n\r\n\(hidden)", 400),
                    ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n\(hidden)", 501),
                    ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n\(hidden)", 400),
                    ("GET / HTTP/1.1\r\nHost: x\r\nX: a\rHost: y\r\n\r\n\(hidden)", 400),
                    ("GET / HTTP/1.1\r\nHost: x\r\nX: a\u{0}\r\n\r\n\(hidden)", 400),
                    ("GET / HTTP/1.1\r\n\r\n\(hidden)", 400),
                    ("GET / HTTP/2.0\r\nHost: x\r\n\r\n\(hidden)", 505),
                ]
                for (attack, status) in attacks {
                    let connection = try RawConnection(port: port)
                    try connection.send(attack)
                    let response = try connection.readResponse()
                    #expect(response.status == status, "\(attack.debugDescription)")
                    #expect(response.header("Connection") == "close")
                    #expect(connection.isClosedByServer(), "\(attack.debugDescription): a second answer followed")
                }
                #expect(try request(port, "/robots.txt").status == 200)
            }
        }
    }

    /// RFC 9110 §10.1.1: `100 Continue` only for a body the server wants (a beacon report within
    /// its cap); any other announced body is answered at once, and the connection closed, since
    /// the client may never send it.
    @Test func expectContinueIsAnsweredOnlyForABodyTheServerWants() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            try withServer(served.store) { port, _ in
                let wanted = try RawConnection(port: port)
                try wanted.send("POST /_strata/beacon HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 33\r\n\r\n")
                let interim = try wanted.readResponse(bodyless: true)
                #expect(interim.status == 100)
                try wanted.send("release=0123456789abcdef&errors=1")
                #expect(try wanted.readResponse().status == 204)  // a release not served here: ignored, still 204

                let unwanted = try RawConnection(port: port)
                try unwanted.send("POST /_strata/beacon HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n")
                let tooLarge = try unwanted.readResponse()
                #expect(tooLarge.status == 413)
                #expect(unwanted.isClosedByServer())

                let upload = try RawConnection(port: port)
                try upload.send("PUT /robots.txt HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
                #expect(try upload.readResponse().status == 405)
                #expect(upload.isClosedByServer())

                let odd = try rawRequest(port, "POST /_strata/beacon HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx")
                #expect(odd.status == 417)
            }
        }
    }

    @Test func aSlowClientIsCutOffWhileOthersAreServed() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            try withServer(served.store, { $0.headerTimeoutSeconds = 1; $0.idleTimeoutSeconds = 2 }) { port, _ in
                let slow = try RawConnection(port: port)
                try slow.send("GET / HTTP/1.1\r\nHost: x\r\n")  // and never the blank line
                let started = Date()
                for _ in 0..<20 { #expect(try request(port, "/robots.txt").status == 200) }
                #expect(slow.isClosedByServer())
                let waited = Date().timeIntervalSince(started)
                #expect(waited > 0.5 && waited < 3, "closed after \(waited)s")

                // A trickle of header bytes does not keep a connection alive past the timeout either.
                let trickle = try RawConnection(port: port)
                var cut = false
                for byte in "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".utf8 {
                    if (try? trickle.send([byte])) == nil { cut = true; break }
                    usleep(100_000)
                }
                #expect(cut || trickle.isClosedByServer())

                // An idle keep-alive connection is closed after the idle timeout.
                let idle = try RawConnection(port: port)
                try idle.send("GET /robots.txt HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(try idle.readResponse().status == 200)
                #expect(idle.isClosedByServer())
            }
        }
    }

    @Test func connectionsBeyondTheCapAreClosedAtOnce() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            try withServer(served.store, { $0.maxConnections = 2 }) { port, _ in
                let first = try RawConnection(port: port)
                let second = try RawConnection(port: port)
                try first.send("GET /robots.txt HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(try first.readResponse().status == 200)
                try second.send("GET /robots.txt HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(try second.readResponse().status == 200)
                let third = try RawConnection(port: port)
                #expect(third.isClosedByServer())
                _ = consume first
                usleep(200_000)
                #expect(try request(port, "/robots.txt").status == 200, "a slot is free again")
            }
        }
    }

    @Test func aFlipDuringAStreamOfRequestsNeverMixesReleases() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            let bodies = [served.v1: try fixtureBytes("aurora-v1", "index.html"), served.v2: try fixtureBytes("aurora-v2", "index.html")]
            try withServer(served.store) { port, _ in
                let flipper = Thread {
                    let channels = Channels(store: Store(root: served.store.root, lockTimeout: 10))
                    for flip in 0..<60 {
                        _ = try? channels.activate(flip % 2 == 0 ? served.v2 : served.v1, channel: "current")
                        usleep(2_000)
                    }
                }
                flipper.start()
                var seen = Set<String>()
                let connection = try RawConnection(port: port)
                for _ in 0..<400 {
                    try connection.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                    let response = try connection.readResponse()
                    #expect(response.status == 200)
                    let release = try #require(response.header("Strata-Release"))
                    #expect(response.body == bodies[release], "body and Strata-Release agree, and the body is whole")
                    #expect(response.header("ETag") == etag(of: bodies[release]!))
                    seen.insert(release)
                }
                while flipper.isExecuting { usleep(10_000) }
                #expect(seen.count == 2, "both releases were served during the flips")
            }
        }
    }

    @Test func gracefulShutdownFinishesADownloadInFlight() throws {
        try withTemporaryDirectory { folder in
            let big = Array(try FileHandle(forReadingFrom: URL(fileURLWithPath: "/dev/urandom")).read(upToCount: 6 << 20) ?? Data())
            let site = try makeSite(in: folder, name: "site", files: ["index.html": "<h1>big</h1>"])
            try Data(big).write(to: URL(fileURLWithPath: site + "/video.bin"))
            let store = TestStore(in: folder)
            let id = try store.publish(site).manifest.id
            _ = try store.channels.activate(id, channel: "current")

            var configuration = ServerConfiguration()
            configuration.port = 0
            let server = try StrataHTTPServer(store: store.store, configuration: configuration)
            let port = try server.start()
            let connection = try RawConnection(port: port)
            try connection.send("GET /video.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            var received = try connection.receive(4096)  // the download has started

            let stopped = Atomic<Bool>(false)
            let stopper = Thread {
                server.shutdown()
                stopped.store(true, ordering: .sequentiallyConsistent)
            }
            stopper.start()
            usleep(200_000)
            let stoppedEarly = stopped.load(ordering: .sequentiallyConsistent)
            #expect(!stoppedEarly, "shutdown waits for the download")
            #expect((try? RawConnection(port: port)) == nil, "no new connections once shutting down")

            // Read the rest slowly; it arrives whole.
            while true {
                let chunk = try connection.receive()
                if chunk.isEmpty { break }
                received += chunk
                if received.count % (1 << 20) < chunk.count { usleep(30_000) }
            }
            // The response head, then the whole body and nothing else.
            let headEnd = try #require(received.indices.first { received[$0...].starts(with: [13, 10, 13, 10]) })
            let body = Array(received[(headEnd + 4)...])
            #expect(body.count == big.count)
            #expect(body == big, "the body arrived whole")
            let deadline = Date().addingTimeInterval(40)
            while !stopped.load(ordering: .sequentiallyConsistent) && Date() < deadline { usleep(10_000) }
            let stoppedInTime = stopped.load(ordering: .sequentiallyConsistent)
            #expect(stoppedInTime, "shutdown completed once the download was done")
        }
    }
}

import Foundation
import StrataCore
@testable import StrataServer
import StrataTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Hazards found by reading the server: a client that half-closes, header plans past 64 KiB, a
/// digest no checked manifest holds.
@Suite struct ServerHazardTests {
    /// Sends `text`, shuts the write side (the request is all there is), reads to the end.
    func halfClosed(_ port: Int, _ text: String) throws -> String {
        let connection = try RawConnection(port: port)
        try connection.send(text)
        #expect(shutdown(connection.descriptor, Int32(SHUT_WR)) == 0)
        var bytes: [UInt8] = []
        while true {
            let chunk = try connection.receive()
            if chunk.isEmpty { break }
            bytes += chunk
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func aClientThatShutsItsWriteSideStillGetsEveryAnswer() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            try withServer(served.store) { port, _ in
                let robots = String(decoding: try fixtureBytes("aurora-v1", "robots.txt"), as: UTF8.self)
                let one = try halfClosed(port, "GET /robots.txt HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(one.hasPrefix("HTTP/1.1 200 OK") && one.hasSuffix(robots), "\(one)")
                // Pipelined, then shut: all three, in order.
                let three = try halfClosed(port, String(repeating: "GET /robots.txt HTTP/1.1\r\nHost: x\r\n\r\n", count: 3))
                #expect(three.components(separatedBy: "HTTP/1.1 200 OK").count == 4, "\(three)")
                // An answer that waits for a release to load (v2 was never asked for on this server).
                let versioned = try halfClosed(port, "GET /_v/\(served.v2)/robots.txt HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(versioned.hasPrefix("HTTP/1.1 200 OK") && versioned.contains("Strata-Release: \(served.v2)"), "\(versioned)")
                // A head cut short by the shut is malformed: 400, then the close.
                let cut = try halfClosed(port, "GET /robots.txt HTTP/1.1\r\nHost:")
                #expect(cut.isEmpty || (cut.hasPrefix("HTTP/1.1 400 ") && cut.contains("Connection: close")), "\(cut)")
            }
        }
    }

    @Test func aHeaderPlanPast64KiBIsSentWhole() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            // 40 blocks of 2,000-byte values match one page: an 80 KB plan, each line under the 8 KiB limit.
            var rules = ""
            for number in 0..<40 { rules += "/page.html\n  X-Part-\(number): \(String(repeating: Character(UnicodeScalar(97 + number % 26)!), count: 2000))\n" }
            let site = try makeSite(in: folder, name: "site", files: ["page.html": "page", "index.html": "home", "_headers": rules])
            let id = try store.publish(site).manifest.id
            _ = try store.channels.activate(id, channel: "current")
            try withServer(store) { port, _ in
                let page = try request(port, "/page.html")
                #expect(page.status == 200 && page.text == "page")
                let parts = page.headers.filter { $0.name.hasPrefix("X-Part-") }
                #expect(parts.count == 40, "\(parts.count) of 40 plan lines sent")
                #expect(parts.allSatisfy { $0.value.count == 2000 })
                #expect(try request(port, "/").status == 200)
            }
        }
    }

    @Test func anIndexRefusesADigestThatIsNotOne() throws {
        for bad in [String(repeating: "g", count: 64), String(repeating: "a", count: 63), "", String(repeating: "A", count: 65)] {
            let entry = Manifest.Entry(path: "index.html", size: 4, sha256: bad, type: "text/html")
            let manifest = Manifest(id: "0123456789abcdef", fingerprint: String(repeating: "0", count: 64), created: "2026-12-01T00:00:00Z",
                                    label: nil, source: "test", files: [entry])
            #expect(throws: StrataError.self, "\(bad)") { try ReleaseIndex(manifest: manifest, folder: "/nowhere", serial: 1) }
        }
    }
}

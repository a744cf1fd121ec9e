import Foundation
import StrataCore
import StrataTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `strata serve` when the store or the machine misbehaves: a read-only mount, a store that turns
/// unreadable while serving, descriptors running out. Run as an unprivileged user (root reads
/// files whatever their permissions say), as the systemd unit runs it.
@Suite(.serialized) struct ServeFaultTests {
    /// Runs the server as `nobody` when the tests run as root.
    static var unprivileged: [String] {
        getuid() == 0 ? ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : []
    }

    /// A store with aurora-v1 live and aurora-v2 published, in a folder the unprivileged user can read.
    static func twoReleases(_ folder: String) throws -> (root: String, v1: String, v2: String) {
        #expect(chmod(folder, 0o755) == 0)
        let root = folder + "/store"
        let v1 = try strata(["publish", fixtures + "/aurora-v1", "--root", root, "--activate"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let v2 = try strata(["publish", fixtures + "/aurora-v2", "--root", root]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        return (root, v1, v2)
    }

    /// Retries `body` for up to `seconds` until it holds.
    static func eventually(_ seconds: Double = 5, _ body: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        repeat {
            if try body() { return true }
            usleep(100_000)
        } while Date() < deadline
        return false
    }

    @Test func servesFromAReadOnlyMountAndFollowsFlipsMadeElsewhere() throws {
        try withTemporaryDirectory { folder in
            let (root, v1, v2) = try Self.twoReleases(folder)
            // Serve nodes mount the store read-only; where mounting is not allowed, the store is
            // still not writable by the unprivileged server.
            let mount = folder + "/mounted"
            try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: false)
            let mounted = try getuid() == 0
                && run("/bin/mount", ["--bind", root, mount]).status == 0
                && run("/bin/mount", ["-o", "remount,ro,bind", mount]).status == 0
            defer { if mounted { _ = try? run("/bin/umount", [mount]) } }
            let served = mounted ? mount : root

            let server = try ServeProcess(["--root", served], launcher: Self.unprivileged)
            let page = try request(server.port, "/robots.txt")
            #expect(page.status == 200 && page.header("Strata-Release") == v1)
            #expect(try request(server.port, "/_strata/health").text == "ok \(v1)\n")
            #expect(try request(server.port, "/_v/\(v2)/robots.txt").status == 200)

            #expect(try strata(["activate", v2, "--root", root]).status == 0)  // on the writable side
            #expect(try Self.eventually { try request(server.port, "/robots.txt").header("Strata-Release") == v2 })
            #expect(server.waitForLine(containing: "channel 'current' now serves release \(v2) (was \(v1))"))
            #expect(server.lines(containing: "[error]").isEmpty, "\(server.stderr)")
            #expect(server.stop() == 0)
        }
    }

    @Test func anUnreadableStoreAnswers503WithTheReasonAndRecovers() throws {
        try withTemporaryDirectory { folder in
            let (root, v1, _) = try Self.twoReleases(folder)
            let server = try ServeProcess(["--root", root], launcher: Self.unprivileged)
            #expect(try request(server.port, "/robots.txt").status == 200)

            // The release's files become unreadable: files not open yet, the health probe and the
            // versioned URL answer 503 with the reason — never a 404 a cache would keep.
            let release = root + "/releases/" + v1
            #expect(chmod(release, 0) == 0)
            for path in ["/", "/docs/getting-started/", "/_v/\(v1)/favicon.ico", "/_strata/health"] {
                let reply = try request(server.port, path)
                #expect(reply.status == 503, "\(path)")
                #expect(reply.text.contains("cannot read the files of release \(v1): Permission denied"), "\(path): \(reply.text)")
                #expect(reply.header("Cache-Control") == "no-store", "\(path)")
            }
            #expect(server.waitForLine(containing: "[error] cannot open "))
            #expect(chmod(release, 0o755) == 0)
            #expect(try Self.eventually { try request(server.port, "/docs/getting-started/").status == 200 })
            #expect(try request(server.port, "/_strata/health").status == 200)

            // The channel's pointer becomes unreadable. No flip says so: the server finds out at
            // its next look at the pointers' folder, within a second.
            #expect(chmod(root + "/channels", 0) == 0)
            var pointer = try request(server.port, "/")
            #expect(try Self.eventually(1.5) {
                pointer = try request(server.port, "/")
                return pointer.status == 503
            })
            #expect(pointer.status == 503 && pointer.text.contains("cannot read the pointer of channel 'current'"), "\(pointer.text)")
            #expect(chmod(root + "/channels", 0o755) == 0)
            #expect(try Self.eventually { try request(server.port, "/").status == 200 })

            // The whole store, long enough for the server to forget what it had loaded.
            #expect(chmod(root, 0) == 0)
            Thread.sleep(forTimeInterval: 2.5)
            #expect(try request(server.port, "/docs/getting-started/").status == 503)
            #expect(chmod(root, 0o755) == 0)
            #expect(try Self.eventually { try request(server.port, "/docs/getting-started/").status == 200 })
            #expect(server.stop() == 0)
        }
    }

    @Test func runningOutOfDescriptorsShedsConnectionsWithoutSpinning() throws {
        try withTemporaryDirectory { folder in
            let (root, _, _) = try Self.twoReleases(folder)
            let server = try ServeProcess(["--root", root], launcher: ["/bin/sh", "-c", "ulimit -n 64; exec \"$0\" \"$@\""])
            #expect(!server.lines(containing: "[warn] the descriptor limit allows").isEmpty, "\(server.stderr)")

            let started = Date()
            var flood: [RawConnection] = []
            for _ in 0..<200 { flood.append(try RawConnection(port: server.port, timeoutSeconds: 5)) }
            // Connections within the limit were admitted and are served during the flood. Which ones
            // is the kernel's choice: each event loop accepts from its own queue (SO_REUSEPORT), so
            // under load one loop may fill the limit before the other accepts the very first.
            var served: WireResponse?
            for connection in flood where served == nil {
                served = try? { () throws -> WireResponse in
                    try connection.send("GET /robots.txt HTTP/1.1\r\nHost: x\r\n\r\n")
                    return try connection.readResponse()
                }()
            }
            #expect(served?.status == 200, "\(served?.status ?? 0) \(served?.text ?? "none served") \(server.stderr.suffix(600))")
            // Holding 200 connections open costs no CPU: nothing retries in a loop.
            let before = server.cpuSeconds()
            Thread.sleep(forTimeInterval: 2)
            let spent = server.cpuSeconds() - before
            #expect(spent < 0.3, "the server used \(spent) s of CPU in 2 s while the flood was held")
            flood.removeAll()

            #expect(Self.eventually { (try? request(server.port, "/robots.txt").status) == 200 })
            let seconds = Date().timeIntervalSince(started)
            // Said, and at most once a second.
            let warnings = server.lines(containing: "at the connection limit") + server.lines(containing: "cannot accept connections")
            #expect(!warnings.isEmpty)
            #expect(Double(server.lines(containing: "at the connection limit").count) <= seconds + 1, "\(server.stderr)")
            #expect(Double(server.lines(containing: "cannot accept connections").count) <= seconds + 1, "\(server.stderr)")
            #expect(server.stop() == 0)
        }
    }
}

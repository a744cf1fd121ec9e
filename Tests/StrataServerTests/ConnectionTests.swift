import Foundation
import NIOCore
import NIOPosix
import StrataCore
@testable import StrataServer
import StrataTestSupport
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The connection state machine: pipelining, keep-alive, large files from kept descriptors, drain.
@Suite struct ConnectionTests {
    /// A site with one file too large for memory (sent with sendfile) besides the fixture pages.
    struct BigSite {
        let store: TestStore
        let id: String
        let big: [UInt8]
        let index: [UInt8]

        init(in folder: String, name: String = "site", bigBytes: Int = 3 << 20) throws {
            var generator = SystemRandomNumberGenerator()
            big = (0..<bigBytes).map { _ in UInt8.random(in: 0...255, using: &generator) }
            index = Array("<h1>\(name)</h1>".utf8)
            let site = try makeSite(in: folder, name: name, files: ["index.html": "<h1>\(name)</h1>", "robots.txt": "User-agent: *\n"])
            try Data(big).write(to: URL(fileURLWithPath: site + "/video.bin"))
            store = TestStore(in: folder)
            id = try store.publish(site).manifest.id
            _ = try store.channels.activate(id, channel: "current")
        }
    }

    /// On the server's own event loops and on NIO's channels alike.
    @Test(arguments: [false, true])
    func tenPipelinedRequestsInOneWriteAreAnsweredInOrder(nioChannels: Bool) throws {
        try withTemporaryDirectory { folder in
            let site = try BigSite(in: folder)
            try withServer(site.store, { $0.nioChannels = nioChannels }) { port, _ in
                let connection = try RawConnection(port: port)
                let paths = ["/", "/robots.txt", "/video.bin", "/nope", "/index.html", "/video.bin", "/", "/robots.txt", "/missing.js", "/"]
                try connection.send(paths.map { "GET \($0) HTTP/1.1\r\nHost: x\r\n\r\n" }.joined())
                for path in paths {
                    let response = try connection.readResponse()
                    switch path {
                    case "/", "/index.html":
                        #expect(response.status == 200 && response.body == site.index, "\(path)")
                    case "/robots.txt":
                        #expect(response.status == 200 && response.text == "User-agent: *\n")
                    case "/video.bin":
                        #expect(response.status == 200 && response.body == site.big, "the large file arrives whole, in its place")
                    default:
                        #expect(response.status == 404, "\(path)")
                    }
                }
                // The connection is still usable afterwards.
                try connection.send("HEAD /video.bin HTTP/1.1\r\nHost: x\r\n\r\n")
                let head = try connection.readResponse(bodyless: true)
                #expect(head.status == 200 && head.header("Content-Length") == String(site.big.count))
            }
        }
    }

    /// A client that sends many requests and reads nothing for a while fills the socket: the
    /// server stops reading until it drains, then every answer arrives whole and in order, small
    /// ones from memory between large ones sent from the file.
    @Test func aClientThatReadsLateGetsEveryAnswerWholeAndInOrder() throws {
        try withTemporaryDirectory { folder in
            let site = try BigSite(in: folder)
            try withServer(site.store) { port, _ in
                let connection = try RawConnection(port: port)
                let paths = (0..<24).map { $0 % 3 == 0 ? "/video.bin" : ($0 % 3 == 1 ? "/robots.txt" : "/") }
                try connection.send(paths.map { "GET \($0) HTTP/1.1\r\nHost: x\r\n\r\n" }.joined())
                usleep(300_000)
                for (number, path) in paths.enumerated() {
                    let response = try connection.readResponse(pauseEvery: number == 0 ? 256 * 1024 : nil)
                    let expected = path == "/video.bin" ? site.big : (path == "/" ? site.index : Array("User-agent: *\n".utf8))
                    #expect(response.status == 200 && response.body == expected, "answer \(number), \(path)")
                }
                // And a second client was served all along.
                #expect(try request(port, "/robots.txt").status == 200)
            }
        }
    }

    @Test func gracefulShutdownAnswersPipelinedRequestsAlreadyReceived() throws {
        try withTemporaryDirectory { folder in
            let site = try BigSite(in: folder)
            var configuration = ServerConfiguration()
            configuration.port = 0
            let server = try StrataHTTPServer(store: site.store.store, configuration: configuration)
            let port = try server.start()
            let connection = try RawConnection(port: port)
            try connection.send("GET /video.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /robots.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            let first = try connection.receive(4096)  // answering has started
            #expect(!first.isEmpty)
            let stopper = Thread { server.shutdown() }
            stopper.start()
            usleep(100_000)
            var received = first
            while true {
                let chunk = try connection.receive()
                if chunk.isEmpty { break }
                received += chunk
            }
            let text = String(decoding: received, as: UTF8.self)
            #expect(received.count > site.big.count, "the large file was sent whole")
            #expect(text.contains("User-agent: *\n"), "the request behind it was answered too")
            // and then the server closed the connection (the loop above ended on end of file).
            while stopper.isExecuting { usleep(10_000) }
        }
    }

    @Test func http10KeepAliveIsSaidAndHonoured() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            try withServer(served.store) { port, _ in
                let connection = try RawConnection(port: port)
                try connection.send("GET /robots.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                let kept = try connection.readResponse()
                #expect(kept.status == 200 && kept.header("Connection")?.lowercased() == "keep-alive")
                try connection.send("GET /robots.txt HTTP/1.0\r\n\r\n")
                let last = try connection.readResponse()
                #expect(last.status == 200 && last.header("Connection") == "close")
                #expect(connection.isClosedByServer())
            }
        }
    }

    @Test func largeFilesComeFromKeptDescriptorsUntilTheirReleaseIsPruned() throws {
        try withTemporaryDirectory { folder in
            let first = try BigSite(in: folder + "/a", name: "first")
            let second = try makeSite(in: folder, name: "second", files: ["index.html": "<h1>second</h1>"])
            let third = try makeSite(in: folder, name: "third", files: ["index.html": "<h1>third</h1>"])
            let secondID = try first.store.publish(second).manifest.id
            let thirdID = try first.store.publish(third).manifest.id
            _ = try first.store.channels.activate(secondID, channel: "current")
            _ = try first.store.channels.activate(thirdID, channel: "current")
            try withServer(first.store) { port, _ in
                for _ in 0..<3 {
                    #expect(try request(port, "/_v/\(first.id)/video.bin").body == first.big)
                }
                let range = try request(port, "/_v/\(first.id)/video.bin", headers: ["Range": "bytes=1000000-1000099"])
                #expect(range.status == 206 && range.body == Array(first.big[1_000_000..<1_000_100]))

                _ = try Pruner(store: first.store.store).prune(keep: 1)
                #expect(try !first.store.catalog.contains(first.id))
                let deadline = Date().addingTimeInterval(10)
                var status = 0
                repeat {
                    status = try request(port, "/_v/\(first.id)/video.bin").status
                    if status != 404 { usleep(100_000) }
                } while status != 404 && Date() < deadline
                #expect(status == 404, "the pruned release is forgotten and its descriptors closed")
                #expect(try request(port, "/").text == "<h1>third</h1>")
            }
        }
    }

    @Test func aFiveThousandFileIndexFitsInTwoMebibytes() throws {
        var files: [Manifest.Entry] = []
        for number in 0..<5000 {
            let sha = sha256Hex(Array("file \(number)".utf8))
            let path = "assets/section-\(number % 40)/component-\(number).\(String(sha.prefix(8))).js"
            files.append(Manifest.Entry(path: path, size: Int64(number * 37), sha256: sha, type: "application/javascript",
                                        gzip: Manifest.Variant(size: Int64(number * 11), sha256: sha256Hex(Array("gz \(number)".utf8)))))
        }
        let manifest = Manifest(id: "0123456789abcdef", fingerprint: String(repeating: "0", count: 64), created: "2026-11-22T00:00:00Z",
                                label: nil, source: "test", files: files)
        let index = try ReleaseIndex(manifest: manifest, folder: "/nowhere", serial: 1)
        #expect(index.footprint <= 2 << 20, "\(index.footprint) bytes")
        let probe = files[4321]
        let number = try #require(index.paths.find(probe.path.utf8))
        #expect(index.path(of: number) == probe.path)
        #expect(index.paths.find("assets/section-1/component-1.js".utf8) == nil)
    }

    @Test func hotBodiesStayWithinTheirBudgetAndKeepTheBytesTheyRead() throws {
        try withTemporaryDirectory { folder in
            let bodies = HotBodies(maxFileBytes: 4096, budget: 10_000)
            var expected: [HotBodies.Key: [UInt8]] = [:]
            for number in 0..<40 {
                let bytes = Array(repeating: UInt8(number), count: 1000 + number)
                let path = folder + "/file\(number)"
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                let key = HotBodies.Key(digest: ContentDigest(hex: sha256Hex(bytes))!, encoding: nil)
                let handle = try NIOFileHandle(_deprecatedPath: path)
                defer { try? handle.close() }
                let loaded = try #require(bodies.load(key, size: bytes.count, from: handle))
                #expect(Array(loaded.readableBytesView) == bytes)
                expected[key] = bytes
            }
            let kept = expected.filter { bodies.cached($0.key) != nil }
            #expect(kept.values.reduce(0) { $0 + $1.count } <= 10_000, "within the budget")
            #expect(kept.count >= 5, "and as full as it can be: \(kept.count) kept")
            for (key, bytes) in kept { #expect(bodies.cached(key).map { Array($0.readableBytesView) } == bytes) }
        }
    }

    @Test func aFullCacheTakesOnlyOneNewFileInEight() throws {
        try withTemporaryDirectory { folder in
            let bodies = HotBodies(maxFileBytes: 4096, budget: 3000)
            #expect((0..<100).allSatisfy { _ in bodies.admits(size: 3000) }, "room: always")
            let bytes = [UInt8](repeating: 7, count: 2500)
            let path = folder + "/file"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let handle = try NIOFileHandle(_deprecatedPath: path)
            defer { try? handle.close() }
            _ = try #require(bodies.load(HotBodies.Key(digest: ContentDigest(hex: sha256Hex(bytes))!, encoding: nil), size: 2500, from: handle))
            let admitted = (0..<16_000).filter { _ in bodies.admits(size: 1000) }.count
            #expect(admitted > 1_500 && admitted < 2_500, "\(admitted) of 16,000 admitted when full (expected about 2,000)")
        }
    }

    @Test func keptFilesGiveWayQuietlyToALowerDescriptorLimitAndConnectionsOnlyToALowOne() {
        let roomy = DescriptorBudget(limit: 1_048_576, maxConnections: 4096, openFilesPerThread: 16384, threads: 2)
        #expect((roomy.connections, roomy.openFilesPerThread, roomy.isReduced) == (4096, 16384, false))
        let usual = DescriptorBudget(limit: 20_000, maxConnections: 4096, openFilesPerThread: 16384, threads: 2)
        #expect((usual.connections, usual.openFilesPerThread, usual.isReduced) == (4096, 7936, false))
        let tight = DescriptorBudget(limit: 12_000, maxConnections: 4096, openFilesPerThread: 16384, threads: 2)
        #expect(tight.isReduced && tight.openFilesPerThread < DescriptorBudget.comfortableFilesPerThread)
        #expect(tight.connections + tight.openFilesPerThread * 2 <= 12_000 - DescriptorBudget.reserve)
        let low = DescriptorBudget(limit: 64, maxConnections: 4096, openFilesPerThread: 16384, threads: 2)
        #expect(low.isReduced && low.connections == 24 && low.openFilesPerThread == 4)
    }

    @Test func randomVictimsHandOutEachKeyOnce() {
        var victims = RandomVictims<Int>()
        for key in 0..<100 { victims.insert(key) }
        victims.insert(7)  // already there
        victims.remove(42)
        victims.remove(1000)  // never there
        var taken = Set<Int>()
        while let key = victims.removeRandom() { #expect(taken.insert(key).inserted) }
        #expect(taken == Set(0..<100).subtracting([42]))
        #expect(victims.count == 0)
    }

    @Test func versionedURLsOfMadeUpReleasesDoNotPileUpInMemory() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            let pool = NIOThreadPool(numberOfThreads: 1)
            pool.start()
            defer { try? pool.syncShutdownGracefully() }
            let registry = ReleaseRegistry(store: served.store.store, layout: served.store.store.folders!.layout, pool: pool)
            #expect(registry.loadNow(served.v1) != nil)
            for number in 0..<3000 {
                #expect(registry.loadNow(String(format: "%016x", 0xdead_0000 + number)) == nil)
            }
            #expect(registry.rememberedCount <= ReleaseRegistry.absencesKept + 1)
            if case .loaded? = registry.known(served.v1) {} else { Issue.record("the real release is still known") }
        }
    }
}

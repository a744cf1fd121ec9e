import Foundation
import StrataCore
import StrataTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Durability and concurrency, tested on the real binary: processes killed mid-way, writers racing.
/// 200 kill -9 trials in all: 60 publishes, 60 flips, 40 imports, 40 prunes.
@Suite struct CrashSafetyTests {
    /// Every folder under releases/ is a complete release that verifies, and every pointer names one.
    func expectConsistent(_ root: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let releases = (try? FileManager.default.contentsOfDirectory(atPath: root + "/releases")) ?? []
        for name in releases {
            #expect(Fingerprint.isReleaseID(name), "stray entry in releases/: \(name)", sourceLocation: sourceLocation)
            let report = try Verifier().verify(releaseFolder: root + "/releases/" + name)
            #expect(report.isIntact, "release \(name): \(report.problems)", sourceLocation: sourceLocation)
        }
        for channel in (try? FileManager.default.contentsOfDirectory(atPath: root + "/channels")) ?? [] where !channel.hasPrefix(".") {
            let id = try String(contentsOfFile: root + "/channels/" + channel, encoding: .utf8)
            #expect(id.hasSuffix("\n") && releases.contains(String(id.dropLast())), "pointer \(channel) -> \(id)", sourceLocation: sourceLocation)
        }
    }

    /// A site of `count` files with fresh random content, so each publish writes new bytes.
    func regenerateSite(_ site: String, count: Int) throws {
        removeTree(site)
        var generator = SystemRandomNumberGenerator()
        for index in 0..<count {
            let size = 1024 + Int(generator.next() as UInt64 % 16384)
            let bytes = (0..<size / 8).flatMap { _ in withUnsafeBytes(of: generator.next() as UInt64, Array.init) }
            let path = site + "/assets/dir\(index % 7)/file\(index).js"
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        }
        try write("<h1>\(generator.next() as UInt64)</h1>", to: site + "/index.html")
    }

    /// Runs `strata arguments` and kills it (SIGKILL, with any children) after `seconds`.
    /// True when it was killed before it finished.
    func killMidway(_ arguments: [String], after seconds: Double) throws -> Bool {
        let process = try ChildProcess(strataExecutable, arguments)
        usleep(UInt32(seconds * 1_000_000))
        killWithChildren(process.processIdentifier)
        process.waitUntilExit()
        return process.wasKilledBySignal
    }

    /// Seconds one undisturbed `strata arguments` takes (it must succeed): kills are spread over it.
    /// How long the command takes left alone: the faster of two runs (`prepare` between them
    /// gives the second new content), since a first run's slowness would put kill points late.
    func undisturbedRun(_ arguments: [String], prepare: () throws -> Void) throws -> Double {
        var fastest = Double.infinity
        for run in 0..<2 {
            if run > 0 { try prepare() }
            let started = Date()
            #expect(try strata(arguments).status == 0)
            fastest = min(fastest, Date().timeIntervalSince(started))
        }
        return fastest
    }

    /// `trials` times: `prepare`, then `strata arguments(trial)` killed at a random point in the
    /// first 120% of a run that takes `fullRun` seconds, then the store checked. Returns how many
    /// were killed before they finished.
    func killTrials(_ trials: Int, root: String, fullRun: Double, prepare: () throws -> Void,
                    _ arguments: (Int) -> [String]) throws -> Int {
        var killed = 0
        var generator = SystemRandomNumberGenerator()
        for trial in 0..<trials {
            try prepare()
            let point = Double(generator.next() as UInt64 % 1000) / 1000 * fullRun * 1.2
            if try killMidway(arguments(trial), after: point) { killed += 1 }
            try expectConsistent(root)
        }
        return killed
    }

    @Test func publishersKilledAtRandomPointsNeverLeaveAnIncompleteReleaseOrAPointerToOne() throws {
        try withTemporaryDirectory { folder in
            let root = folder + "/store"
            let site = folder + "/site"
            try regenerateSite(site, count: 120)
            let fullRun = try undisturbedRun(["publish", site, "--root", root, "--activate"]) { try regenerateSite(site, count: 120) }

            let killed = try killTrials(60, root: root, fullRun: fullRun, prepare: { try regenerateSite(site, count: 120) }) { trial in
                ["publish", site, "--root", root, "--activate", "--label", "trial\(trial)"]
            }
            let finished = 60 - killed
            #expect(killed >= 20, "only \(killed) of 60 publishers were killed mid-way")

            // The next writer clears what the killed ones left in staging/.
            try regenerateSite(site, count: 3)
            #expect(try strata(["publish", site, "--root", root]).status == 0)
            #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/staging").isEmpty)
            #expect(try strata(["verify", "--root", root]).status == 0)
            print("kill trials: \(killed) killed mid-way, \(finished) finished; full publish \(Int(fullRun * 1000)) ms")
        }
    }

    @Test func importsKilledAtRandomPointsNeverLeaveAnIncompleteRelease() throws {
        try withTemporaryDirectory { folder in
            let root = folder + "/store"
            let archive = folder + "/build.tar.gz"
            let newArchive = {
                try makeArchive(at: archive, #"tar([(f"assets/f{i}.js", "file", os.urandom(60_000).hex()) for i in range(60)])"#)
            }
            try newArchive()
            let fullRun = try undisturbedRun(["import", archive, "--root", root, "--activate"], prepare: newArchive)

            let killed = try killTrials(40, root: root, fullRun: fullRun, prepare: newArchive) { _ in
                ["import", archive, "--root", root, "--activate"]
            }
            #expect(killed >= 16, "only \(killed) of 40 imports were killed mid-way")
            try newArchive()
            #expect(try strata(["import", archive, "--root", root]).status == 0)
            #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/staging").isEmpty)
            print("import kill trials: \(killed) of 40 killed mid-way; full import \(Int(fullRun * 1000)) ms")
        }
    }

    @Test func prunesKilledAtRandomPointsLeaveOnlyWholeReleases() throws {
        try withTemporaryDirectory { folder in
            let root = folder + "/store"
            let site = folder + "/site"
            let publishThree = {
                for _ in 0..<3 {
                    try self.regenerateSite(site, count: 40)
                    #expect(try strata(["publish", site, "--root", root]).status == 0)
                }
            }
            try regenerateSite(site, count: 40)
            #expect(try strata(["publish", site, "--root", root, "--activate"]).status == 0)
            try publishThree()
            let fullRun = try undisturbedRun(["prune", "--keep", "1", "--root", root], prepare: publishThree)

            let killed = try killTrials(40, root: root, fullRun: fullRun, prepare: publishThree) { _ in
                ["prune", "--keep", "1", "--root", root]
            }
            #expect(killed >= 10, "only \(killed) of 40 prunes were killed mid-way")
            // The next prune finishes the job; nothing is left in staging; what is left verifies.
            #expect(try strata(["prune", "--keep", "1", "--root", root]).status == 0)
            #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/staging").isEmpty)
            #expect(try strata(["verify", "--root", root]).status == 0)
            #expect(try strata(["releases", "--root", root]).status == 0)
            print("prune kill trials: \(killed) of 40 killed mid-way; full prune \(Int(fullRun * 1000)) ms")
        }
    }

    @Test func flipsKilledAtRandomPointsLeaveAValidPointer() throws {
        try withTemporaryDirectory { folder in
            let root = folder + "/store"
            let v1 = try strata(["publish", fixtures + "/aurora-v1", "--root", root, "--label", "v1"]).stdout.trimmingCharacters(in: .newlines)
            let v2 = try strata(["publish", fixtures + "/aurora-v2", "--root", root, "--label", "v2"]).stdout.trimmingCharacters(in: .newlines)
            var generator = SystemRandomNumberGenerator()
            for trial in 0..<60 {
                _ = try killMidway(["activate", trial % 2 == 0 ? "v1" : "v2", "--root", root], after: Double(generator.next() as UInt64 % 15_000) / 1_000_000)
                try expectConsistent(root)
            }
            // After the carnage, flips and rollback still work normally.
            #expect(try strata(["activate", "v2", "--root", root]).status == 0)
            #expect(try strata(["activate", "v1", "--root", root]).status == 0)
            #expect(try strata(["rollback", "--root", root]).stdout == "current: \(v1) -> \(v2)\n")
            try expectConsistent(root)
        }
    }

    @Test func concurrentPublishersOfDifferentTreesBothSucceed() throws {
        try withTemporaryDirectory { folder in
            let root = folder + "/store"
            for round in 0..<3 {
                let sites = [folder + "/a\(round)", folder + "/b\(round)"]
                for site in sites { try regenerateSite(site, count: 150) }
                // Both started, then both read to their end (standard error is small: no pipe fills).
                let processes = try sites.map { site in try ChildProcess(strataExecutable, ["publish", site, "--root", root], standardError: .pipe) }
                let errors = processes.map { String(decoding: $0.standardError!.readDataToEndOfFile(), as: UTF8.self) }
                for process in processes { process.waitUntilExit() }
                #expect(processes.map(\.terminationStatus) == [0, 0], "\(errors)")
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/releases").count == 6)
            try expectConsistent(root)
        }
    }
}

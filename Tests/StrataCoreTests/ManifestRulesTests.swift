import Foundation
import StrataCore
import StrataTestSupport
import Testing

/// `ManifestRules` alone: what a release's manifest must keep before anything uses it.
@Suite struct ManifestRulesTests {
    func manifest(_ paths: [String]) -> Manifest {
        let entries = paths.map { path in
            Manifest.Entry(path: path, size: 1, sha256: sha256Hex(Array(path.utf8)), type: "text/plain")
        }
        let fingerprint = Fingerprint.compute(entries.map { (path: $0.path, sha256: $0.sha256) })
        return Manifest(id: Fingerprint.releaseID(of: fingerprint), fingerprint: fingerprint, created: "2026-12-01T00:00:00.000Z",
                        label: nil, source: "test", files: entries)
    }

    func refusal(_ manifest: Manifest, id: String? = nil) -> String? {
        do {
            try ManifestRules.validate(manifest, id: id ?? manifest.id, origin: "here")
            return nil
        } catch {
            return (error as? StrataError)?.message
        }
    }

    @Test func everyReleaseOfTheFixturesKeepsTheRules() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            for name in ["aurora-v1", "aurora-v2", "e2e-v1", "e2e-v2"] {
                let id = try store.publishFixture(name)
                #expect(throws: Never.self) { try store.catalog.manifest(id) }
            }
        }
    }

    @Test(arguments: [
        ("../x", "climbs out with '..'"), ("a/../../x", "climbs out with '..'"), ("/etc/passwd", "is an absolute path"),
        ("a//b", "has an empty or '.' segment"), ("a/./b", "has an empty or '.' segment"), ("a/", "has an empty or '.' segment"),
        ("", "has an empty path"), ("a\u{0}b", "has a control character"), ("a\u{1b}[31m", "has a control character"),
        ("a\\b", "has a backslash"), (".strata/variants/x.gz", "is inside .strata/"),
    ]) func aPathOutsideTheReleaseIsRefused(_ path: String, _ says: String) {
        let message = refusal(manifest([path]))
        #expect(message?.hasPrefix("release ") == true && message?.contains(" in here is invalid: entry '") == true, "\(message ?? "accepted")")
        #expect(message?.hasSuffix(says) == true, "\(message ?? "accepted")")
        #expect(ManifestRules.pathProblem(path) != nil)
    }

    @Test func namesThatOnlyLookOddAreAccepted() {
        for path in ["..hidden", "a..b", ".well-known/x", "é/ü.html", "a b/c d.txt", "strata/.strata"] {
            #expect(ManifestRules.pathProblem(path) == nil, "\(path)")
        }
        #expect(refusal(manifest(["..hidden", "a..b", "z"])) == nil)
    }

    /// The one-pass `pathProblem` against the plain reading of its rules it replaced, on paths made
    /// of the characters that matter (a fixed seed, so a failure replays).
    @Test func pathRulesGiveTheAnswersOfTheirPlainReading() {
        func plainReading(_ path: String) -> String? {
            if path.isEmpty { return "has an empty path" }
            if path.hasPrefix("/") { return "is an absolute path" }
            if path.unicodeScalars.contains(where: { $0.value < 0x20 || ($0.value >= 0x7F && $0.value < 0xA0) }) { return "has a control character" }
            if path.contains("\\") { return "has a backslash" }
            let segments = path.split(separator: "/", omittingEmptySubsequences: false)
            if segments.contains("..") { return "climbs out with '..'" }
            if segments.contains(where: { $0.isEmpty || $0 == "." }) { return "has an empty or '.' segment" }
            if segments.first == ".strata" { return "is inside .strata/" }
            return nil
        }
        let pieces = ["/", ".", "..", "a", ".strata", "\\", "\u{0}", "\u{1F}", "\u{7F}", "\u{80}", "\u{9F}", "\u{A0}", "\u{C2}", "é", "😀", "strata"]
        var generator = SplitMix64(seed: 24)
        for _ in 0..<20_000 {
            let path = (0..<Int.random(in: 0...6, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
            #expect(ManifestRules.pathProblem(path) == plainReading(path), "\(path.unicodeScalars.map { $0.value })")
        }
    }

    @Test func orderCountsFingerprintAndIdAreRecomputedNotBelieved() {
        #expect(refusal(manifest(["b", "a"]))?.contains("is out of order") == true)
        #expect(refusal(manifest(["a", "a"]))?.contains("is listed twice") == true)
        #expect(refusal(manifest(["a", "a/b"]))?.contains("'a' is both a file and a folder") == true)
        var counted = manifest(["a"])
        counted.summary.fileCount = 2
        #expect(refusal(counted)?.contains("does not add up") == true)
        var renamed = manifest(["a"])
        renamed.files[0].path = "b"
        #expect(refusal(renamed)?.contains("its files do not give its recorded fingerprint") == true)
        #expect(refusal(manifest(["a"]), id: "0123456789abcdef")?.contains("its manifest names release") == true)
        var typed = manifest(["a"])
        typed.files[0].type = "text/html; charset=utf-8"
        #expect(refusal(typed)?.contains("has a malformed type") == true)
        #expect(refusal(manifest([])) != nil, "a release holds at least one file")
    }

    @Test func variantsMustBeWellFormedAndOnePerContent() {
        let digest = String(repeating: "ab", count: 32)
        for encoding in ContentEncoding.allCases {
            var bad = manifest(["a"])
            bad.files[0][variant: encoding] = Manifest.Variant(size: 1, sha256: "not-hex")
            #expect(refusal(bad)?.hasSuffix("entry 'a' has a malformed \(encoding.token) variant") == true)
            bad.files[0][variant: encoding] = Manifest.Variant(size: -1, sha256: digest)
            #expect(refusal(bad)?.hasSuffix("entry 'a' has a malformed \(encoding.token) variant") == true)
        }
        // Two files of one content share variant files: their sizes must agree.
        let sameContent = ["a", "b"].map { Manifest.Entry(path: $0, size: 1, sha256: digest, type: "text/plain") }
        let fingerprint = Fingerprint.compute(sameContent.map { (path: $0.path, sha256: $0.sha256) })
        var shared = Manifest(id: Fingerprint.releaseID(of: fingerprint), fingerprint: fingerprint, created: "2026-12-01T00:00:00.000Z",
                              label: nil, source: "test", files: sameContent)
        shared.files[0].br = Manifest.Variant(size: 1, sha256: digest)
        #expect(refusal(shared)?.hasSuffix("entry 'b' lists other variants than another file with the same content") == true)
        shared.files[1].br = shared.files[0].br
        #expect(refusal(shared) == nil)
    }
}

/// A history read from a store keeps only lines that name ids.
@Suite struct HistoryInputTests {
    @Test func historyLinesThatDoNotNameIdsAreLeftOut() throws {
        let store = Store(backend: MemoryStore(), lockTimeout: 1)
        let good = #"{"action":"activate","by":"ci@build","time":"2026-12-01T00:00:00.000Z","to":"0123456789abcdef"}"#
        let crafted = [
            #"{"action":"activate","by":"x","time":"t","to":"../../etc/passwd"}"#,
            #"{"action":"rollback","by":"x","time":"t","from":"0123456789abcdef","to":"0123456789ABCDEF"}"#,
            #"{"action":"promote","by":"x","time":"t","to":"0123456789abcdef","source":"../x"}"#,
        ]
        let log = Array((([good] + crafted).joined(separator: "\n") + "\n").utf8)
        let replaced = try store.withWriteLock {
            try store.backend.pointers(.releases).replace("current", with: Array("0123456789abcdef\n".utf8), logging: log, ifStamp: nil)
        }
        #expect(replaced)
        let history = try Channels(store: store).history("current")
        #expect(history.map(\.to) == ["0123456789abcdef"] && history.first?.by == "ci@build")
    }
}

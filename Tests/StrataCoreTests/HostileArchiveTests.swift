import Foundation
import StrataCore
import StrataTestSupport
import Testing

/// Hostile and broken archives, built by Python's tarfile and zipfile: each gets a one-line error
/// naming the problem, nothing is written outside the staging folder, and the store stays exactly as
/// it was (a store that did not exist is not created).
@Suite struct HostileArchiveTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        /// Python that writes the archive to `out` (see `makeArchive`).
        let script: String
        let message: String
        var limits = ArchiveLimits.standard
        var testDescription: String { name }
    }

    static let goodFile = #"("index.html", "file", "<h1>ok</h1>")"#

    static let cases: [Case] = [
        Case(name: "'..' component", script: #"tar([\#(goodFile), ("../evil.txt", "file", "x")])"#,
             message: "archive entry '../evil.txt' climbs out of the archive with '..'"),
        Case(name: "'..' deeper in the path", script: #"tar([("a/b/../../../evil.txt", "file", "x")])"#,
             message: "archive entry 'a/b/../../../evil.txt' climbs out of the archive with '..'"),
        Case(name: "'..' in a zip", script: #"zip([("index.html", "ok"), ("../../evil.txt", "x")])"#,
             message: "archive entry '../../evil.txt' climbs out of the archive with '..'"),
        Case(name: "absolute path", script: #"tar([\#(goodFile), ("/tmp/strata-evil.txt", "file", "x")])"#,
             message: "archive entry '/tmp/strata-evil.txt' is an absolute path"),
        Case(name: "drive letter", script: #"zip([("index.html", "ok"), ("C:/Windows/evil.txt", "x")])"#,
             message: "archive entry 'C:/Windows/evil.txt' starts with a drive letter"),
        Case(name: "backslashes that climb", script: #"tar([\#(goodFile), ("..\\..\\evil.txt", "file", "x")])"#,
             message: #"archive entry '..\\..\\evil.txt' has a backslash"#),
        // libarchive reads a zip's backslashes as the separators Windows meant, so this one climbs.
        Case(name: "backslashes that climb, in a zip", script: #"zip([("index.html", "ok"), ("..\\..\\evil.txt", "x")])"#,
             message: "archive entry '../../evil.txt' climbs out of the archive with '..'"),
        Case(name: "symlink leading outside", script: #"tar([\#(goodFile), ("passwd", "symlink", "../../../etc/passwd")])"#,
             message: "symlink 'passwd' leads outside the archive (to '../../../etc/passwd')"),
        Case(name: "absolute symlink", script: #"tar([\#(goodFile), ("passwd", "symlink", "/etc/passwd")])"#,
             message: "symlink 'passwd' leads outside the archive (to '/etc/passwd')"),
        Case(name: "symlink climbing through a folder", script: #"tar([\#(goodFile), ("a/b/up", "symlink", "../../..")])"#,
             message: "symlink 'a/b/up' leads outside the archive (to '../../..')"),
        Case(name: "file written through a symlink", script: #"tar([\#(goodFile), ("escape", "symlink", "../.."), ("escape/evil.txt", "file", "x")])"#,
             message: "archive entry 'escape/evil.txt' lies inside symlink 'escape'"),
        Case(name: "hardlink leading outside", script: #"tar([\#(goodFile), ("passwd", "hardlink", "../../etc/passwd")])"#,
             message: "target of hardlink 'passwd': '../../etc/passwd' climbs out of the archive with '..'"),
        Case(name: "absolute hardlink", script: #"tar([\#(goodFile), ("passwd", "hardlink", "/etc/passwd")])"#,
             message: "target of hardlink 'passwd': '/etc/passwd' is an absolute path"),
        Case(name: "hardlink to nothing in the archive", script: #"tar([\#(goodFile), ("copy.html", "hardlink", "missing.html")])"#,
             message: "hardlink 'copy.html' leads to 'missing.html', which is not a file earlier in the archive"),
        Case(name: "dangling symlink", script: #"tar([\#(goodFile), ("gone.js", "symlink", "assets/none.js")])"#,
             message: "symlink 'gone.js' is dangling"),
        Case(name: "symlink loop", script: #"tar([\#(goodFile), ("a", "symlink", "b"), ("b", "symlink", "a")])"#,
             message: "loops"),
        Case(name: "symlink to a folder that contains it", script: #"tar([\#(goodFile), ("docs/self", "symlink", "..")])"#,
             message: "symlink 'docs/self' points at a folder that contains it (a loop)"),
        Case(name: "character device", script: #"tar([\#(goodFile), ("null", "chr", None)])"#,
             message: "archive entry 'null' is a character device; only files, folders and links can be published"),
        Case(name: "block device", script: #"tar([\#(goodFile), ("disk", "blk", None)])"#,
             message: "archive entry 'disk' is a block device"),
        Case(name: "FIFO", script: #"tar([\#(goodFile), ("pipe", "fifo", None)])"#,
             message: "archive entry 'pipe' is a FIFO"),
        Case(name: "socket", script: #"zip([("index.html", "ok"), ("sock", "", 0o140755)])"#,
             message: "archive entry 'sock' is a socket"),
        Case(name: "the same path twice", script: #"tar([\#(goodFile), ("app.js", "file", "1"), ("app.js", "file", "2")])"#,
             message: "archive entry 'app.js' appears twice"),
        Case(name: "the same path twice in a zip", script: #"""
            import warnings; warnings.simplefilter("ignore")
            zip([("index.html", "ok"), ("app.js", "1"), ("app.js", "2")])
            """#, message: "archive entry 'app.js' appears twice"),
        Case(name: "a file, then a folder of the same name", script: #"tar([("a", "file", "x"), ("a/b.txt", "file", "y")])"#,
             message: "archive entry 'a' is both a file and a folder"),
        Case(name: "a folder, then a file of the same name", script: #"tar([("a/b.txt", "file", "y"), ("a", "file", "x")])"#,
             message: "archive entry 'a' is both a file and a folder"),
        Case(name: "control character in a name", script: #"tar([\#(goodFile), ("bad\x01name.txt", "file", "x")])"#,
             message: #"archive entry 'bad\x01name.txt' has a control character"#),
        Case(name: "invalid UTF-8 in a name", script: #"tar([\#(goodFile), ("caf\udce9.html", "file", "x")], format=tarfile.GNU_FORMAT)"#,
             message: #"archive entry 'caf\xe9.html' is not valid UTF-8"#),
        Case(name: "truncated tar.gz, cut after several files", script: #"""
            tar([(f"assets/file{i}.bin", "file", os.urandom(200_000)) for i in range(8)])
            data = open(out, "rb").read(); open(out, "wb").write(data[: len(data) * 3 // 4])
            """#, message: "is damaged or truncated"),
        Case(name: "truncated plain tar", script: #"""
            tar([(f"assets/file{i}.bin", "file", os.urandom(50_000)) for i in range(4)], mode="w")
            data = open(out, "rb").read(); open(out, "wb").write(data[:130_000])
            """#, message: "is damaged or truncated"),
        Case(name: "corrupt gzip data", script: #"""
            tar([(f"assets/file{i}.txt", "file", "hello " * 20_000) for i in range(4)])
            data = bytearray(open(out, "rb").read())
            for i in range(200, 260): data[i] ^= 0x5A
            open(out, "wb").write(bytes(data))
            """#, message: "is damaged or truncated"),
        Case(name: "corrupt zip entry", script: #"""
            zip([("index.html", "ok " * 10_000), ("app.js", "x" * 50_000)])
            data = bytearray(open(out, "rb").read())
            for i in range(60, 90): data[i] ^= 0x5A
            open(out, "wb").write(bytes(data))
            """#, message: "is damaged or truncated"),
        Case(name: "not an archive", script: #"open(out, "wb").write(os.urandom(4096))"#,
             message: "is neither a folder nor an archive Strata can read"),
        Case(name: "empty archive", script: #"tar([("empty/", "dir", None)])"#,
             message: "archive has no files to publish"),
        Case(name: "decompression bomb: total size", script: #"tar([\#(goodFile), ("zeros.bin", "file", bytes(20 << 20))])"#,
             message: "archive expands past 1.0 MiB (the size limit, --max-bytes)",
             limits: ArchiveLimits(maxBytes: 1 << 20, maxEntries: 1000)),
        Case(name: "decompression bomb: a zip that lies about its size", script: #"zip([("index.html", "ok"), ("zeros.bin", bytes(8 << 20))])"#,
             message: "archive expands past 1.0 MiB (the size limit, --max-bytes)",
             limits: ArchiveLimits(maxBytes: 1 << 20, maxEntries: 1000)),
        Case(name: "decompression bomb: entry count", script: #"tar([(f"f{i}.txt", "file", "x") for i in range(50)])"#,
             message: "archive has more than 20 entries (the entry limit, --max-entries)",
             limits: ArchiveLimits(maxBytes: 1 << 30, maxEntries: 20)),
        Case(name: "decompression bomb: symlinks multiplying a folder", script: #"""
            tar([(f"big/f{i}.txt", "file", "x") for i in range(6)] + [(f"l{i}", "symlink", "big") for i in range(8)])
            """#, message: "symlinks in the archive expand to more than",
             limits: ArchiveLimits(maxBytes: 1 << 30, maxEntries: 30)),
        Case(name: "recorded fingerprint does not match", script: #"""
            tar([(".strata/release.json", "file", '{"fingerprint": "' + "ab" * 32 + '"}'), ("index.html", "file", "changed")])
            """#, message: "archive records fingerprint abababababababab… but its files give"),
        Case(name: "unreadable Strata record", script: #"tar([(".strata/release.json", "file", "{nope"), \#(goodFile)])"#,
             message: "archive's '.strata/release.json' does not record a fingerprint Strata can read"),
        Case(name: "nothing left after --strip-components", script: #"tar([("index.html", "file", "x")])"#,
             message: "archive entry 'index.html' has no name left after --strip-components 1"),
    ]

    func request(_ archive: String, _ badCase: Case) -> PublishRequest {
        PublishRequest(source: archive, stripComponents: badCase.name.contains("strip") ? 1 : 0, limits: badCase.limits)
    }

    @Test(arguments: cases)
    func hostileArchiveLeavesTheStoreAndItsSurroundingsUnchanged(_ badCase: Case) throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder + "/deep/inside")
            _ = try store.publishFixture("aurora-v1", label: "v1")
            let archive = folder + "/upload.bin"
            try makeArchive(at: archive, badCase.script)
            let before = try snapshot(folder)
            let error = #expect(throws: StrataError.self) { try store.publish(request(archive, badCase)) }
            #expect(error?.message.contains(badCase.message) == true, "got: \(error?.message ?? "-")")
            #expect(error?.message.contains("\n") == false)
            // The whole temporary folder, not only the store: nothing was written anywhere.
            #expect(try snapshot(folder) == before)
            #expect(!FileManager.default.fileExists(atPath: "/tmp/strata-evil.txt"))
        }
    }

    @Test(arguments: cases)
    func hostileArchiveDoesNotCreateAStore(_ badCase: Case) throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let archive = folder + "/upload.bin"
            try makeArchive(at: archive, badCase.script)
            #expect(throws: StrataError.self) { try store.publish(request(archive, badCase)) }
            #expect(!FileManager.default.fileExists(atPath: store.root))
        }
    }
}

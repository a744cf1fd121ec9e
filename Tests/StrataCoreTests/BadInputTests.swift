import Foundation
import StrataCore
import StrataTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Hostile and broken sources: each gets a one-line error naming the problem, and the store stays
/// byte-for-byte as it was (and a store that did not exist is not created).
@Suite struct BadInputTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        /// Builds the bad source inside the folder; returns its path.
        let make: @Sendable (String) throws -> String
        let message: String
        var label: String? = nil
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "missing source", make: { $0 + "/nope" }, message: "does not exist"),
        Case(name: "source is a file but not an archive", make: { folder in
            try write("x", to: folder + "/file.txt"); return folder + "/file.txt"
        }, message: "is neither a folder nor an archive"),
        Case(name: "empty source", make: { folder in
            try FileManager.default.createDirectory(atPath: folder + "/empty/sub", withIntermediateDirectories: true)
            return folder + "/empty"
        }, message: "has no files to publish"),
        Case(name: "only excluded files", make: { folder in
            try makeSite(in: folder, name: "site", files: [".DS_Store": "x", ".git/HEAD": "y"])
        }, message: "has no files to publish"),
        Case(name: "symlink leading outside", make: { folder in
            let site = try makeSite(in: folder, name: "site", files: ["index.html": "x"])
            try FileManager.default.createSymbolicLink(atPath: site + "/passwd", withDestinationPath: "/etc/passwd")
            return site
        }, message: "symlink 'passwd' leads outside the source"),
        Case(name: "relative symlink climbing out", make: { folder in
            let site = try makeSite(in: folder, name: "site", files: ["a/index.html": "x"])
            try write("secret", to: folder + "/secret.txt")
            try FileManager.default.createSymbolicLink(atPath: site + "/a/s", withDestinationPath: "../../secret.txt")
            return site
        }, message: "symlink 'a/s' leads outside the source"),
        Case(name: "dangling symlink", make: { folder in
            let site = try makeSite(in: folder, name: "site", files: ["index.html": "x"])
            try FileManager.default.createSymbolicLink(atPath: site + "/gone.js", withDestinationPath: "missing.js")
            return site
        }, message: "symlink 'gone.js' is dangling"),
        Case(name: "symlink loop to an ancestor folder", make: { folder in
            let site = try makeSite(in: folder, name: "site", files: ["a/index.html": "x"])
            try FileManager.default.createSymbolicLink(atPath: site + "/a/up", withDestinationPath: "..")
            return site
        }, message: "symlink 'a/up' points at a folder that contains it"),
        Case(name: "self-referencing symlink", make: { folder in
            let site = try makeSite(in: folder, name: "site", files: ["index.html": "x"])
            try FileManager.default.createSymbolicLink(atPath: site + "/me", withDestinationPath: "me")
            return site
        }, message: "symlink 'me' loops"),
        Case(name: "control character in a name", make: { folder in
            try makeSite(in: folder, name: "site", files: ["index.html": "x", "bad\u{1}name.js": "y"])
        }, message: "file name 'bad\\x01name.js' has a control character"),
        Case(name: "newline in a folder name", make: { folder in
            try makeSite(in: folder, name: "site", files: ["index.html": "x", "dir\nx/a.js": "y"])
        }, message: "file name 'dir\\x0ax' has a control character"),
        Case(name: "name that is not UTF-8", make: { folder in
            let site = try makeSite(in: folder, name: "site", files: ["index.html": "x"])
            // "caf" + 0xE9: Latin-1 "café", which is not valid UTF-8.
            var raw = Array((site + "/caf").utf8CString.dropLast()) + [CChar(bitPattern: 0xE9), 0]
            close(open(&raw, O_CREAT | O_WRONLY, 0o644))
            return site
        }, message: "file name 'caf\\xe9' is not valid UTF-8"),
        Case(name: "FIFO", make: { folder in
            let site = try makeSite(in: folder, name: "site", files: ["index.html": "x"])
            mkfifo(site + "/pipe", 0o644)
            return site
        }, message: "'pipe' is a FIFO"),
        Case(name: "socket", make: { folder in
            let site = try makeSite(in: folder, name: "site", files: ["index.html": "x"])
            try makeSocket(at: site + "/sock")
            return site
        }, message: "'sock' is a socket"),
        Case(name: "top-level .strata folder", make: { folder in
            try makeSite(in: folder, name: "site", files: ["index.html": "x", ".strata/manifest.json": "{}"])
        }, message: "reserves for release metadata"),
        Case(name: "label with a slash", make: { folder in
            try makeSite(in: folder, name: "site", files: ["index.html": "x"])
        }, message: "label '../x' is not allowed", label: "../x"),
        Case(name: "_redirects: bad status", make: { folder in
            try makeSite(in: folder, name: "site", files: ["index.html": "x", "_redirects": "/old /new 301\n\n/a /b 418\n"])
        }, message: "_redirects:3: status 418 is not supported"),
        Case(name: "_redirects: no target", make: { folder in
            try makeSite(in: folder, name: "site", files: ["index.html": "x", "_redirects": "# moved pages\n/lonely\n"])
        }, message: "_redirects:2: '/lonely' has no target"),
        Case(name: "_redirects: proxying", make: { folder in
            try makeSite(in: folder, name: "site", files: ["index.html": "x", "_redirects": "/api/* https://api.example.com/:splat 200\n"])
        }, message: "_redirects:1: a 200 rule serves a path of this release"),
        Case(name: "_redirects: unknown placeholder", make: { folder in
            try makeSite(in: folder, name: "site", files: ["index.html": "x", "_redirects": "/blog/:year /posts/:month 301\n"])
        }, message: "_redirects:1: target '/posts/:month' uses ':month'"),
        Case(name: "_redirects: splat in the middle", make: { folder in
            try makeSite(in: folder, name: "site", files: ["index.html": "x", "_redirects": "/a/*/b /c 301\n"])
        }, message: "_redirects:1: '/a/*/b': '*' can only be the last segment"),
        Case(name: "_redirects: conditions", make: { folder in
            try makeSite(in: folder, name: "site", files: ["index.html": "x", "_redirects": "/ /fr 302 Country=fr\n"])
        }, message: "_redirects:1: conditions ('Country=fr') are not supported"),
        Case(name: "_redirects: not a path", make: { folder in
            try makeSite(in: folder, name: "site", files: ["index.html": "x", "_redirects": "old /new\n"])
        }, message: "_redirects:1: 'old' is not a path"),
        Case(name: "_redirects: not UTF-8", make: { folder in
            let site = try makeSite(in: folder, name: "site", files: ["index.html": "x"])
            try Data([0x2F, 0x61, 0x20, 0x2F, 0xFF, 0x0A]).write(to: URL(fileURLWithPath: site + "/_redirects"))
            return site
        }, message: "_redirects: not UTF-8 text"),
        Case(name: "_headers: header before path", make: { folder in
            try makeSite(in: folder, name: "site", files: ["index.html": "x", "_headers": "  X-Frame-Options: DENY\n"])
        }, message: "_headers:1: header line before any path pattern"),
        Case(name: "_headers: reserved header", make: { folder in
            try makeSite(in: folder, name: "site", files: ["index.html": "x", "_headers": "/*\n  X-Frame-Options: DENY\n  Content-Length: 5\n"])
        }, message: "_headers:3: 'Content-Length' is Strata's to send"),
        Case(name: "_headers: removing ETag", make: { folder in
            try makeSite(in: folder, name: "site", files: ["index.html": "x", "_headers": "/*\n  ! ETag\n"])
        }, message: "_headers:2: 'ETag' is Strata's to send"),
        Case(name: "_headers: not a header line", make: { folder in
            try makeSite(in: folder, name: "site", files: ["index.html": "x", "_headers": "/*\n  just words\n"])
        }, message: "_headers:2: 'just words' is not 'Name: value' or '! Name'"),
        Case(name: "_headers: bad name", make: { folder in
            try makeSite(in: folder, name: "site", files: ["index.html": "x", "_headers": "/*\n  Bad Name: x\n"])
        }, message: "_headers:2: 'Bad Name' is not a header name"),
    ]

    @Test(arguments: cases)
    func badSourceLeavesAnExistingStoreUnchanged(_ badCase: Case) throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let v1 = try store.publishFixture("aurora-v1", label: "v1")
            _ = try store.channels.activate(v1, channel: "current")
            let source = try badCase.make(folder)
            let before = try snapshot(store.root)
            let error = #expect(throws: StrataError.self) { try store.publish(source, label: badCase.label) }
            #expect(error?.message.contains(badCase.message) == true, "got: \(error?.message ?? "-")")
            #expect(error?.message.contains("\n") == false)
            #expect(try snapshot(store.root) == before)
        }
    }

    @Test(arguments: cases)
    func badSourceDoesNotCreateAStore(_ badCase: Case) throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let source = try badCase.make(folder)
            #expect(throws: StrataError.self) { try store.publish(source, label: badCase.label) }
            #expect(!FileManager.default.fileExists(atPath: store.root))
        }
    }

    @Test(.enabled(if: getuid() == 0, "mknod needs root"))
    func deviceFilesAreRefused() throws {
        try withTemporaryDirectory { folder in
            let site = try makeSite(in: folder, name: "site", files: ["index.html": "x"])
            let null = dev_t(0x103)  // makedev(1, 3), as /dev/null; the macro does not import into Swift
            #expect(mknod(site + "/null", S_IFCHR | 0o644, null) == 0)
            let error = #expect(throws: StrataError.self) { try TestStore(in: folder).publish(site) }
            #expect(error?.message == "'null' is a character device; only files, folders and symlinks can be published")
        }
    }

    @Test func aSourceThatContainsTheStoreIsRefused() throws {
        try withTemporaryDirectory { folder in
            let site = try makeSite(in: folder, name: "site", files: ["index.html": "x"])
            for root in [site + "/store", site + "/deeper/new-store"] {
                let error = #expect(throws: StrataError.self) {
                    try Publisher(store: Store(root: root)).publish(PublishRequest(source: site))
                }
                #expect(error?.message == "the store '\(root)' is inside the source '\(site)'; keep the store outside what you publish")
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: site) == ["index.html"])
        }
    }

    /// Two first writers racing to create the same store: the one that finds the other's half-made
    /// layout (folders and lock, no marker yet) finishes the creation instead of refusing.
    @Test func aStoreHalfCreatedByAnotherWriterIsFinishedNotRefused() throws {
        try withTemporaryDirectory { folder in
            let root = folder + "/store"
            for name in ["releases", "pool", "staging"] {
                try FileManager.default.createDirectory(atPath: root + "/" + name, withIntermediateDirectories: true)
            }
            try write("", to: root + "/lock")
            let report = try Publisher(store: Store(root: root)).publish(PublishRequest(source: fixtures + "/aurora-v1"))
            #expect(report.isNew)
            #expect(FileManager.default.fileExists(atPath: root + "/strata-store.json"))
        }
    }

    @Test func aFolderThatIsNotAStoreIsNeverWrittenInto() throws {
        try withTemporaryDirectory { folder in
            try write("important", to: folder + "/notes.txt")
            let before = try snapshot(folder)
            let error = #expect(throws: StrataError.self) {
                try Publisher(store: Store(root: folder)).publish(PublishRequest(source: fixtures + "/aurora-v1"))
            }
            #expect(error?.message.contains("is not empty and not a Strata store") == true)
            #expect(try snapshot(folder) == before)
        }
    }
}

func makeSocket(at path: String) throws {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        for (index, byte) in bytes.enumerated() { raw[index] = byte }
    }
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard result == 0 else { throw POSIXError(.EADDRINUSE) }
}

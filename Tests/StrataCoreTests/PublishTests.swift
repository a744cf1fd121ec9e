import Foundation
import StrataCore
import StrataTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct PublishTests {
    @Test func fingerprintMatchesACoreutilsRecomputation() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            for site in ["aurora-v1", "aurora-v2"] {
                let manifest = try store.publish(fixtures + "/" + site).manifest
                let script = "cd \"$0\" && find . -type f -printf '%P\\0' | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1"
                let expected = try run("/bin/sh", ["-c", script, fixtures + "/" + site]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                #expect(manifest.fingerprint == expected)
                #expect(manifest.id == String(expected.prefix(16)))
                // The release folder, copied anywhere, recomputes to the same fingerprint without its metadata.
                let inRelease = try run("/bin/sh", ["-c", script.replacingOccurrences(of: "find . -type f", with: "find . -type f ! -path './.strata/*'"),
                                                      store.root + "/releases/" + manifest.id]).stdout
                #expect(inRelease.trimmingCharacters(in: .whitespacesAndNewlines) == expected)
            }
        }
    }

    @Test func publishingTheSameTreeTwiceCreatesOneRelease() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let first = try store.publish(fixtures + "/aurora-v1")
            let before = try snapshot(store.root)
            let second = try store.publish(fixtures + "/aurora-v1")
            #expect(first.isNew)
            #expect(!second.isNew)
            #expect(second.manifest.id == first.manifest.id)
            #expect(try store.catalog.ids() == [first.manifest.id])
            #expect(try snapshot(store.root) == before)
        }
    }

    @Test func publishingV2AfterV1WritesOnlyTheChangedBytes() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let v1 = try store.publish(fixtures + "/aurora-v1").manifest
            let v2report = try store.publish(fixtures + "/aurora-v2")
            let v2 = v2report.manifest
            let v1Contents = Set(v1.files.map(\.sha256))
            let newFiles = v2.files.filter { !v1Contents.contains($0.sha256) }

            #expect(v2report.filesCopied == newFiles.count)
            #expect(v2report.bytesCopied == newFiles.reduce(0) { $0 + $1.size })
            #expect(v2report.filesLinked == v2.fileCount - newFiles.count)
            #expect(newFiles.count == 5)  // index, docs page, app, style, new chunk

            // What a user sees on disk: unchanged files are the same inode as in v1.
            let v1ByContent = Dictionary(v1.files.map { ($0.sha256, $0.path) }, uniquingKeysWith: { a, _ in a })
            for file in v2.files {
                let v2Inode = inode(store.root + "/releases/\(v2.id)/" + file.path)
                if let old = v1ByContent[file.sha256] {
                    #expect(v2Inode == inode(store.root + "/releases/\(v1.id)/" + old), "\(file.path) should be linked")
                } else {
                    #expect(!Set(v1.files.map { inode(store.root + "/releases/\(v1.id)/" + $0.path) }).contains(v2Inode))
                }
            }
        }
    }

    @Test func releaseFolderHoldsExactlyTheInputReadOnlyWithAManifest() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let manifest = try store.publish(fixtures + "/aurora-v1", label: "v1").manifest
            let release = store.root + "/releases/" + manifest.id
            let inputFiles = try snapshot(fixtures + "/aurora-v1").filter { !$0.contains("/ ") }.map { $0.split(separator: " ")[0] }
            let releaseFiles = try snapshot(release).filter { !$0.contains("/ ") && !$0.hasPrefix("/.strata") }.map { $0.split(separator: " ")[0] }
            #expect(releaseFiles == inputFiles)
            for line in try snapshot(release) {
                let fields = line.split(separator: " ")
                let perms = Int(fields[1], radix: 8)! & 0o777
                #expect(perms == (line.contains("/ ") ? 0o555 : 0o444), "\(line)")
            }
            #expect(manifest.label == "v1")
            #expect(manifest.fileCount == inputFiles.count)
            #expect(manifest.files.map(\.path) == manifest.files.map(\.path).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
            let index = try #require(manifest.files.first { $0.path == "index.html" })
            #expect(index.type == "text/html")
            #expect(index.size == Int64(try Data(contentsOf: URL(fileURLWithPath: fixtures + "/aurora-v1/index.html")).count))
            #expect(manifest.files.first { $0.path == "images/hero.png" }?.type == "image/png")
            let decoded = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: release + "/.strata/manifest.json"))) as? [String: Any]
            #expect(decoded?["source"] as? String == fixtures + "/aurora-v1")
            #expect(decoded?["fingerprint"] as? String == manifest.fingerprint)
        }
    }

    @Test func symlinksInsideTheSourceArePublishedAsTheirTargets() throws {
        try withTemporaryDirectory { folder in
            let site = try makeSite(in: folder, name: "site", files: ["index.html": "<h1>hi</h1>", "assets/a.js": "a()"])
            try FileManager.default.createSymbolicLink(atPath: site + "/home.html", withDestinationPath: "index.html")
            try FileManager.default.createSymbolicLink(atPath: site + "/static", withDestinationPath: "assets")
            let store = TestStore(in: folder)
            let manifest = try store.publish(site).manifest
            #expect(manifest.files.map(\.path) == ["assets/a.js", "home.html", "index.html", "static/a.js"])
            let release = store.root + "/releases/" + manifest.id
            #expect(try String(contentsOfFile: release + "/home.html", encoding: .utf8) == "<h1>hi</h1>")
            var info = stat()
            lstat(release + "/static", &info)
            #expect(info.st_mode & S_IFMT == S_IFDIR)
        }
    }

    @Test func gitFoldersAndDSStoreAreLeftOutUnlessAsked() throws {
        try withTemporaryDirectory { folder in
            let site = try makeSite(in: folder, name: "site", files: [
                "index.html": "x", ".git/HEAD": "ref: refs/heads/main", ".DS_Store": "junk", "sub/.DS_Store": "junk",
                ".well-known/security.txt": "Contact: x",
            ])
            let store = TestStore(in: folder)
            #expect(try store.publish(site).manifest.files.map(\.path) == [".well-known/security.txt", "index.html"])
            #expect(try store.publish(site, includeEverything: true).manifest.files.map(\.path)
                == [".DS_Store", ".git/HEAD", ".well-known/security.txt", "index.html", "sub/.DS_Store"])
        }
    }

    /// A first publish copies on every core: each content once, whichever core gets it, and every
    /// other file holding it a link to that copy.
    @Test func aFirstPublishCopiesEachContentOnceAndLinksTheOtherHolders() throws {
        try withTemporaryDirectory { folder in
            var files: [String: String] = [:]
            for number in 0..<400 {
                // 40 contents, each in ten files spread over folders, so the copies race each other.
                files["part\(number % 7)/file-\(number).txt"] = "content \(number % 40) " + String(repeating: "x", count: number % 40 * 100)
            }
            let site = try makeSite(in: folder, name: "site", files: files)
            let store = TestStore(in: folder)
            let report = try store.publish(site)
            #expect(report.filesCopied == 40)
            let distinctBytes = Set(files.values).reduce(0) { $0 + $1.utf8.count }
            #expect(report.bytesCopied == Int64(distinctBytes))
            #expect(report.filesLinked == 360)
            let release = store.root + "/releases/" + report.manifest.id + "/"
            var inodes: [String: Set<UInt64>] = [:]
            for (path, text) in files {
                #expect(try String(contentsOfFile: release + path, encoding: .utf8) == text, "\(path)")
                inodes[text, default: []].insert(inode(release + path))
            }
            #expect(inodes.count == 40 && inodes.values.allSatisfy { $0.count == 1 }, "one copy per content")
            #expect(try Verifier().verify(releaseFolder: release).isIntact)
        }
    }

    @Test func aDuplicateLabelIsRefused() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            _ = try store.publish(fixtures + "/aurora-v1", label: "v1")
            let before = try snapshot(store.root)
            let error = #expect(throws: StrataError.self) { try store.publish(fixtures + "/aurora-v2", label: "v1") }
            #expect(error?.kind == .conflict)
            #expect(error?.message.contains("label 'v1' already names release") == true)
            #expect(try snapshot(store.root) == before)
        }
    }

    @Test func abandonedStagingFoldersAreRemovedByTheNextWriter() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let id = try store.publishFixture("aurora-v1")
            // What a killed publisher leaves: a half-built, partly read-only tree and a pointer temp file.
            let debris = store.root + "/staging/publish-999-dead/release/assets"
            try FileManager.default.createDirectory(atPath: debris, withIntermediateDirectories: true)
            try write("half", to: debris + "/app.js")
            chmod(debris, 0o555)
            try write("0123", to: store.root + "/channels/.current.tmp-999")
            _ = try store.channels.activate(id, channel: "current")
            #expect(try FileManager.default.contentsOfDirectory(atPath: store.root + "/staging").isEmpty)
            #expect(try FileManager.default.contentsOfDirectory(atPath: store.root + "/channels") == ["current"])
        }
    }

    @Test func hashingAFileMatchesSha256sum() throws {
        try withTemporaryDirectory { folder in
            // A file larger than one read buffer, with a tail that is not a multiple of it.
            var bytes = [UInt8](repeating: 0, count: 3 * 256 * 1024 + 12345)
            for index in bytes.indices { bytes[index] = UInt8(truncatingIfNeeded: index &* 2654435761 >> 7) }
            let site = folder + "/site"
            try FileManager.default.createDirectory(atPath: site, withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: site + "/big.bin"))
            let manifest = try TestStore(in: folder).publish(site).manifest
            let expected = try run("/usr/bin/sha256sum", [site + "/big.bin"]).stdout.prefix(64)
            #expect(manifest.files.first?.sha256 == String(expected))
            #expect(manifest.files.first?.size == Int64(bytes.count))
        }
    }
}

import Foundation
import StrataCore
import StrataTestSupport
import Testing

/// Archives in and out: one content gives one release, whatever it arrives in, and an export
/// reproduces it bit for bit anywhere.
@Suite struct ArchiveTests {
    let fixture = fixtures + "/aurora-v1"
    let fixtureID = "b99b1cbe6d6f632b"

    /// Publishes `archive` into a fresh store under `folder`; returns the report.
    func publishArchive(_ archive: String, in folder: String, name: String, stripComponents: Int = 0,
                        includeEverything: Bool = false) throws -> PublishReport {
        try TestStore(in: folder + "/" + name).publish(
            PublishRequest(source: archive, includeEverything: includeEverything, stripComponents: stripComponents))
    }

    @Test func folderTarGzTarXzPlainTarAndZipGiveOneRelease() throws {
        try withTemporaryDirectory { folder in
            #expect(try TestStore(in: folder + "/f").publish(fixture).manifest.id == fixtureID)
            let site = "site(\"\(fixture)\")"
            let builds = [
                "pax.tar.gz": "tar(\(site))",
                "gnu.tar": "tar(\(site), mode=\"w\", format=tarfile.GNU_FORMAT)",
                "ustar.tar.xz": "tar(\(site), mode=\"w:xz\", format=tarfile.USTAR_FORMAT)",
                "bz.tar.bz2": "tar(\(site), mode=\"w:bz2\")",
                "dotted.tgz": "tar([(\"./\", \"dir\", None)] + [(\"./\" + n, k, v) for n, k, v in \(site)])",
                // Named like a zip but a tar.gz: the content decides.
                "misnamed.zip": "tar(\(site))",
            ]
            for (name, script) in builds.sorted(by: { $0.key < $1.key }) {
                try makeArchive(at: folder + "/" + name, script)
                let report = try publishArchive(folder + "/" + name, in: folder, name: name + "-store")
                #expect(report.manifest.id == fixtureID, "\(name)")
                #expect(report.manifest.fileCount == 13, "\(name)")
            }
            // GNU tar itself, with the usual `-C dist .` (entries start with ./).
            #expect(try run("/bin/tar", ["-czf", folder + "/gnu-made.tar.gz", "-C", fixture, "."]).status == 0)
            #expect(try publishArchive(folder + "/gnu-made.tar.gz", in: folder, name: "gnu-made").manifest.id == fixtureID)
        }
    }

    @Test func aWrappingFolderIsKeptUnlessStripped() throws {
        try withTemporaryDirectory { folder in
            try makeArchive(at: folder + "/dist.zip", #"""
                entries = [("dist/", "")] + [("dist/" + name, data) for name, _, data in site("\#(fixture)")]
                zip(entries)
                """#)
            let kept = try publishArchive(folder + "/dist.zip", in: folder, name: "kept")
            #expect(kept.manifest.id != fixtureID)
            #expect(kept.manifest.files.allSatisfy { $0.path.hasPrefix("dist/") })
            let stripped = try publishArchive(folder + "/dist.zip", in: folder, name: "stripped", stripComponents: 1)
            #expect(stripped.manifest.id == fixtureID)
        }
    }

    @Test func linksInsideTheArchiveAreStoredAsTheirTargetsLikeAFolder() throws {
        try withTemporaryDirectory { folder in
            // The same shape on disk (published as a folder) and in a tar.
            let site = try makeSite(in: folder, name: "site", files: [
                "index.html": "<h1>home</h1>", "assets/app.js": "app()", "docs/guide/index.html": "<p>guide</p>",
            ])
            try FileManager.default.createSymbolicLink(atPath: site + "/latest.js", withDestinationPath: "assets/app.js")
            try FileManager.default.createSymbolicLink(atPath: site + "/manual", withDestinationPath: "docs")
            try FileManager.default.createSymbolicLink(atPath: site + "/docs/home.html", withDestinationPath: "../index.html")
            let fromFolder = try TestStore(in: folder + "/a").publish(site)

            try makeArchive(at: folder + "/links.tar.gz", #"""
                tar([("manual", "symlink", "docs"),
                     ("index.html", "file", "<h1>home</h1>"),
                     ("assets/app.js", "file", "app()"),
                     ("docs/guide/index.html", "file", "<p>guide</p>"),
                     ("docs/home.html", "symlink", "../index.html"),
                     ("latest.js", "symlink", "./assets/app.js")])
                """#)
            let fromTar = try publishArchive(folder + "/links.tar.gz", in: folder, name: "b")
            #expect(fromTar.manifest.id == fromFolder.manifest.id)
            #expect(fromTar.manifest.files.map(\.path) == [
                "assets/app.js", "docs/guide/index.html", "docs/home.html", "index.html", "latest.js",
                "manual/guide/index.html", "manual/home.html",
            ])
            // A hardlink is its target's content.
            try makeArchive(at: folder + "/hard.tar", #"tar([("a.txt", "file", "same"), ("b.txt", "hardlink", "a.txt")], mode="w")"#)
            let hard = try publishArchive(folder + "/hard.tar", in: folder, name: "c")
            #expect(hard.manifest.files.map(\.sha256) == Array(repeating: hard.manifest.files[0].sha256, count: 2))
            // The release holds regular files only.
            let release = folder + "/b/store/releases/" + fromTar.manifest.id
            for entry in fromTar.manifest.files {
                let attributes = try FileManager.default.attributesOfItem(atPath: release + "/" + entry.path)
                #expect(attributes[.type] as? FileAttributeType == .typeRegular, "\(entry.path)")
            }
        }
    }

    @Test func gitDSStoreAndMacOSJunkAreLeftOutUnlessAsked() throws {
        try withTemporaryDirectory { folder in
            try makeArchive(at: folder + "/mac.zip", #"""
                zip([("index.html", "<h1>x</h1>"), (".DS_Store", "junk"), (".git/HEAD", "ref"),
                     ("__MACOSX/._index.html", "fork"), ("assets/.DS_Store", "junk")])
                """#)
            let plain = try publishArchive(folder + "/mac.zip", in: folder, name: "plain")
            #expect(plain.manifest.files.map(\.path) == ["index.html"])
            let everything = try publishArchive(folder + "/mac.zip", in: folder, name: "all", includeEverything: true)
            #expect(everything.manifest.fileCount == 5)
        }
    }

    @Test func anArchiveOfKnownContentWritesOnlyWhatIsNew() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let v1 = try store.publishFixture("aurora-v1")
            #expect(try run("/bin/tar", ["-czf", folder + "/v2.tgz", "-C", fixtures + "/aurora-v2", "."]).status == 0)
            let v2 = try store.publish(PublishRequest(source: folder + "/v2.tgz"))
            #expect(v2.filesCopied == 5)
            #expect(v2.filesLinked == 8)
            let vendor = "/assets/vendor.a1d646b7.js"
            #expect(inode(store.root + "/releases/" + v1 + vendor) == inode(store.root + "/releases/" + v2.manifest.id + vendor))
            // Identical content again, as an archive: nothing new at all.
            let again = try store.publish(PublishRequest(source: folder + "/v2.tgz"))
            #expect(!again.isNew)
        }
    }

    @Test func exportIsReproducibleAndImportsToTheSameReleaseAnywhere() throws {
        try withTemporaryDirectory { folder in
            let first = TestStore(in: folder + "/first")
            let id = try first.publishFixture("aurora-v1", label: "v1")
            let exporter = ReleaseExporter(store: first.store)
            let a = try exportBytes(exporter, id, to: folder + "/a.tar.gz")
            let b = try exportBytes(exporter, id, to: folder + "/b.tar.gz")
            #expect(a == b)
            // gzip: no flags (so no file name), no time, "Unix".
            #expect(Array(a.prefix(10)) == [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3])

            // Fixed metadata on every entry, sorted, folders first, release.json leading.
            let listing = try run("/usr/bin/env", ["python3", "-c", #"""
                import sys, tarfile
                with tarfile.open(sys.argv[1]) as t:
                    for m in t.getmembers():
                        print(m.name, m.type.decode(), oct(m.mode), m.uid, m.gid, repr(m.uname), repr(m.gname), m.mtime)
                """#, folder + "/a.tar.gz"])
            let lines = listing.stdout.split(separator: "\n").map(String.init)
            #expect(lines.first == ".strata 5 0o755 0 0 '' '' 946684800")
            #expect(lines.dropFirst().first == ".strata/release.json 0 0o644 0 0 '' '' 946684800")
            #expect(lines.count == 2 + 13 + 5)  // 13 files, 5 folders
            #expect(lines.allSatisfy { $0.hasSuffix(" 0 0 '' '' 946684800") })
            let names = lines.dropFirst(2).map { String($0.split(separator: " ")[0]) + ($0.contains(" 5 ") ? "/" : "") }
            #expect(names == names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })

            // Import into a fresh store: same id, same files, and its export is the same bytes.
            let second = TestStore(in: folder + "/second")
            let imported = try second.publish(PublishRequest(source: folder + "/a.tar.gz", requireArchive: true))
            #expect(imported.manifest.id == id)
            #expect(imported.manifest.files == (try first.catalog.manifest(id)).files)
            #expect(try exportBytes(ReleaseExporter(store: second.store), id, to: folder + "/c.tar.gz") == a)
            // And plain tar too.
            let plainA = try exportBytes(exporter, id, to: folder + "/a.tar", format: .tar)
            #expect(try exportBytes(ReleaseExporter(store: second.store), id, to: folder + "/c.tar", format: .tar) == plainA)
            #expect(try TestStore(in: folder + "/third").publish(PublishRequest(source: folder + "/a.tar")).manifest.id == id)
        }
    }

    @Test func importRefusesAnExportWhoseFilesWereChanged() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder + "/origin")
            let id = try store.publishFixture("aurora-v1")
            _ = try exportBytes(ReleaseExporter(store: store.store), id, to: folder + "/release.tar.gz")
            try makeArchive(at: folder + "/tampered.tar.gz", #"""
                import io
                with tarfile.open("\#(folder)/release.tar.gz") as source:
                    entries = []
                    for m in source.getmembers():
                        if m.isdir(): entries.append((m.name, "dir", None))
                        else:
                            data = source.extractfile(m).read()
                            if m.name == "index.html": data = data.replace(b"Aurora", b"Evil")
                            entries.append((m.name, "file", data))
                tar(entries)
                """#)
            let target = TestStore(in: folder + "/target")
            let error = #expect(throws: StrataError.self) {
                try target.publish(PublishRequest(source: folder + "/tampered.tar.gz", requireArchive: true))
            }
            #expect(error?.message.hasPrefix("archive records fingerprint \(id)… but its files give ") == true, "\(error?.message ?? "")")
            #expect(!FileManager.default.fileExists(atPath: target.root))
        }
    }

    @Test func aReleaseFolderCopiedAsATarImportsAndIsChecked() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder + "/origin")
            let id = try store.publishFixture("aurora-v2")
            // `tar` of a release folder as it sits in the store: manifest and variants included.
            #expect(try run("/bin/tar", ["-czf", folder + "/copy.tgz", "-C", store.root + "/releases/" + id, "."]).status == 0)
            let imported = try TestStore(in: folder + "/target").publish(PublishRequest(source: folder + "/copy.tgz"))
            #expect(imported.manifest.id == id)
            #expect(imported.manifest.files == (try store.catalog.manifest(id)).files)
        }
    }

    @Test func importTakesArchivesOnly() throws {
        try withTemporaryDirectory { folder in
            let error = #expect(throws: StrataError.self) {
                try TestStore(in: folder).publish(PublishRequest(source: fixture, requireArchive: true))
            }
            #expect(error?.message == "'\(fixture)' is a folder; import takes an archive (publish takes folders)")
        }
    }

    func exportBytes(_ exporter: ReleaseExporter, _ id: String, to path: String, format: ExportFormat = .tarGzip) throws -> [UInt8] {
        _ = try AtomicOutputFile.write(path) { try exporter.export(id, format: format, to: $0, named: path) }
        return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

import Foundation
import StrataCore
import StrataTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A disk that fills up mid-way: a small tmpfs as the store (publish, import) or as the output
/// (export). Each run must end with one line naming the problem, the store exactly as it was,
/// and no staging or partial output left behind. Mounting needs root (CI runs as root).
@Suite(.serialized, .enabled(if: getuid() == 0, "mounting a tmpfs needs root"))
struct DiskFullTests {
    /// Mounts a tmpfs of `size` at `path` for the duration of `body`.
    static func withSmallDisk<T>(_ path: String, size: String, _ body: () throws -> T) throws -> T {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let mounted = try run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", path])
        try #require(mounted.status == 0, "cannot mount a tmpfs: \(mounted.stderr)")
        defer { _ = try? run("/bin/umount", [path]) }
        return try body()
    }

    /// A site of `megabytes` of random (incompressible) files, 256 KiB each.
    static func bigSite(_ path: String, megabytes: Int) throws -> String {
        try FileManager.default.createDirectory(atPath: path + "/blobs", withIntermediateDirectories: true)
        try Data("<!doctype html><title>big</title>".utf8).write(to: URL(fileURLWithPath: path + "/index.html"))
        var generator = SystemRandomNumberGenerator()
        for number in 0..<(megabytes * 4) {
            let bytes = (0..<(256 * 1024 / 8)).flatMap { _ in withUnsafeBytes(of: generator.next() as UInt64) { Array($0) } }
            try Data(bytes).write(to: URL(fileURLWithPath: path + "/blobs/\(number).bin"))
        }
        return path
    }

    /// Exit 1 with one line on stderr that says the disk is full.
    static func expectDiskFull(_ result: (status: Int32, stdout: String, stderr: String), _ what: String) {
        #expect(result.status == 1, "\(what): \(result.stderr)")
        #expect(result.stderr.hasPrefix("error: ") && result.stderr.split(separator: "\n").count == 1, "\(what): \(result.stderr)")
        #expect(result.stderr.contains("No space left on device"), "\(what): \(result.stderr)")
    }

    @Test func publishAndImportOntoAFullDiskLeaveTheStoreAsItWas() throws {
        try withTemporaryDirectory { folder in
            let big = try Self.bigSite(folder + "/big", megabytes: 6)
            let archive = folder + "/big.tar.gz"
            let elsewhere = folder + "/elsewhere"
            let id = try strata(["publish", big, "--root", elsewhere]).stdout.trimmingCharacters(in: .newlines)
            #expect(try strata(["export", id, "--root", elsewhere, "-o", archive]).status == 0)

            try Self.withSmallDisk(folder + "/disk", size: "3m") {
                let root = folder + "/disk/store"
                #expect(try strata(["publish", fixtures + "/aurora-v1", "--root", root, "--activate"]).status == 0)
                let before = try snapshot(root)

                Self.expectDiskFull(try strata(["publish", big, "--root", root, "--activate"]), "publish")
                #expect(try snapshot(root) == before)
                Self.expectDiskFull(try strata(["import", archive, "--root", root, "--activate"]), "import")
                #expect(try snapshot(root) == before)
                Self.expectDiskFull(try strata(["publish", big, "--root", root, "--base", "current"]), "patch")
                #expect(try snapshot(root) == before)

                // The store still works, and every release in it verifies.
                #expect(try strata(["verify", "--root", root]).status == 0)
                #expect(try strata(["publish", fixtures + "/aurora-v2", "--root", root, "--activate"]).status == 0)
            }
        }
    }

    @Test func exportOntoAFullDiskLeavesNoPartialArchive() throws {
        try withTemporaryDirectory { folder in
            let root = folder + "/store"
            let id = try strata(["publish", try Self.bigSite(folder + "/big", megabytes: 6), "--root", root]).stdout
                .trimmingCharacters(in: .newlines)
            let before = try snapshot(root)
            try Self.withSmallDisk(folder + "/disk", size: "3m") {
                Self.expectDiskFull(try strata(["export", id, "--root", root, "-o", folder + "/disk/release.tar.gz"]), "export")
                #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/disk") == [])
            }
            #expect(try snapshot(root) == before)
        }
    }
}

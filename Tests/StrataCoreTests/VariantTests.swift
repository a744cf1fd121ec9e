import Foundation
import StrataCore
import StrataTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Precompressed gzip variants: made for compressible files that gain from it, checked by an
/// independent gzip, linked rather than recompressed, and verified.
@Suite struct VariantTests {
    func variantPath(_ root: String, _ id: String, _ entry: Manifest.Entry) -> String {
        root + "/releases/" + id + "/" + ReleaseLayout.gzipVariant(of: entry.sha256)
    }

    @Test func compressibleFilesGetAVariantThatGzipDecompressesToTheFile() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let id = try store.publishFixture("aurora-v1")
            let manifest = try store.catalog.manifest(id)
            let withVariant = Set(manifest.files.filter { $0.gzip != nil }.map(\.path))
            // Text and SVG over 256 bytes; not the PNG, not the small files.
            #expect(withVariant == [
                "assets/app.1ede997c.js", "assets/logo.b56bc6af.svg", "assets/style.8fe813a1.css",
                "assets/vendor.a1d646b7.js", "docs/getting-started/index.html", "index.html",
            ])
            for entry in manifest.files {
                guard let variant = entry.gzip else { continue }
                let path = variantPath(store.root, id, entry)
                let compressed = try Data(contentsOf: URL(fileURLWithPath: path))
                #expect(Int64(compressed.count) == variant.size)
                #expect(compressed.count * 10 <= Int(entry.size) * 9, "keeps only variants that save 10%")
                // Decompressed by gzip itself, not by our own code.
                let plain = try run("/bin/sh", ["-c", "gzip -dc < \"$0\" | sha256sum", path])
                #expect(plain.stdout.hasPrefix(entry.sha256), "\(entry.path)")
                #expect(mode(path) == 0o444)
            }
        }
    }

    @Test func incompressibleContentGetsNoVariant() throws {
        try withTemporaryDirectory { folder in
            var generator = SystemRandomNumberGenerator()
            let random = (0..<8192).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let site = try makeSite(in: folder, name: "site", files: ["index.html": String(repeating: "<p>hello</p>", count: 100)])
            try Data(random).write(to: URL(fileURLWithPath: site + "/bundle.js"))
            let store = TestStore(in: folder)
            let manifest = try store.publish(site).manifest
            #expect(manifest.files.first { $0.path == "bundle.js" }?.gzip == nil)
            #expect(manifest.files.first { $0.path == "index.html" }?.gzip != nil)
            let variants = try FileManager.default.contentsOfDirectory(atPath: store.root + "/releases/" + manifest.id + "/" + ReleaseLayout.variantsFolder)
            #expect(variants.count == 1)
        }
    }

    @Test func contentTheStoreHasCompressedIsLinkedNotCompressedAgain() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let v1 = try store.publishFixture("aurora-v1")
            let v2 = try store.publishFixture("aurora-v2")
            let vendor = try #require(try store.catalog.manifest(v1).files.first { $0.path == "assets/vendor.a1d646b7.js" })
            let inV1 = variantPath(store.root, v1, vendor)
            #expect(inode(inV1) == inode(variantPath(store.root, v2, vendor)))
            #expect(inode(inV1) == inode(store.root + "/pool/" + vendor.sha256.prefix(2) + "/" + vendor.sha256 + ".gz"))
            #expect(try store.catalog.manifest(v2).files.first { $0.path == vendor.path }?.gzip == vendor.gzip)
        }
    }

    @Test func verifyDecompressesVariantsAndCatchesDamage() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let id = try store.publishFixture("aurora-v1")
            let release = store.root + "/releases/" + id
            #expect(try Verifier().verify(releaseFolder: release).isIntact)

            let manifest = try store.catalog.manifest(id)
            let damaged = try #require(manifest.files.first { $0.path == "index.html" })
            let removed = try #require(manifest.files.first { $0.path == "assets/app.1ede997c.js" })
            chmod(release + "/.strata", 0o755)
            chmod(release + "/" + ReleaseLayout.variantsFolder, 0o755)
            let damagedPath = variantPath(store.root, id, damaged)
            chmod(damagedPath, 0o644)
            var bytes = try Data(contentsOf: URL(fileURLWithPath: damagedPath))
            bytes[bytes.count / 2] ^= 0xFF
            try bytes.write(to: URL(fileURLWithPath: damagedPath))
            unlink(variantPath(store.root, id, removed))

            let problems = try Verifier().verify(releaseFolder: release).problems
            #expect(problems.map(\.kind) == [.variant, .variant])
            #expect(problems.contains { $0.detail == "gzip variant of 'assets/app.1ede997c.js': missing" })
            #expect(problems.contains { $0.detail.hasPrefix("gzip variant of 'index.html': ") })
        }
    }
}

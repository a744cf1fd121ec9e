import Foundation
import StrataCore
import StrataTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Precompressed variants (gzip, brotli, zstd): made for compressible files that gain from them,
/// checked by each format's own tool, linked rather than recompressed, and verified.
@Suite struct VariantTests {
    func variantPath(_ root: String, _ id: String, _ entry: Manifest.Entry, _ encoding: ContentEncoding = .gzip) -> String {
        root + "/releases/" + id + "/" + ReleaseLayout.variant(of: entry.sha256, encoding)
    }

    static let decoders: [ContentEncoding: String] = [.gzip: "gzip -dc", .br: "brotli -dc", .zstd: "zstd -dcq"]

    @Test func brotliAndZstdVariantsDecodeWithTheirOwnToolsAndBeatGzip() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let id = try store.publishFixture("aurora-v1", variants: .everyEncoding)
            let manifest = try store.catalog.manifest(id)
            #expect(manifest.variantEncodings == [.gzip, .br, .zstd])
            var made: [ContentEncoding: Int] = [:]
            for entry in manifest.files {
                for encoding in entry.variantEncodings {
                    let variant = try #require(entry[variant: encoding])
                    let path = variantPath(store.root, id, entry, encoding)
                    let compressed = try Data(contentsOf: URL(fileURLWithPath: path))
                    #expect(Int64(compressed.count) == variant.size)
                    #expect(sha256Hex(Array(compressed)) == variant.sha256)
                    if encoding != .gzip { #expect(variant.size < entry.gzip!.size, "\(encoding) kept only when smaller than gzip") }
                    let plain = try run("/bin/sh", ["-c", "\(Self.decoders[encoding]!) < \"$0\" | sha256sum", path])
                    #expect(plain.stdout.hasPrefix(entry.sha256), "\(encoding) \(entry.path)")
                    #expect(inode(path) == inode(store.root + "/pool/" + entry.sha256.prefix(2) + "/" + entry.sha256 + encoding.fileSuffix))
                    made[encoding, default: 0] += 1
                }
            }
            #expect(made[.gzip] == 6 && made[.br] == 6 && (made[.zstd] ?? 0) >= 1)
        }
    }

    /// gzip and brotli unless asked: zstd at a level worth its file costs more than the rest of a
    /// publish. The command line says the same as the library.
    @Test func theDefaultVariantsAreGzipAndBrotli() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let manifest = try store.catalog.manifest(try store.publishFixture("aurora-v1"))
            #expect(manifest.variantEncodings == [.gzip, .br])
            #expect(manifest.files.allSatisfy { $0.zstd == nil } && manifest.files.contains { $0.br != nil })
            #expect(VariantLevels.standard == VariantLevels(gzip: 6, br: 8, zstd: 19))

            let published = try strata(["publish", fixtures + "/aurora-v2", "--root", folder + "/cli"])
            #expect(published.status == 0, "\(published.stderr)")
            let variants = try FileManager.default.contentsOfDirectory(atPath: folder + "/cli/pool").flatMap {
                try FileManager.default.contentsOfDirectory(atPath: folder + "/cli/pool/" + $0)
            }
            #expect(variants.contains { $0.hasSuffix(".br") } && variants.contains { $0.hasSuffix(".gz") })
            #expect(!variants.contains { $0.hasSuffix(".zst") })
        }
    }

    @Test func variantsFlagChoosesWhichAreMade() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            var request = PublishRequest(source: fixtures + "/aurora-v1")
            request.variants = VariantSettings(encodings: [.gzip], levels: .standard)
            let manifest = try store.publish(request).manifest
            #expect(manifest.variantEncodings == [.gzip])
            #expect(manifest.files.allSatisfy { $0.br == nil && $0.zstd == nil })
            #expect(manifest.files.filter { $0.gzip != nil }.count == 6)
            let variants = try FileManager.default.contentsOfDirectory(atPath: store.root + "/releases/" + manifest.id + "/" + ReleaseLayout.variantsFolder)
            #expect(variants.allSatisfy { $0.hasSuffix(".gz") } && variants.count == 6)

            let other = try makeSite(in: folder, name: "plain", files: ["index.html": String(repeating: "<p>hello</p>", count: 100)])
            request = PublishRequest(source: other)
            request.variants = VariantSettings(encodings: [], levels: .standard)
            let bare = try store.publish(request).manifest
            #expect(bare.files.allSatisfy { $0.variantEncodings.isEmpty })
        }
    }

    @Test func variantListsAndLevelsAreChecked() throws {
        #expect(try ContentEncoding.list("zstd,gzip") == [.gzip, .zstd])
        #expect(try ContentEncoding.list("none") == [])
        #expect(try ContentEncoding.list("brotli") == [.br])
        for (bad, message) in [("gzip,lzma", "'lzma' is not a variant encoding (choose from gzip, br, zstd, or none)"),
                               ("br,br", "'br' is named twice in the variant list"),
                               ("gzip,", "'' is not a variant encoding (choose from gzip, br, zstd, or none)")] {
            #expect(throws: StrataError.self) { try ContentEncoding.list(bad) }
            do { _ = try ContentEncoding.list(bad) } catch let error as StrataError { #expect(error.message == message) }
        }
        var levels = VariantLevels.standard
        levels.zstd = 23
        do {
            _ = try levels.validated()
            Issue.record("zstd 23 accepted")
        } catch let error as StrataError {
            #expect(error.message == "zstd level 23 is out of range (1 to 22)")
        }
        #expect(try VariantLevels(gzip: 12, br: 11, zstd: 22).validated() == VariantLevels(gzip: 12, br: 11, zstd: 22))
    }

    @Test func zstdVariantsKeepAWindowBrowsersDecode() throws {
        // Level 22 would pick a 128 MiB window; browsers decode 8 MiB at most.
        var random = SystemRandomNumberGenerator()
        let block = (0..<(1 << 20)).map { _ in UInt8.random(in: 0x61...0x7a, using: &random) }
        let input = Array(repeating: block, count: 10).flatMap { $0 }  // repeats 1 MiB apart, 10 MiB in all
        let compressed = try input.withUnsafeBytes { try VariantCompressor.compress($0, as: .zstd, level: 22, isText: true) }
        try withTemporaryDirectory { folder in
            let path = folder + "/big.zst"
            try Data(compressed).write(to: URL(fileURLWithPath: path))
            // zstd refuses windows past 8 MiB when told the browsers' limit.
            let decoded = try run("/bin/sh", ["-c", "zstd -dcq --memory=8MB < \"$0\" | sha256sum", path])
            #expect(decoded.stdout.hasPrefix(sha256Hex(input)))
        }
    }

    /// A brotli stream's window is the smallest that holds the file (less memory for the browser
    /// that decodes it), never one too small: checked on the stream's header (RFC 7932 §9.1) and
    /// by the `brotli` tool, at each side of the window sizes' edges.
    @Test func brotliVariantsUseTheSmallestWindowThatHoldsTheFile() throws {
        func windowBits(_ stream: [UInt8]) -> Int {
            let bits = Int(stream[0]) | Int(stream[1]) << 8
            if bits & 1 == 0 { return 16 }
            let n = (bits >> 1) & 7
            if n != 0 { return 17 + n }
            let m = (bits >> 4) & 7
            return m == 0 ? 17 : 8 + m
        }
        var random = SystemRandomNumberGenerator()
        let words = (0..<512).map { _ in String((0..<Int.random(in: 2...9, using: &random)).map { _ in Character(UnicodeScalar(UInt8.random(in: 0x61...0x7a, using: &random))) }) }
        let text = Array((0..<200_000).map { _ in words.randomElement(using: &random)! }.joined(separator: " ").utf8)
        let cases = [(100, 10), (1008, 10), (1009, 11), (65_520, 16), (65_521, 17), (5 << 20, 23)]
        try withTemporaryDirectory { folder in
            for (count, expected) in cases {
                let input = Array(repeating: text, count: count / text.count + 1).flatMap { $0 }.prefix(count)
                let compressed = try Array(input).withUnsafeBytes { try VariantCompressor.compress($0, as: .br, level: 8, isText: true) }
                #expect(windowBits(compressed) == expected, "a file of \(count) bytes")
                let path = folder + "/\(count).br"
                try Data(compressed).write(to: URL(fileURLWithPath: path))
                let decoded = try run("/bin/sh", ["-c", "brotli -dc < \"$0\" | sha256sum", path])
                #expect(decoded.stdout.hasPrefix(sha256Hex(Array(input))), "a file of \(count) bytes")
            }
        }
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
            let index = try #require(manifest.files.first { $0.path == "index.html" })
            #expect(!variants.isEmpty && variants.allSatisfy { $0.hasPrefix(index.sha256 + ".") }, "\(variants)")
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

    /// Content whose variants were all decided by the last publish, kept or not, is not compressed
    /// again: incompressible bytes have no pooled variant to link, and used to be tried every time.
    @Test func contentTriedBeforeIsNotCompressedAgainEvenWhenNothingWasKept() throws {
        try withTemporaryDirectory { folder in
            var generator = SystemRandomNumberGenerator()
            let random = (0..<65_536).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let page = String(repeating: "<p>hello</p>", count: 100)
            let site = try makeSite(in: folder, name: "site", files: ["index.html": page, "app.js": String(repeating: "let a = 1;\n", count: 200)])
            try Data(random).write(to: URL(fileURLWithPath: site + "/noise.js"))
            let store = TestStore(in: folder)
            var gzipOnly = PublishRequest(source: site, label: "v1")
            gzipOnly.variants = VariantSettings(encodings: [.gzip], levels: .standard)
            let v1 = try store.publish(gzipOnly)
            #expect(v1.contentsCompressed == 3)

            // Asked for brotli too (the default): every content is compressed in it.
            try write(page + "<p>two</p>", to: site + "/index.html")
            let v2 = try store.publish(PublishRequest(source: site, label: "v2"))
            #expect(v2.contentsCompressed == 3)
            let noise = try #require(v2.manifest.files.first { $0.path == "noise.js" })
            #expect(noise.variantEncodings.isEmpty)

            // The same encodings again, one page changed: only that page is compressed.
            try write(page + "<p>three</p>", to: site + "/index.html")
            let v3 = try store.publish(PublishRequest(source: site, label: "v3"))
            #expect(v3.contentsCompressed == 1)
            let app = { (manifest: Manifest) in manifest.files.first { $0.path == "app.js" } }
            #expect(app(v3.manifest) == app(v2.manifest) && app(v3.manifest)?.br != nil)
            #expect(v3.manifest.files.first { $0.path == "noise.js" }?.variantEncodings.isEmpty == true)

            try write("small", to: site + "/tiny.txt")  // below the size variants are made for
            let shown = try strata(["publish", site, "--root", store.root, "--label", "v4"])
            #expect(shown.status == 0 && shown.stderr.contains("(0 compressed now)"), "\(shown.stderr)")
        }
    }

    /// A linked variant takes its digest from the newest release's manifest instead of being read
    /// again; the manifest must still describe the bytes the release holds, even when a pooled
    /// file no longer matches what was recorded (then it is hashed).
    @Test func linkedVariantsRecordTheDigestsOfTheBytesTheReleaseHolds() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let v1 = try store.publishFixture("aurora-v1")
            let vendor = try #require(try store.catalog.manifest(v1).files.first { entry in
                entry.br != nil && FileManager.default.contentsEqual(atPath: fixtures + "/aurora-v1/" + entry.path,
                                                                     andPath: fixtures + "/aurora-v2/" + entry.path)
            }, "a file v2 keeps, with a brotli variant")
            // Its pooled brotli variant replaced by other (valid) bytes of another size.
            let pooled = store.root + "/pool/" + vendor.sha256.prefix(2) + "/" + vendor.sha256 + ContentEncoding.br.fileSuffix
            let replacement = try run("/bin/sh", ["-c", "printf 'console.log(1)' | brotli -c > \"$0\".new && mv \"$0\".new \"$0\"", pooled])
            #expect(replacement.status == 0)

            let v2 = try store.publishFixture("aurora-v2")
            let manifest = try store.catalog.manifest(v2)
            var linked = 0
            for entry in manifest.files {
                for encoding in entry.variantEncodings {
                    let variant = try #require(entry[variant: encoding])
                    let bytes = try Data(contentsOf: URL(fileURLWithPath: variantPath(store.root, v2, entry, encoding)))
                    #expect(Int64(bytes.count) == variant.size, "\(encoding) \(entry.path)")
                    #expect(sha256Hex(Array(bytes)) == variant.sha256, "\(encoding) \(entry.path)")
                    if inode(variantPath(store.root, v2, entry, encoding)) == inode(variantPath(store.root, v1, entry, encoding)) { linked += 1 }
                }
            }
            #expect(linked >= 3, "the variants of the files v2 keeps are v1's files")
            let vendorInV2 = try #require(manifest.files.first { $0.sha256 == vendor.sha256 })
            #expect(vendorInV2.br != vendor.br, "the replaced pool file was hashed, not taken from v1's record")
            #expect(vendorInV2.gzip == vendor.gzip)
        }
    }

    @Test func verifyDecompressesVariantsAndCatchesDamage() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let id = try store.publishFixture("aurora-v1", variants: .everyEncoding)
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

            // A brotli and a zstd variant cut short: each stream's end is missing.
            let withZstd = try #require(manifest.files.first { $0.zstd != nil && $0.br != nil })
            for encoding in [ContentEncoding.br, .zstd] {
                let path = variantPath(store.root, id, withZstd, encoding)
                chmod(path, 0o644)
                let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
                try bytes.prefix(bytes.count - 3).write(to: URL(fileURLWithPath: path))
            }

            let problems = try Verifier().verify(releaseFolder: release).problems
            #expect(problems.map(\.kind) == [.variant, .variant, .variant, .variant])
            #expect(problems.contains { $0.detail == "gzip variant of 'assets/app.1ede997c.js': missing" })
            #expect(problems.contains { $0.detail.hasPrefix("gzip variant of 'index.html': ") })
            #expect(problems.contains { $0.detail.hasPrefix("br variant of '\(withZstd.path)': ") })
            #expect(problems.contains { $0.detail.hasPrefix("zstd variant of '\(withZstd.path)': ") })
        }
    }
}

import Foundation
@testable import StrataCore
import StrataTestSupport
import Testing

/// `ManifestWriter` must write every manifest byte for byte as `JSONEncoder` does: manifests are
/// signed, exported and compared as they are on disk.
@Suite struct ManifestWriterTests {
    static func expected(_ manifest: Manifest) throws -> [UInt8] {
        try Manifest.encodedByFoundation(manifest) + [0x0A]
    }

    @Test func writesWhatJSONEncoderWritesForRealManifests() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            for name in ["aurora-v1", "aurora-v2", "e2e-v1"] {
                let id = try store.publishFixture(name, variants: .everyEncoding)
                let manifest = try store.catalog.manifest(id)
                #expect(try ManifestWriter.encode(manifest) != nil, "written here, not by the fallback")
                #expect(try manifest.encoded() == Self.expected(manifest), "\(name)")
                #expect(try store.store.backend.manifestBytes(of: id) == Self.expected(manifest), "the bytes publish wrote")
            }
        }
    }

    /// A control character in a string: left to `JSONEncoder`, whose escapes it does not copy.
    @Test func leavesControlCharactersToJSONEncoder() throws {
        let manifest = ManifestParserTests.everyField
        #expect(try ManifestWriter.encode(manifest) == nil)
        #expect(try manifest.encoded() == Self.expected(manifest))
    }

    @Test func writesWhatJSONEncoderWritesForRandomManifests() throws {
        var random = SplitMix64(seed: 20261202)
        let pieces = ["a", "Z", "0", "/", "\"", "\\", " ", ".", "-", "\u{E9}", "\u{7F}", "\u{2028}", "\u{1F600}", "files", "\"files\" : [", "\n"]
        func text(_ length: Int, controls: Bool) -> String {
            (0..<length).map { _ in
                let piece = pieces.randomElement(using: &random)!
                return !controls && piece == "\n" ? "n" : piece
            }.joined()
        }
        var fastPaths = 0
        for round in 0..<300 {
            let controls = round % 10 == 9
            let entries = (0..<Int.random(in: 0...12, using: &random)).map { _ in
                var entry = Manifest.Entry(path: text(Int.random(in: 1...20, using: &random), controls: controls),
                                           size: Int64.random(in: -1_000...(Int64.max / 16), using: &random),  // their sum is the byteCount
                                           sha256: text(Int.random(in: 0...64, using: &random), controls: false),
                                           type: ["text/html", "image/png", "application/x-\u{E9}\"q\""].randomElement(using: &random)!)
                for encoding in ContentEncoding.allCases where Bool.random(using: &random) {
                    entry[variant: encoding] = Manifest.Variant(size: Int64.random(in: 0...Int64.max, using: &random),
                                                                sha256: text(Int.random(in: 0...8, using: &random), controls: false))
                }
                return entry
            }
            var manifest = Manifest(id: "0123456789abcdef", fingerprint: text(8, controls: false), created: "2026-12-02T07:00:00.000Z",
                                    label: Bool.random(using: &random) ? nil : text(5, controls: false),
                                    source: text(Int.random(in: 0...30, using: &random), controls: true),
                                    base: Bool.random(using: &random) ? nil : "fedcba9876543210", files: entries)
            if Bool.random(using: &random) { manifest.signature = "-----BEGIN SSH SIGNATURE-----\nU1NI\n-----END SSH SIGNATURE-----\n" }
            if Bool.random(using: &random) { manifest.variantEncodings = ContentEncoding.allCases.filter { _ in Bool.random(using: &random) } }
            if Bool.random(using: &random) { manifest.check = ManifestParserTests.everyField.check }
            if try ManifestWriter.encode(manifest) != nil { fastPaths += 1 }
            #expect(try manifest.encoded() == Self.expected(manifest), "round \(round)")
        }
        #expect(fastPaths > 200, "most rounds are written here, not by the fallback")
    }
}

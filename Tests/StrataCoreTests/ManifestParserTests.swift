import Foundation
@testable import StrataCore
import StrataTestSupport
import Testing

/// `ManifestParser` must read every manifest it takes exactly as `JSONDecoder` does, and leave the
/// rest to `JSONDecoder`: these compare the two on real, varied, hostile and mutated manifests.
@Suite struct ManifestParserTests {
    /// A manifest with every optional field set, and paths that need escapes.
    static var everyField: Manifest {
        let paths = ["a \"quoted\" name.txt", "back\\slash.css", "caf\u{E9}/men\u{FC}.html", "ctl\u{1}\u{1F}.js", "emoji-\u{1F600}.svg",
                     "index.html", "slash/in/path.js"]
        var entries = paths.map { Manifest.Entry(path: $0, size: Int64($0.utf8.count), sha256: sha256Hex(Array($0.utf8)), type: "text/html") }
        entries[0].gzip = Manifest.Variant(size: 3, sha256: String(repeating: "a", count: 64))
        entries[0].br = Manifest.Variant(size: 2, sha256: String(repeating: "b", count: 64))
        entries[2].zstd = Manifest.Variant(size: 1, sha256: String(repeating: "c", count: 64))
        var manifest = Manifest(id: "0123456789abcdef", fingerprint: String(repeating: "f", count: 64), created: "2026-12-02T07:00:00.000Z",
                                label: "v1.2-\u{E9}", source: "/src/\"dist\"", base: "fedcba9876543210", files: entries)
        manifest.signature = "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n"
        manifest.variantEncodings = [.gzip, .br, .zstd]
        manifest.check = ContentCheck(warnings: ["no index.html"], brokenReferences: [BrokenReference(file: "index.html", reference: "/x.png",
                                                                                                     resolved: "x.png")],
                                      referencesChecked: 7)
        return manifest
    }

    static func decodedByFoundation(_ bytes: [UInt8]) -> Manifest? {
        try? JSONDecoder().decode(Manifest.self, from: Data(bytes))
    }

    @Test func readsWhatPublishWritesAsJSONDecoderDoes() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            var documents = [try Self.everyField.encoded()]
            for name in ["aurora-v1", "aurora-v2", "e2e-v1"] {
                let id = try store.publishFixture(name)
                documents.append(try #require(try store.store.backend.manifestBytes(of: id)))
            }
            for bytes in documents {
                let expected = try JSONDecoder().decode(Manifest.self, from: Data(bytes))
                #expect(ManifestParser.manifest(bytes) == expected)
                #expect(ManifestParser.summary(bytes) == expected.summary)
                #expect(ManifestParser.contentCheck(bytes) == .some(expected.check))
            }
        }
    }

    /// The same document in other valid JSON: no whitespace, unknown keys, `null` for optional
    /// fields, escapes where none were needed, and codings this version does not know.
    @Test func readsValidVariationsAsJSONDecoderDoes() throws {
        let variations = [
            #"{"id":"0123456789abcdef","fingerprint":"ff","created":"t","source":"s","fileCount":1,"byteCount":5,"format":1,"#
                + #""files":[{"path":"a.js","size":5,"sha256":"00","type":"text/javascript","gzip":null,"br":{"size":2,"sha256":"11","x":[1,{"y":null}]}}]}"#,
            #"{ "future" : { "nested" : [ true, false, null, -0.5e+3, "\u00e9" ] }, "label" : null, "base" : null, "signature" : null, "#
                + #""check" : null, "variants" : [ "gzip", "lzma", "zstd" ], "id" : "0123456789abcdef", "fingerprint" : "ff", "created" : "t", "#
                + #""source" : "s", "fileCount" : 0, "byteCount" : 0, "format" : 1, "files" : [ ] }"#,
            #"{"\u0069d":"0123456789abcdef","fingerprint":"f\u0066","created":"\ud83d\ude00","source":"a\/b\"c\\d\b\f\n\r\t","#
                + #""fileCount":-1,"byteCount":9223372036854775807,"format":0,"files":[{"path":"\u00e9","size":-9223372036854775808,"#
                + #""sha256":"","type":"","zstd":{"sha256":"z","size":0}}],"check":{"warnings":[],"brokenReferences":[],"referencesChecked":0}}"#,
            " \t\r\n" + #"{"id":"i","fingerprint":"f","created":"c","source":"s","fileCount":0,"byteCount":0,"format":1,"files":[]}"# + " \n",
        ]
        for text in variations {
            let bytes = Array(text.utf8)
            let expected = try #require(Self.decodedByFoundation(bytes), "\(text)")
            #expect(ManifestParser.manifest(bytes) == expected, "\(text)")
            #expect(ManifestParser.summary(bytes) == expected.summary, "\(text)")
        }
    }

    /// What the parser leaves to `JSONDecoder`: whatever it decides, `Manifest.decode` decides the same.
    @Test func leavesEverythingElseToJSONDecoder() throws {
        let valid = #"{"id":"i","fingerprint":"f","created":"c","source":"s","fileCount":0,"byteCount":0,"format":1,"files":[]}"#
        let hostile: [(String, [UInt8])] = [
            ("a key twice", Array(valid.replacingOccurrences(of: #""id":"i""#, with: #""id":"i","id":"j""#).utf8)),
            ("a fraction", Array(valid.replacingOccurrences(of: #""format":1"#, with: #""format":1.0"#).utf8)),
            ("an exponent", Array(valid.replacingOccurrences(of: #""format":1"#, with: #""format":1e0"#).utf8)),
            ("a leading zero", Array(valid.replacingOccurrences(of: #""format":1"#, with: #""format":01"#).utf8)),
            ("an overflowing integer", Array(valid.replacingOccurrences(of: #""byteCount":0"#, with: #""byteCount":9223372036854775808"#).utf8)),
            ("a lone surrogate", Array(valid.replacingOccurrences(of: #""c""#, with: #""\ud800""#).utf8)),
            ("a bad escape", Array(valid.replacingOccurrences(of: #""c""#, with: #""\x41""#).utf8)),
            ("a raw control character", Array(valid.replacingOccurrences(of: #""c""#, with: "\"\u{1}\"").utf8)),
            ("invalid UTF-8", Array(valid.utf8).map { $0 == UInt8(ascii: "c") ? 0xC3 : $0 }),
            ("trailing bytes", Array((valid + "x").utf8)),
            ("two documents", Array((valid + valid).utf8)),
            ("truncated", Array(valid.utf8.dropLast())),
            ("a byte-order mark", [0xEF, 0xBB, 0xBF] + Array(valid.utf8)),
            ("a missing field", Array(valid.replacingOccurrences(of: #""source":"s","#, with: "").utf8)),
            ("a wrong type", Array(valid.replacingOccurrences(of: #""files":[]"#, with: #""files":{}"#).utf8)),
            ("a trailing comma", Array(valid.replacingOccurrences(of: "[]", with: "[1,]").utf8)),
            ("deep nesting", Array(valid.replacingOccurrences(of: "[]", with: String(repeating: "[", count: 300) + String(repeating: "]", count: 300)).utf8)),
            ("nothing", []),
            ("not an object", Array("[]".utf8)),
        ]
        for (what, bytes) in hostile {
            #expect(ManifestParser.manifest(bytes) == nil, "\(what)")
            let foundation = Self.decodedByFoundation(bytes)
            #expect((try? Manifest.decode(bytes, path: "m")) == foundation, "\(what)")
        }
    }

    /// Random mutations of a real manifest, from a fixed seed: whenever the parser takes one, it
    /// reads what `JSONDecoder` reads.
    @Test func agreesWithJSONDecoderOnMutatedManifests() throws {
        let original = try Self.everyField.encoded()
        let interesting = Array(#"{}[],:"\ 0123456789-+.eEtrufalsn/"#.utf8) + [0x00, 0x0A, 0x80, 0xC3, 0xFF]
        var generator = SplitMix64(seed: 0x5354_5241_5441)
        var taken = 0
        for _ in 0..<4_000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                let at = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<4, using: &generator) {
                case 0: bytes[at] = interesting.randomElement(using: &generator)!
                case 1: bytes.insert(interesting.randomElement(using: &generator)!, at: at)
                case 2: bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...6, using: &generator)))
                default:
                    let end = min(bytes.count, at + Int.random(in: 1...30, using: &generator))
                    bytes.insert(contentsOf: bytes[at..<end], at: end)
                }
                if bytes.isEmpty { bytes = original }
            }
            if let parsed = ManifestParser.manifest(bytes) {
                taken += 1
                #expect(parsed == Self.decodedByFoundation(bytes), "\(String(decoding: bytes, as: UTF8.self))")
            }
            if let summary = ManifestParser.summary(bytes) {
                #expect(summary == (try? JSONDecoder().decode(ReleaseSummary.self, from: Data(bytes))), "\(String(decoding: bytes, as: UTF8.self))")
            }
        }
        #expect(taken > 100)  // mutations inside strings and whitespace still parse: the comparison ran
    }
}

/// A seeded generator, so a failing mutation can be replayed.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

import Foundation
import SystemPackage

/// `releases/<id>/.strata/manifest.json`: what a release holds, and where it came from.
///
/// The release-level fields are a `ReleaseSummary`, reachable directly (`manifest.id`); on disk they
/// sit beside `format` and `files` in one flat JSON object.
@dynamicMemberLookup
public struct Manifest: Codable, Sendable, Equatable {
    public static let currentFormat = 1

    public var format: Int
    public var summary: ReleaseSummary
    public var files: [Entry]
    /// The content check computed at publish; nil for releases published before it was kept.
    public var check: ContentCheck?
    /// The publisher's SSH signature over the release's listing (`ReleaseSignature`); nil when unsigned.
    public var signature: String?
    /// The encodings variants were tried in at publish (`--variants`), so a reader that makes its
    /// own (a serve node) tries the same ones; nil for releases published before brotli and zstd,
    /// which tried gzip alone. Codings this version does not know are left out when read.
    public var variantEncodings: [ContentEncoding]?

    public subscript<Value>(dynamicMember field: WritableKeyPath<ReleaseSummary, Value>) -> Value {
        get { summary[keyPath: field] }
        set { summary[keyPath: field] = newValue }
    }

    public struct Entry: Codable, Sendable, Equatable {
        public var path: String
        public var size: Int64
        public var sha256: String
        /// Media type, without parameters (`text/html`); the server adds `charset` for text.
        public var type: String
        /// The precompressed copies, when one was worth keeping (see `VariantRule`).
        public var gzip: Variant?
        public var br: Variant?
        public var zstd: Variant?

        public init(path: String, size: Int64, sha256: String, type: String, gzip: Variant? = nil) {
            self.path = path
            self.size = size
            self.sha256 = sha256
            self.type = type
            self.gzip = gzip
        }

        /// Where each coding's variant is kept: three fields, so the JSON keys stay `gzip`, `br`, `zstd`.
        private static var variantFields: EncodingTable<WritableKeyPath<Entry, Variant?>> {
            EncodingTable(gzip: \.gzip, br: \.br, zstd: \.zstd)
        }

        public subscript(variant encoding: ContentEncoding) -> Variant? {
            get { self[keyPath: Self.variantFields[encoding]] }
            set { self[keyPath: Self.variantFields[encoding]] = newValue }
        }

        /// The encodings it has a variant in.
        public var variantEncodings: [ContentEncoding] { ContentEncoding.allCases.filter { self[variant: $0] != nil } }

        /// The same file without variants.
        public var withoutVariants: Entry {
            var entry = self
            entry.gzip = nil
            entry.br = nil
            entry.zstd = nil
            return entry
        }
    }

    /// A compressed copy of a file, stored at `ReleaseLayout.variant(of:_:)`.
    public struct Variant: Codable, Sendable, Equatable {
        /// Size and SHA-256 of the compressed bytes (its own ETag, distinct from the file's).
        public var size: Int64
        public var sha256: String

        public init(size: Int64, sha256: String) {
            self.size = size
            self.sha256 = sha256
        }
    }

    public init(id: String, fingerprint: String, created: String, label: String?, source: String, base: String? = nil,
                files: [Entry]) {
        format = Self.currentFormat
        summary = ReleaseSummary(id: id, fingerprint: fingerprint, created: created, label: label, source: source, base: base,
                                 fileCount: files.count, byteCount: files.reduce(0) { $0 + $1.size })
        self.files = files
    }

    private enum CodingKeys: String, CodingKey {
        case format, files, check, signature
        case variantEncodings = "variants"
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        format = try container.decode(Int.self, forKey: .format)
        files = try container.decode([Entry].self, forKey: .files)
        check = try container.decodeIfPresent(ContentCheck.self, forKey: .check)
        signature = try container.decodeIfPresent(String.self, forKey: .signature)
        variantEncodings = try container.decodeIfPresent([String].self, forKey: .variantEncodings)?.compactMap(ContentEncoding.init(rawValue:))
        summary = try ReleaseSummary(from: decoder)
    }

    public func encode(to encoder: Encoder) throws {
        try summary.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(format, forKey: .format)
        try container.encode(files, forKey: .files)
        try container.encodeIfPresent(check, forKey: .check)
        try container.encodeIfPresent(signature, forKey: .signature)
        try container.encodeIfPresent(variantEncodings, forKey: .variantEncodings)
    }

    /// The manifest's bytes on disk: pretty-printed JSON with sorted keys, and a newline.
    public func encoded() throws -> [UInt8] {
        (try ManifestWriter.encode(self) ?? Self.encodedByFoundation(self)) + [0x0A]
    }

    /// What `encoded` writes, all of it through `JSONEncoder` (and without the newline).
    static func encodedByFoundation(_ manifest: Manifest) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(manifest))
    }

    public static func decode(_ bytes: [UInt8], path: String) throws -> Manifest {
        if let manifest = ManifestParser.manifest(bytes) { return manifest }
        do {
            return try JSONDecoder().decode(Manifest.self, from: Data(bytes))
        } catch {
            throw StrataError(.corrupt, "manifest '\(path)' cannot be read: \(error)")
        }
    }

    public static func load(_ path: FilePath) throws -> Manifest {
        guard let bytes = try FileSystem.readFile(path) else {
            throw StrataError(.notFound, "manifest '\(path)' is missing")
        }
        return try decode(bytes, path: path.string)
    }
}

/// A release as listings, reports and the server know it: the manifest's release-level fields,
/// without the file list. Decoding only these from a manifest keeps lookups by label cheap.
public struct ReleaseSummary: Codable, Sendable, Equatable {
    /// First 16 hex digits of `fingerprint`; the release folder's name.
    public var id: String
    /// SHA-256 over the canonical listing (see `Fingerprint`).
    public var fingerprint: String
    /// When the release was published (UTC, `Timestamp` format).
    public var created: String
    public var label: String?
    /// The folder or archive it was published from.
    public var source: String
    /// For a patch release: the release it was made from (`publish --base`).
    public var base: String?
    public var fileCount: Int
    public var byteCount: Int64
}

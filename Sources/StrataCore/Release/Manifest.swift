import Foundation

/// `releases/<id>/.strata/manifest.json`: what a release holds, and where it came from.
public struct Manifest: Codable, Sendable, Equatable {
    public static let currentFormat = 1

    public var format: Int
    /// First 16 hex digits of `fingerprint`; the release folder's name.
    public var id: String
    /// SHA-256 over the canonical listing (see `Fingerprint`).
    public var fingerprint: String
    /// When the release was published (UTC, `Timestamp` format).
    public var created: String
    public var label: String?
    /// The folder (or, later, archive) it was published from.
    public var source: String
    /// For a patch release: the release it was made from (`publish --base`).
    public var base: String?
    public var fileCount: Int
    public var byteCount: Int64
    public var files: [Entry]

    public struct Entry: Codable, Sendable, Equatable {
        public var path: String
        public var size: Int64
        public var sha256: String
        /// Media type, without parameters (`text/html`); the server adds `charset` for text.
        public var type: String
        /// The precompressed gzip copy, when one was worth keeping (see `VariantBuilder`).
        public var gzip: Variant?

        public init(path: String, size: Int64, sha256: String, type: String, gzip: Variant? = nil) {
            self.path = path
            self.size = size
            self.sha256 = sha256
            self.type = type
            self.gzip = gzip
        }
    }

    /// A compressed copy of a file, stored at `ReleaseLayout.gzipVariant(of:)`.
    public struct Variant: Codable, Sendable, Equatable {
        /// Size and SHA-256 of the compressed bytes (its own ETag, distinct from the file's).
        public var size: Int64
        public var sha256: String
    }

    public init(id: String, fingerprint: String, created: String, label: String?, source: String, base: String? = nil,
                files: [Entry]) {
        self.format = Self.currentFormat
        self.id = id
        self.fingerprint = fingerprint
        self.created = created
        self.label = label
        self.source = source
        self.base = base
        self.fileCount = files.count
        self.byteCount = files.reduce(0) { $0 + $1.size }
        self.files = files
    }

    func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(self)) + [0x0A]
    }

    static func decode(_ bytes: [UInt8], path: String) throws -> Manifest {
        do {
            return try JSONDecoder().decode(Manifest.self, from: Data(bytes))
        } catch {
            throw StrataError(.corrupt, "manifest '\(path)' cannot be read: \(error)")
        }
    }

    static func load(_ path: String) throws -> Manifest {
        guard let bytes = try FileSystem.readFile(path) else {
            throw StrataError(.notFound, "manifest '\(path)' is missing")
        }
        return try decode(bytes, path: path)
    }
}

/// The release-level fields of a manifest, without the file list: what listings need.
public struct ReleaseSummary: Codable, Sendable, Equatable {
    public var id: String
    public var fingerprint: String
    public var created: String
    public var label: String?
    public var source: String
    public var base: String?
    public var fileCount: Int
    public var byteCount: Int64

    init(_ manifest: Manifest) {
        id = manifest.id
        fingerprint = manifest.fingerprint
        created = manifest.created
        label = manifest.label
        source = manifest.source
        base = manifest.base
        fileCount = manifest.fileCount
        byteCount = manifest.byteCount
    }
}

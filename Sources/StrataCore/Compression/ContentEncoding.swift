/// The content codings Strata keeps precompressed variants in, as HTTP names them
/// (`Content-Encoding`, `Accept-Encoding`). Identity, the file's own bytes, is not one of them.
public enum ContentEncoding: String, CaseIterable, Codable, Sendable, Comparable {
    case gzip
    case br
    case zstd

    /// The coding's name in `Content-Encoding`.
    public var token: String { rawValue }

    /// What a variant file's name ends with: `<sha256>.gz`, `.br`, `.zst` (the tools' own suffixes).
    public var fileSuffix: String {
        switch self {
        case .gzip: ".gz"
        case .br: ".br"
        case .zstd: ".zst"
        }
    }

    /// Its place in fixed-size tables (the server's per-file variants).
    public var number: Int {
        switch self {
        case .gzip: 0
        case .br: 1
        case .zstd: 2
        }
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.number < rhs.number }

    /// `gzip,br,zstd` (any order, no repeats) as a set; `none` or an empty list for no variants.
    /// Throws one line naming what is not a coding.
    public static func list(_ text: String) throws -> [ContentEncoding] {
        let names = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: " ") }
        if names == ["none"] || names == [""] { return [] }
        var chosen: [ContentEncoding] = []
        for name in names {
            guard let encoding = ContentEncoding(rawValue: name.lowercased()) ?? (name.lowercased() == "brotli" ? .br : nil) else {
                throw StrataError(.invalidInput, "'\(name)' is not a variant encoding (choose from gzip, br, zstd, or none)")
            }
            guard !chosen.contains(encoding) else {
                throw StrataError(.invalidInput, "'\(name)' is named twice in the variant list")
            }
            chosen.append(encoding)
        }
        return chosen.sorted()
    }
}

/// One value per content coding (levels, a file's variants), kept inline: no dictionary, no array.
public struct EncodingTable<Value> {
    public var gzip: Value
    public var br: Value
    public var zstd: Value

    public init(gzip: Value, br: Value, zstd: Value) {
        self.gzip = gzip
        self.br = br
        self.zstd = zstd
    }

    public subscript(encoding: ContentEncoding) -> Value {
        get {
            switch encoding {
            case .gzip: gzip
            case .br: br
            case .zstd: zstd
            }
        }
        set {
            switch encoding {
            case .gzip: gzip = newValue
            case .br: br = newValue
            case .zstd: zstd = newValue
            }
        }
    }
}

extension EncodingTable: Sendable where Value: Sendable {}
extension EncodingTable: Equatable where Value: Equatable {}

private extension Substring {
    func trimmingCharacters(in character: Character) -> String {
        String(drop { $0 == character }.reversed().drop { $0 == character }.reversed())
    }
}

import Foundation

/// Reads manifests with `JSONCursor` instead of `JSONDecoder`. A 5,000-file manifest is 2 MB;
/// `JSONDecoder` took about 30 ms over it, and `activate`, a publish and a server loading a release
/// each read one several times.
///
/// Each function answers nil when the document is not plain JSON of the manifest's shape; the
/// caller then decodes it with `JSONDecoder`, so what a corrupt or unusual manifest gets (its error
/// message, or a value) is what it got before. Field by field this follows `Manifest.init(from:)`
/// and the synthesized `Codable` of its parts: unknown keys are skipped, `null` is absence for an
/// optional field, and codings this version does not know are left out of `variants`.
enum ManifestParser {
    static func manifest(_ bytes: [UInt8]) -> Manifest? {
        guard let fields = read(bytes, keeping: .everything), let summary = fields.summary,
              let format = fields.format, let files = fields.files else { return nil }
        var manifest = Manifest(id: summary.id, fingerprint: summary.fingerprint, created: summary.created, label: summary.label,
                                source: summary.source, base: summary.base, files: files)
        manifest.format = Int(format)
        manifest.summary = summary
        manifest.check = fields.check ?? nil
        manifest.signature = fields.signature
        manifest.variantEncodings = fields.variants
        return manifest
    }

    /// The release-level fields alone; the file list is checked and skipped.
    static func summary(_ bytes: [UInt8]) -> ReleaseSummary? {
        read(bytes, keeping: .summary)?.summary
    }

    /// The kept content check: `.some(nil)` for a manifest without one.
    static func contentCheck(_ bytes: [UInt8]) -> ContentCheck?? {
        guard let fields = read(bytes, keeping: .check) else { return nil }
        return .some(fields.check ?? nil)
    }

    // MARK: - The top-level object

    private enum Keeping {
        case everything, summary, check
    }

    /// What the top-level object held; nil fields were absent (or `null` where that means absent).
    private struct Fields {
        var id, fingerprint, created, label, source, base, signature: String?
        var fileCount, byteCount, format: Int64?
        var files: [Manifest.Entry]?
        var check: ContentCheck??
        var variants: [ContentEncoding]?

        var summary: ReleaseSummary? {
            guard let id, let fingerprint, let created, let source, let fileCount, let byteCount,
                  let count = Int(exactly: fileCount) else { return nil }
            return ReleaseSummary(id: id, fingerprint: fingerprint, created: created, label: label, source: source, base: base,
                                  fileCount: count, byteCount: byteCount)
        }
    }

    private static func read(_ bytes: [UInt8], keeping: Keeping) -> Fields? {
        bytes.withUnsafeBufferPointer { buffer in
            var cursor = JSONCursor(buffer)
            var fields = Fields()
            var seen = Set<String>()
            let isObject = cursor.object { cursor, key in
                // A key given twice is left to JSONDecoder, whichever of the two it takes.
                guard seen.insert(key).inserted else { return false }
                return member(key, of: &fields, from: &cursor, keeping: keeping)
            }
            return isObject && cursor.isAtEnd() ? fields : nil
        }
    }

    private static func member(_ key: String, of fields: inout Fields, from cursor: inout JSONCursor, keeping: Keeping) -> Bool {
        switch key {
        case "id": return required(&fields.id, cursor.string())
        case "fingerprint": return required(&fields.fingerprint, cursor.string())
        case "created": return required(&fields.created, cursor.string())
        case "source": return required(&fields.source, cursor.string())
        case "label": return optional(&fields.label, &cursor) { $0.string() }
        case "base": return optional(&fields.base, &cursor) { $0.string() }
        case "fileCount": return required(&fields.fileCount, cursor.integer())
        case "byteCount": return required(&fields.byteCount, cursor.integer())
        case "format": return required(&fields.format, cursor.integer())
        case "signature": return optional(&fields.signature, &cursor) { $0.string() }
        case "variants": return optional(&fields.variants, &cursor, encodings)
        case "files" where keeping == .everything: return required(&fields.files, entries(&cursor))
        case "check" where keeping != .summary:
            if cursor.null() {
                fields.check = .some(nil)
                return true
            }
            guard let raw = cursor.rawValue(), let check = try? JSONDecoder().decode(ContentCheck.self, from: Data(raw)) else { return false }
            fields.check = .some(check)
            return true
        default:
            return cursor.skipValue()
        }
    }

    // MARK: - Values

    private static func required<Value>(_ field: inout Value?, _ value: Value?) -> Bool {
        field = value
        return value != nil
    }

    /// A field that `null` or absence leaves nil.
    private static func optional<Value>(_ field: inout Value?, _ cursor: inout JSONCursor, _ read: (inout JSONCursor) -> Value?) -> Bool {
        if cursor.null() { return true }
        return required(&field, read(&cursor))
    }

    private static func encodings(_ cursor: inout JSONCursor) -> [ContentEncoding]? {
        var names: [ContentEncoding] = []
        let isArray = cursor.array { cursor in
            guard let name = cursor.string() else { return false }
            if let encoding = ContentEncoding(rawValue: name) { names.append(encoding) }
            return true
        }
        return isArray ? names : nil
    }

    private static func entries(_ cursor: inout JSONCursor) -> [Manifest.Entry]? {
        var entries: [Manifest.Entry] = []
        let isArray = cursor.array { cursor in
            guard let entry = entry(&cursor) else { return false }
            entries.append(entry)
            return true
        }
        return isArray ? entries : nil
    }

    private static func entry(_ cursor: inout JSONCursor) -> Manifest.Entry? {
        var path, sha256, type: String?
        var size: Int64?
        var variants = EncodingTable<Manifest.Variant?>(gzip: nil, br: nil, zstd: nil)
        var seen: UInt8 = 0
        let isObject = cursor.object { cursor, key in
            let bit: UInt8
            switch key {
            case "path": bit = 1
            case "size": bit = 2
            case "sha256": bit = 4
            case "type": bit = 8
            case "gzip": bit = 16
            case "br": bit = 32
            case "zstd": bit = 64
            default: return cursor.skipValue()
            }
            guard seen & bit == 0 else { return false }
            seen |= bit
            switch key {
            case "path": return required(&path, cursor.string())
            case "size": return required(&size, cursor.integer())
            case "sha256": return required(&sha256, cursor.string())
            case "type": return required(&type, cursor.string())
            default:
                let encoding = ContentEncoding(rawValue: key)!
                return optional(&variants[encoding], &cursor, variant)
            }
        }
        guard isObject, let path, let size, let sha256, let type else { return nil }
        var entry = Manifest.Entry(path: path, size: size, sha256: sha256, type: type)
        for encoding in ContentEncoding.allCases { entry[variant: encoding] = variants[encoding] }
        return entry
    }

    private static func variant(_ cursor: inout JSONCursor) -> Manifest.Variant? {
        var size: Int64?
        var sha256: String?
        let isObject = cursor.object { cursor, key in
            switch key {
            case "size": return size == nil && required(&size, cursor.integer())
            case "sha256": return sha256 == nil && required(&sha256, cursor.string())
            default: return cursor.skipValue()
            }
        }
        guard isObject, let size, let sha256 else { return nil }
        return Manifest.Variant(size: size, sha256: sha256)
    }
}

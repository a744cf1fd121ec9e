/// Writes a manifest's bytes exactly as `JSONEncoder` (pretty-printed, sorted keys, slashes kept)
/// writes them, without building an encoder's tree for every file: a 5,000-file manifest took
/// about 50 ms on one core at the end of every publish, while the other core waited.
///
/// The release-level fields (a few, of many types) still go through `JSONEncoder`, with an empty
/// file list; the list is written here and put in its place. A string that would need an escape
/// other than `\"` and `\\` (a control character, which the path rules refuse anyway) makes it
/// return nil, and the caller encodes the whole manifest with `JSONEncoder`.
enum ManifestWriter {
    static func encode(_ manifest: Manifest) throws -> [UInt8]? {
        var head = manifest
        head.files = []
        let skeleton = try Manifest.encodedByFoundation(head)
        guard !manifest.files.isEmpty else { return skeleton }
        // A string value cannot hold a raw newline, so this is the key and not text inside a value.
        let marker = Array("\n  \"files\" : [\n\n  ]".utf8)
        guard let start = find(marker, in: skeleton) else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(skeleton.count + manifest.files.count * 400)
        out.append(contentsOf: skeleton[..<start])
        out.append(contentsOf: "\n  \"files\" : [\n".utf8)
        for (number, entry) in manifest.files.enumerated() {
            if number > 0 { out.append(contentsOf: ",\n".utf8) }
            guard write(entry, into: &out) else { return nil }
        }
        out.append(contentsOf: "\n  ]".utf8)
        out.append(contentsOf: skeleton[(start + marker.count)...])
        return out
    }

    /// One entry at the list's depth, its keys in sorted order: br, gzip, path, sha256, size, type, zstd.
    private static func write(_ entry: Manifest.Entry, into out: inout [UInt8]) -> Bool {
        out.append(contentsOf: "    {\n".utf8)
        var first = true
        func key(_ name: String) {
            if !first { out.append(contentsOf: ",\n".utf8) }
            first = false
            out.append(contentsOf: "      \"".utf8)
            out.append(contentsOf: name.utf8)
            out.append(contentsOf: "\" : ".utf8)
        }
        func string(_ value: String) -> Bool {
            out.append(UInt8(ascii: "\""))
            for byte in value.utf8 {
                if byte < 0x20 { return false }
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
                out.append(byte)
            }
            out.append(UInt8(ascii: "\""))
            return true
        }
        func number(_ value: Int64) {
            out.append(contentsOf: String(value).utf8)
        }
        func variant(_ name: String, _ variant: Manifest.Variant?) -> Bool {
            guard let variant else { return true }
            key(name)
            out.append(contentsOf: "{\n        \"sha256\" : ".utf8)
            guard string(variant.sha256) else { return false }
            out.append(contentsOf: ",\n        \"size\" : ".utf8)
            number(variant.size)
            out.append(contentsOf: "\n      }".utf8)
            return true
        }
        guard variant("br", entry.br), variant("gzip", entry.gzip) else { return false }
        key("path")
        guard string(entry.path) else { return false }
        key("sha256")
        guard string(entry.sha256) else { return false }
        key("size")
        number(entry.size)
        key("type")
        guard string(entry.type), variant("zstd", entry.zstd) else { return false }
        out.append(contentsOf: "\n    }".utf8)
        return true
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return start }
        }
        return nil
    }
}

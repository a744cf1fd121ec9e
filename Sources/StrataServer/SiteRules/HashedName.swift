/// Recognises file names that carry a content hash, as real build tools write them, so they can be
/// cached forever on channel URLs and found in older releases after a flip:
///
/// | tool | example |
/// |---|---|
/// | webpack, Create React App, Docusaurus, Parcel | `main.3f9a12c4.js`, `2.4f9d3b1a.chunk.js`, `runtime~main.a8b3c1d2.js` |
/// | Vite / Rollup (8 characters of base64url) | `index-BkT3a9xQ.js`, `vendor-DiwrgTda.js`, `index-Cq-8bTzK.css` |
/// | esbuild (8 of base32) | `chunk-5FJK2L7Q.js`, `index-WQCHZVAT.css` |
/// | Angular (16 hex) | `main.8a2b4c6d8e0f1a3b.js` |
/// | MkDocs Material, Hugo | `bundle.a5f9d56c.min.js`, `main.min.<64 hex>.css` |
/// | source maps, licences | `main.3f9a12c4.js.map`, `main.3f9a12c4.js.LICENSE.txt` |
/// | Next.js, SvelteKit | everything under `/_next/static/`, `/_app/immutable/` |
///
/// Version numbers (`jquery-3.7.1.min.js`), words (`bootstrap.bundle.min.js`), dates
/// (`2024-report.pdf`) and HTML pages never qualify. Works on UTF-8 bytes, so a request path is
/// checked without making a `String`.
enum HashedName {
    static func matches<Path: BidirectionalCollection<UInt8>>(_ path: Path) -> Bool where Path.SubSequence == Path {
        if path.starts(with: "_next/static/".utf8) || path.starts(with: "_app/immutable/".utf8) { return true }
        let nameStart = path.lastIndex(of: UInt8(ascii: "/")).map { path.index(after: $0) } ?? path.startIndex
        var name = path[nameStart...]
        for suffix in [".map", ".LICENSE.txt"] where name.count > suffix.utf8.count && name.reversed().starts(with: suffix.utf8.reversed()) {
            name = name.dropLast(suffix.utf8.count)
        }
        guard let dot = name.lastIndex(of: UInt8(ascii: ".")), dot != name.startIndex else { return false }
        let extensionBytes = name[name.index(after: dot)...]
        if extensionBytes.elementsEqual("html".utf8) || extensionBytes.elementsEqual("htm".utf8) { return false }
        var stem = name[..<dot]
        // Qualifiers some tools put after the hash.
        for qualifier in [".min", ".chunk"] where stem.reversed().starts(with: qualifier.utf8.reversed()) {
            stem = stem.dropLast(qualifier.utf8.count)
        }
        if let separator = stem.lastIndex(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }),
           isHashToken(stem[stem.index(after: separator)...]) {
            return true
        }
        // Vite's base64url hash may itself hold `-` or `_`: take the last 8 characters after a `-`.
        if stem.count >= 9 {
            let hash = stem.suffix(8)
            if stem[stem.index(before: hash.startIndex)] == UInt8(ascii: "-"), isBase64URLHash(hash) { return true }
        }
        return false
    }

    /// A token after `.` or `-`: 8+ letters and digits mixing both, 16+ hex digits, or esbuild's
    /// 8 characters of upper-case base32.
    private static func isHashToken<Token: Collection<UInt8>>(_ token: Token) -> Bool {
        guard token.count >= 8 else { return false }
        var digits = 0, letters = 0, hex = 0, base32 = 0
        for byte in token {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                digits += 1; hex += 1
                if byte >= UInt8(ascii: "2") && byte <= UInt8(ascii: "7") { base32 += 1 }
            case UInt8(ascii: "a")...UInt8(ascii: "f"): letters += 1; hex += 1
            case UInt8(ascii: "g")...UInt8(ascii: "z"): letters += 1
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): letters += 1; base32 += 1
            default: return false
            }
        }
        return (digits > 0 && letters > 0) || (hex == token.count && token.count >= 16) || (token.count == 8 && base32 == 8)
    }

    /// 8 characters of base64url that do not read as a word: a digit among letters, an upper-case
    /// letter after the first character, or `-`/`_` among letters.
    private static func isBase64URLHash<Hash: Collection<UInt8>>(_ hash: Hash) -> Bool {
        var digits = 0, lower = 0, innerUpper = 0, marks = 0, position = 0
        for byte in hash {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits += 1
            case UInt8(ascii: "a")...UInt8(ascii: "z"): lower += 1
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): if position > 0 { innerUpper += 1 }
            case UInt8(ascii: "-"), UInt8(ascii: "_"): marks += 1
            default: return false
            }
            position += 1
        }
        let letters = 8 - digits - marks
        return (digits > 0 && letters > 0) || (innerUpper > 0 && lower > 0) || (marks > 0 && letters > 0)
    }
}

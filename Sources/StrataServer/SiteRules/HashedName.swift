/// Recognises file names that carry a content hash, as bundlers write them: `app.3f9a12c4.js`,
/// `chunk-5FJK2L7Q.js`, `index-BkT3a9xQ.css`, `logo.b56bc6af.svg`. The rule: the part of the name
/// before its extension ends in a token of 8 or more letters and digits (`_` too), after a `.`
/// or `-`, that holds at least one digit and one letter — version numbers and words do not qualify.
/// Works on UTF-8 bytes, so a request path is checked without making a `String`.
enum HashedName {
    static func matches<Path: BidirectionalCollection<UInt8>>(_ path: Path) -> Bool {
        let nameStart = path.lastIndex(of: UInt8(ascii: "/")).map { path.index(after: $0) } ?? path.startIndex
        let name = path[nameStart...]
        guard let dot = name.lastIndex(of: UInt8(ascii: ".")), dot != name.startIndex else { return false }
        let stem = name[..<dot]
        guard let separator = stem.lastIndex(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }) else { return false }
        let token = stem[stem.index(after: separator)...]
        guard token.count >= 8 else { return false }
        var digits = 0
        var letters = 0
        for byte in token {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits += 1
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): letters += 1
            case UInt8(ascii: "_"): break
            default: return false
            }
        }
        return digits > 0 && letters > 0
    }
}

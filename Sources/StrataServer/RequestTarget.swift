/// The path of a request, decoded once and checked, or the reason it is refused with 400.
///
/// Percent-escapes are decoded exactly once. Refused: anything but an origin-form target, bad
/// escapes, NUL and other control characters, `.` and `..` segments (literal or encoded), backslashes
/// (literal or encoded), encoded slashes, invalid UTF-8. What remains can only name a manifest entry.
struct RequestTarget: Equatable {
    /// Decoded, non-empty segments.
    let segments: [String]
    /// The path ended with `/` (or was `/`): a folder, whose `index.html` is meant.
    let isFolder: Bool
    /// The raw query, without `?`, kept for redirects.
    let query: Substring?

    struct Refusal: Error, Equatable {
        let reason: String
        init(_ reason: String) { self.reason = reason }
    }

    static func parse(_ uri: String) throws(Refusal) -> RequestTarget {
        var raw = Substring(uri)
        if let hash = raw.firstIndex(of: "#") { raw = raw[..<hash] }
        var query: Substring?
        if let mark = raw.firstIndex(of: "?") {
            query = raw[raw.index(after: mark)...]
            raw = raw[..<mark]
        }
        guard raw.first == "/" else { throw Refusal("the request target must be a path starting with /") }

        let pieces = raw.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true)
        var segments: [String] = []
        segments.reserveCapacity(pieces.count)
        for piece in pieces {
            segments.append(try decode(piece))
        }
        return RequestTarget(segments: segments, isFolder: raw.hasSuffix("/"), query: query)
    }

    private static func decode(_ piece: Substring.UTF8View.SubSequence) throws(Refusal) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(piece.count)
        var index = piece.startIndex
        while index < piece.endIndex {
            var byte = piece[index]
            if byte == UInt8(ascii: "%") {
                let first = piece.index(after: index)
                guard first < piece.endIndex, piece.index(after: first) < piece.endIndex,
                      let high = hexValue(piece[first]), let low = hexValue(piece[piece.index(after: first)]) else {
                    throw Refusal("bad percent-escape in the path")
                }
                byte = high << 4 | low
                if byte == UInt8(ascii: "/") { throw Refusal("encoded slash in the path") }
                index = piece.index(index, offsetBy: 3)
            } else {
                index = piece.index(after: index)
            }
            if byte < 0x20 || byte == 0x7F { throw Refusal("control character in the path") }
            if byte == UInt8(ascii: "\\") { throw Refusal("backslash in the path") }
            bytes.append(byte)
        }
        if bytes == [0x2E] || bytes == [0x2E, 0x2E] { throw Refusal("'.' or '..' segment in the path") }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw Refusal("the path is not valid UTF-8") }
        return text
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

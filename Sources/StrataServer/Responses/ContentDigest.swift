/// A SHA-256 as four words: keys in-memory bodies without a 64-character `String`.
struct ContentDigest: Hashable, Sendable {
    private let words: (UInt64, UInt64, UInt64, UInt64)

    /// From 64 lowercase hex digits (as manifests write them); nil for anything else.
    init?(hex: String) {
        let digits = Array(hex.utf8)
        guard digits.count == 64 else { return nil }
        var words: [UInt64] = []
        for word in 0..<4 {
            var value: UInt64 = 0
            for digit in digits[(word * 16)..<(word * 16 + 16)] {
                guard let nibble = Self.nibble(digit) else { return nil }
                value = value << 4 | UInt64(nibble)
            }
            words.append(value)
        }
        self.words = (words[0], words[1], words[2], words[3])
    }

    var hex: String {
        [words.0, words.1, words.2, words.3].map { word in
            let text = String(word, radix: 16)
            return String(repeating: "0", count: 16 - text.utf8.count) + text
        }.joined()
    }

    static func == (lhs: ContentDigest, rhs: ContentDigest) -> Bool {
        lhs.words == rhs.words
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)  // already uniformly distributed
        hasher.combine(words.1)
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}

import StrataCore

/// Which of a channel's two releases a visitor gets while a canary is under way.
///
/// Each visitor carries a random value in the `strata-bucket` cookie, given on its first channel
/// request during a canary. Its bucket for a canary is a hash of that value and the canary's
/// release id, 0–9,999: it sees the canary while the bucket is below `percent × 100`. The same
/// value and release always give the same bucket, so widening only moves visitors from stable to
/// canary; a new canary release draws a fresh set of visitors rather than the same unlucky ones.
/// The `strata-release` cookie (`canary` or `stable`) overrides the bucket, for testers.
enum CanarySplit {
    static let bucketCookie = "strata-bucket"
    static let forceCookie = "strata-release"
    /// A year: a visitor keeps its bucket across rollouts.
    static let cookieLifetime = 31_536_000

    struct Assignment: Equatable {
        let canary: Bool
        /// The `Set-Cookie` value a new visitor gets; nil when it has a bucket (or forced a side).
        let newCookie: String?
    }

    static func assign(cookieHeader: String?, canary: Canary) -> Assignment {
        var value: Substring?
        if let cookieHeader {
            for pair in cookieHeader.split(separator: ";") {
                let pair = pair.drop { $0 == " " || $0 == "\t" }
                guard let equals = pair.firstIndex(of: "=") else { continue }
                let name = pair[..<equals]
                let content = pair[pair.index(after: equals)...].prefix { $0 != " " && $0 != "\t" }
                if name == forceCookie {
                    if content == "canary" { return Assignment(canary: true, newCookie: nil) }
                    if content == "stable" { return Assignment(canary: false, newCookie: nil) }
                } else if name == bucketCookie, isVisitorValue(content) {
                    value = content
                }
            }
        }
        if let value { return Assignment(canary: isCanary(value, canary), newCookie: nil) }
        let fresh = newVisitorValue()
        return Assignment(canary: isCanary(fresh[...], canary),
                          newCookie: "\(bucketCookie)=\(fresh); Path=/; Max-Age=\(cookieLifetime); SameSite=Lax; HttpOnly")
    }

    static func isCanary(_ value: Substring, _ canary: Canary) -> Bool {
        bucket(value, release: canary.release) < canary.percent * 100
    }

    /// 0–9,999: FNV-1a over the value and the release id, then a 64-bit finalizer (splitmix64's)
    /// so every bit of the hash counts before the remainder.
    static func bucket(_ value: Substring, release: String) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in value.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        hash = (hash ^ 0x2F) &* 0x100_0000_01b3  // a separator: "ab"+"c" and "a"+"bc" differ
        for byte in release.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        hash = (hash ^ (hash >> 30)) &* 0xbf58_476d_1ce4_e5b9
        hash = (hash ^ (hash >> 27)) &* 0x94d0_49bb_1331_11eb
        hash ^= hash >> 31
        return Int(hash % 10_000)
    }

    /// 16 lowercase hex digits from the system's random source.
    static func newVisitorValue() -> String {
        let number = UInt64.random(in: .min ... .max)
        let hex = String(number, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    static func isVisitorValue(_ value: Substring) -> Bool {
        value.utf8.count == 16 && value.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }
}

/// How a channel answer speaks of a canary split: kept out of shared caches (`private`), and a
/// new visitor's bucket cookie.
struct SplitAnswer {
    let setCookie: String?
}

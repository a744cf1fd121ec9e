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

    /// Read over the header's bytes in place: a returning visitor costs no allocation.
    static func assign(cookieHeader: String?, canary: Canary) -> Assignment {
        if var header = cookieHeader {
            let found: Assignment? = header.withUTF8 { bytes in
                var bucket: Int?
                var start = 0
                while start < bytes.count {
                    var end = start
                    while end < bytes.count && bytes[end] != UInt8(ascii: ";") { end += 1 }
                    var first = start
                    while first < end && (bytes[first] == 0x20 || bytes[first] == 0x09) { first += 1 }
                    var equals = first
                    while equals < end && bytes[equals] != UInt8(ascii: "=") { equals += 1 }
                    var last = end
                    while last > equals + 1 && (bytes[last - 1] == 0x20 || bytes[last - 1] == 0x09) { last -= 1 }
                    if equals < end {
                        let name = UnsafeBufferPointer(rebasing: bytes[first..<equals])
                        let value = UnsafeBufferPointer(rebasing: bytes[(equals + 1)..<last])
                        if name.elementsEqual(forceCookie.utf8) {
                            if value.elementsEqual("canary".utf8) { return Assignment(canary: true, newCookie: nil) }
                            if value.elementsEqual("stable".utf8) { return Assignment(canary: false, newCookie: nil) }
                        } else if name.elementsEqual(bucketCookie.utf8), isVisitorValue(value) {
                            bucket = Self.bucket(value, release: canary.release)
                        }
                    }
                    start = end + 1
                }
                return bucket.map { Assignment(canary: $0 < canary.percent * 100, newCookie: nil) }
            }
            if let found { return found }
        }
        let fresh = newVisitorValue()
        return Assignment(canary: bucket(fresh.utf8, release: canary.release) < canary.percent * 100,
                          newCookie: "\(bucketCookie)=\(fresh); Path=/; Max-Age=\(cookieLifetime); SameSite=Lax; HttpOnly")
    }

    /// 0–9,999: FNV-1a over the value and the release id, then a 64-bit finalizer (splitmix64's)
    /// so every bit of the hash counts before the remainder.
    static func bucket<Value: Sequence<UInt8>>(_ value: Value, release: String) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in value { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
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

    static func isVisitorValue<Value: Collection<UInt8>>(_ value: Value) -> Bool {
        value.count == 16 && value.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }
}

/// How a channel answer speaks of a canary split: kept out of shared caches (`private`), and a
/// new visitor's bucket cookie.
struct SplitAnswer {
    let setCookie: String?
}

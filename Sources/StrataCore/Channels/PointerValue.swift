#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A channel's second release, served to a share of its visitors while it is watched.
public struct Canary: Sendable, Equatable, Codable {
    public let release: String
    /// 1–99: the share of visitors (by their sticky bucket) who get `release`.
    public let percent: Int

    public init(release: String, percent: Int) {
        self.release = release
        self.percent = percent
    }

    public static let percents = 1...99
}

/// What a pointer holds: the id everyone gets and, for a release channel during a rollout, a canary;
/// for a preview channel, when it expires.
///
/// On disk (and in a bucket) it is the id and a newline, as it always was; a canary adds one
/// line, `canary <canary id> <percent>`, and an expiry one more, `expires <Unix seconds>`. The
/// first line stays the stable release, so `head -1 channels/current` keeps naming what most
/// visitors get. A channel past its expiry is gone (`Pointer.readValue` says nil): not served,
/// listed, or kept by prune. `strata channel delete` writes such a value, so the history stays.
public struct PointerValue: Sendable, Equatable {
    public let id: String
    public let canary: Canary?
    /// Unix seconds from which the channel no longer exists; nil: it never expires.
    public let expires: Int64?

    public init(_ id: String, canary: Canary? = nil, expires: Int64? = nil) {
        self.id = id
        self.canary = canary
        self.expires = expires
    }

    /// Every release the value serves: the stable one, then the canary's.
    public var releases: [String] { [id] + (canary.map { [$0.release] } ?? []) }

    /// True once the channel's expiry has come.
    public func isExpired(at now: Int64 = PointerValue.now()) -> Bool {
        expires.map { now >= $0 } ?? false
    }

    /// Nil once the channel has expired.
    public func unlessExpired(at now: Int64 = PointerValue.now()) -> PointerValue? {
        isExpired(at: now) ? nil : self
    }

    /// The same releases with another expiry.
    public func expiring(_ expires: Int64?) -> PointerValue {
        PointerValue(id, canary: canary, expires: expires)
    }

    /// True when both serve the same releases to the same shares (whatever their expiry).
    public func servesAlike(_ other: PointerValue?) -> Bool {
        other.map { $0.id == id && $0.canary == canary } ?? false
    }

    /// The clock expiries are read against: Unix seconds.
    public static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec)
    }

    var bytes: [UInt8] {
        var text = id + "\n"
        if let canary { text += "canary \(canary.release) \(canary.percent)\n" }
        if let expires { text += "expires \(expires)\n" }
        return Array(text.utf8)
    }

    /// Longest well-formed pointer: two ids, the word, a two-digit percent, an expiry, separators.
    static let maxBytes = 2 * Fingerprint.idLength + 14 + 28

    /// The value these bytes hold, or nil unless they are exactly what `bytes` writes (a pointer
    /// read from a bucket is untrusted input). `allowsCanary` is false for config pointers
    /// (they carry neither a canary nor an expiry).
    static func parse(_ bytes: [UInt8], allowsCanary: Bool) -> PointerValue? {
        guard bytes.count <= maxBytes else { return nil }
        let body = bytes.last == 0x0A ? bytes.dropLast() : bytes[...]
        var lines = body.split(separator: 0x0A, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        if lines.count == 1 {
            // Written by hand, a pointer may lack its newline or carry a CR: the id is what counts.
            let id = lines[0].trimmingWhitespace()
            return Fingerprint.isReleaseID(id) ? PointerValue(id) : nil
        }
        guard allowsCanary, Fingerprint.isReleaseID(lines[0]) else { return nil }
        var expires: Int64?
        if let last = lines.last, last.hasPrefix("expires ") {
            let digits = last.dropFirst("expires ".count)
            guard let seconds = Int64(digits), seconds >= 0, String(seconds) == digits else { return nil }
            expires = seconds
            lines.removeLast()
        }
        switch lines.count {
        case 1:
            return PointerValue(lines[0], expires: expires)
        case 2:
            let words = lines[1].split(separator: " ", omittingEmptySubsequences: false)
            guard words.count == 3, words[0] == "canary", Fingerprint.isReleaseID(String(words[1])), words[1] != lines[0],
                  let percent = Int(words[2]), String(percent) == words[2], Canary.percents.contains(percent) else { return nil }
            return PointerValue(lines[0], canary: Canary(release: String(words[1]), percent: percent), expires: expires)
        default: return nil
        }
    }
}

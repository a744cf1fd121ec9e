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

/// What a pointer holds: the id everyone gets and, for a release channel during a rollout, a canary.
///
/// On disk (and in a bucket) it is the id and a newline, as it always was, and a canary adds one
/// line: `<stable id>\ncanary <canary id> <percent>\n`. The first line stays the stable release, so
/// `head -1 channels/current` keeps naming what most visitors get.
public struct PointerValue: Sendable, Equatable {
    public let id: String
    public let canary: Canary?

    public init(_ id: String, canary: Canary? = nil) {
        self.id = id
        self.canary = canary
    }

    /// Every release the value serves: the stable one, then the canary's.
    public var releases: [String] { [id] + (canary.map { [$0.release] } ?? []) }

    var bytes: [UInt8] {
        var text = id + "\n"
        if let canary { text += "canary \(canary.release) \(canary.percent)\n" }
        return Array(text.utf8)
    }

    /// Longest well-formed pointer: two ids, the word, a two-digit percent, separators.
    static let maxBytes = 2 * Fingerprint.idLength + 14

    /// The value these bytes hold, or nil unless they are exactly what `bytes` writes (a pointer
    /// read from a bucket is untrusted input). `allowsCanary` is false for config pointers.
    static func parse(_ bytes: [UInt8], allowsCanary: Bool) -> PointerValue? {
        guard bytes.count <= maxBytes else { return nil }
        let body = bytes.last == 0x0A ? bytes.dropLast() : bytes[...]
        let lines = body.split(separator: 0x0A, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        switch lines.count {
        case 1:
            // Written by hand, a pointer may lack its newline or carry a CR: the id is what counts.
            let id = lines[0].trimmingWhitespace()
            return Fingerprint.isReleaseID(id) ? PointerValue(id) : nil
        case 2 where allowsCanary:
            guard Fingerprint.isReleaseID(lines[0]) else { return nil }
            let words = lines[1].split(separator: " ", omittingEmptySubsequences: false)
            guard words.count == 3, words[0] == "canary", Fingerprint.isReleaseID(String(words[1])), words[1] != lines[0],
                  let percent = Int(words[2]), String(percent) == words[2], Canary.percents.contains(percent) else { return nil }
            return PointerValue(lines[0], canary: Canary(release: String(words[1]), percent: percent))
        default: return nil
        }
    }
}

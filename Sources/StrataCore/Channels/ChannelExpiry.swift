/// When a preview channel ends, as `--expires` gives it: a span from now (`90s`, `30m`, `12h`,
/// `7d`, `2w`), a time (`2026-12-31T00:00:00Z`), or `never`.
public enum ChannelExpiry {
    /// The longest span accepted: ten years, beyond which an expiry is surely a typo.
    static let longest: Int64 = 10 * 366 * 86_400

    /// Unix seconds, or nil for `never`.
    public static func parse(_ text: String, now: Int64 = PointerValue.now()) throws -> Int64? {
        if text == "never" { return nil }
        let units: [(Character, Int64)] = [("s", 1), ("m", 60), ("h", 3600), ("d", 86_400), ("w", 604_800)]
        if let unit = text.last, let scale = units.first(where: { $0.0 == unit })?.1,
           let count = Int64(text.dropLast()), String(count) == text.dropLast() {
            guard count >= 1, count <= longest / scale else {
                throw StrataError(.invalidInput, "--expires '\(text)' is out of range (from 1s to 10 years)")
            }
            return now + count * scale
        }
        if let seconds = Timestamp.seconds(of: text) {
            guard seconds > now else {
                throw StrataError(.invalidInput, "--expires \(text) has passed already; give a time to come")
            }
            guard seconds - now <= longest else { throw StrataError(.invalidInput, "--expires \(text) is more than 10 years away") }
            return seconds
        }
        throw StrataError(.invalidInput,
                          "--expires '\(text)' is not a span (like 30m, 12h, 7d, 2w), a time (like 2026-12-31T00:00:00Z) or 'never'")
    }
}

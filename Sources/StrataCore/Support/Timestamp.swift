#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// UTC times as `2026-11-21T17:45:03.125Z`: sortable as text, readable by people and by `date -d`.
public enum Timestamp {
    public static func now() -> String {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return of(seconds: Int64(time.tv_sec), millis: Int(time.tv_nsec / 1_000_000))
    }

    /// The time `seconds` after the Unix epoch.
    public static func of(seconds unix: Int64, millis: Int = 0) -> String {
        var seconds = time_t(unix)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return "\(pad(Int(parts.tm_year) + 1900, 4))-\(pad(Int(parts.tm_mon) + 1, 2))-\(pad(Int(parts.tm_mday), 2))"
            + "T\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2)).\(pad(millis, 3))Z"
    }

    /// Unix seconds of `2026-12-08T10:00:00Z` (fractions and a numeric offset allowed); nil when
    /// the text is not such a time.
    public static func seconds(of text: String) -> Int64? {
        let characters = Array(text.utf8)
        guard characters.count >= 20 else { return nil }
        func number(_ start: Int, _ count: Int) -> Int32? {
            let digits = characters[start..<(start + count)]
            guard digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            return Int32(String(decoding: digits, as: UTF8.self))
        }
        let separators: [(Int, UInt8)] = [(4, UInt8(ascii: "-")), (7, UInt8(ascii: "-")), (10, UInt8(ascii: "T")),
                                          (13, UInt8(ascii: ":")), (16, UInt8(ascii: ":"))]
        guard separators.allSatisfy({ characters[$0.0] == $0.1 }),
              let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var rest = characters[19...]
        if rest.first == UInt8(ascii: ".") { rest = rest.dropFirst().drop { $0 >= 0x30 && $0 <= 0x39 } }
        var offset: Int64 = 0
        let zone = String(decoding: rest, as: UTF8.self)
        if zone != "Z" {
            let parts = zone.dropFirst().split(separator: ":")
            guard let sign = zone.first, sign == "+" || sign == "-", parts.count == 2,
                  let hours = Int64(parts[0]), let minutes = Int64(parts[1]), parts[0].count == 2, parts[1].count == 2 else { return nil }
            offset = (hours * 3600 + minutes * 60) * (sign == "+" ? 1 : -1)
        }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        return Int64(timegm(&parts)) - offset
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}

import Foundation

/// Byte counts as people write and read them: `512`, `64K`, `1.5G` (binary units).
public enum ByteCount {
    public static func describe(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }

    /// Parses `N`, `NK`, `NM`, `NG`, `NT` (optionally `KiB`, `MB`… — all binary). Nil when invalid,
    /// negative or too large for 64 bits.
    public static func parse(_ text: String) -> Int64? {
        var digits = text.trimmingCharacters(in: .whitespaces).uppercased()
        for suffix in ["IB", "B"] where digits.hasSuffix(suffix) && digits.count > suffix.count {
            digits.removeLast(suffix.count)
            break
        }
        let shifts: [Character: Int64] = ["K": 10, "M": 20, "G": 30, "T": 40]
        var shift: Int64 = 0
        if let last = digits.last, let value = shifts[last] {
            shift = value
            digits.removeLast()
        }
        guard let number = Double(digits), number.isFinite, number >= 0 else { return nil }
        let bytes = number * Double(Int64(1) << shift)
        guard bytes < 9.0e18 else { return nil }
        return Int64(bytes)
    }
}

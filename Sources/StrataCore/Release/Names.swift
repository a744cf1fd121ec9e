/// Rules for user-chosen names (labels, channels): short, printable, safe in a path and a URL.
public enum Names {
    public static func validateLabel(_ label: String) throws {
        guard isSafe(label, maxLength: 128) else {
            throw StrataError(.invalidInput, "label '\(Escaped.path(label))' is not allowed; use 1-128 of A-Z a-z 0-9 . _ - + starting with a letter or digit")
        }
    }

    public static func validateChannel(_ name: String) throws {
        guard isSafe(name, maxLength: 64) else {
            throw StrataError(.invalidInput, "channel name '\(Escaped.path(name))' is not allowed; use 1-64 of A-Z a-z 0-9 . _ - starting with a letter or digit")
        }
        guard !name.contains("+") else {
            throw StrataError(.invalidInput, "channel name '\(Escaped.path(name))' is not allowed; '+' is reserved")
        }
    }

    private static func isSafe(_ text: String, maxLength: Int) -> Bool {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, bytes.count <= maxLength else { return false }
        func isAlphanumeric(_ byte: UInt8) -> Bool {
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
        }
        guard isAlphanumeric(first) else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "+") }
    }
}

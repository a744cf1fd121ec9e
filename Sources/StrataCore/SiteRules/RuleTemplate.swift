/// The target of a `_redirects` rule: a path or URL in which `:name` and `:splat` stand for what
/// the rule's pattern matched (`/articles/:year/:splat`).
public struct RuleTemplate: Sendable, Equatable {
    public enum Part: Sendable, Equatable {
        case text(String)
        case value(String)
    }

    public let parts: [Part]
    /// As written in the file.
    public let text: String

    /// A path of this site rather than another origin.
    public var isLocal: Bool { text.hasPrefix("/") }
    public var hasQuery: Bool { text.contains("?") }
    /// The target ends with `:splat` (`/blog/:splat`): a trailing slash the request had belongs on it.
    public var endsWithSplat: Bool { parts.last == .value("splat") }

    static func isPlaceholderName<Name: StringProtocol>(_ name: Name) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCIILetterOrUnderscore else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCIILetterOrUnderscore || ("0"..."9").contains($0) }
    }

    /// `known` holds the pattern's placeholder names (and `splat` when it has one).
    static func parse(_ text: String, known: Set<String>) throws(RuleProblem) -> RuleTemplate {
        let isURL = text.hasPrefix("http://") || text.hasPrefix("https://")
        guard text.hasPrefix("/") || isURL else {
            throw RuleProblem("target '\(text)' must be a path (/…) or an http:// or https:// URL")
        }
        if text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw RuleProblem("control character in target '\(text)'")
        }
        var scalars = Array(text.unicodeScalars)
        var parts: [Part] = []
        var literal = ""
        var position = 0
        if isURL {  // scheme://host[:port] is text; placeholders start after it
            let afterScheme = text.hasPrefix("https://") ? 8 : 7
            let pathStart = scalars[afterScheme...].firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? scalars.count
            guard pathStart > afterScheme else { throw RuleProblem("target '\(text)' has no host name") }
            literal = String(String.UnicodeScalarView(scalars[..<pathStart]))
            position = pathStart
        }
        while position < scalars.count {
            let scalar = scalars[position]
            if scalar == ":" {
                var end = position + 1
                while end < scalars.count, scalars[end].isASCIILetterOrUnderscore || ("0"..."9").contains(scalars[end]) { end += 1 }
                let name = String(String.UnicodeScalarView(scalars[(position + 1)..<end]))
                if !name.isEmpty, let first = name.unicodeScalars.first, first.isASCIILetterOrUnderscore {
                    guard known.contains(name) else {
                        throw RuleProblem("target '\(text)' uses ':\(name)', which the pattern does not have")
                    }
                    if !literal.isEmpty { parts.append(.text(literal)) }
                    literal = ""
                    parts.append(.value(name))
                    position = end
                    continue
                }
            }
            literal.unicodeScalars.append(scalar)
            position += 1
        }
        if !literal.isEmpty { parts.append(.text(literal)) }
        scalars.removeAll()
        return RuleTemplate(parts: parts, text: text)
    }

    /// The target with the matched values put in: percent-encoded for a `Location` header, or
    /// as they are for a path looked up in the release.
    public func expand(_ values: [String: String], encoded: Bool) -> String {
        var result = ""
        for part in parts {
            switch part {
            case .text(let text): result += encoded ? URLText.encode(text, keeping: URLText.reserved) : text
            case .value(let name): result += encoded ? URLText.encode(values[name] ?? "", keeping: URLText.pathCharacters) : (values[name] ?? "")
            }
        }
        return result
    }
}

/// Percent-encoding for what goes into a `Location` header.
enum URLText {
    /// Characters a path segment keeps as they are (RFC 3986 pchar, and `/`).
    static let pathCharacters = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/".utf8)
    /// Everything a URI may hold as written (a rule's own text keeps its `?`, `#` and escapes).
    static let reserved = pathCharacters.union("?#%[]".utf8)

    static func encode(_ text: String, keeping: Set<UInt8>) -> String {
        if text.utf8.allSatisfy(keeping.contains) { return text }
        let hex = Array("0123456789ABCDEF".utf8)
        var bytes: [UInt8] = []
        for byte in text.utf8 {
            if keeping.contains(byte) {
                bytes.append(byte)
            } else {
                bytes += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Unicode.Scalar {
    var isASCIILetterOrUnderscore: Bool {
        ("a"..."z").contains(self) || ("A"..."Z").contains(self) || self == "_"
    }
}

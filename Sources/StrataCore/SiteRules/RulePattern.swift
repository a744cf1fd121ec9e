import Foundation

/// The path pattern of a `_redirects` or `_headers` rule: `/blog/:year/*`.
///
/// Segments are literal text or a `:name` placeholder (exactly one segment); a final `*` (the
/// splat) matches the rest of the path, including nothing. Matching ignores a trailing slash and
/// works on decoded paths, so literal segments are percent-decoded when the rule is read.
public struct RulePattern: Sendable, Equatable {
    public enum Segment: Sendable, Equatable {
        case literal(String)
        case placeholder(String)
    }

    public let segments: [Segment]
    /// Ends in `*`.
    public let hasSplat: Bool
    /// As written in the file.
    public let text: String

    /// The names of the placeholders, in order.
    public var placeholderNames: [String] {
        segments.compactMap { if case .placeholder(let name) = $0 { name } else { nil } }
    }

    static func parse(_ text: String) throws(RuleProblem) -> RulePattern {
        guard text.hasPrefix("/") else {
            if text.hasPrefix("http://") || text.hasPrefix("https://") {
                throw RuleProblem("'\(text)': rules for a host name are not supported (serve that host as its own channel)")
            }
            throw RuleProblem("'\(text)' is not a path (it must start with /)")
        }
        if text.contains("?") { throw RuleProblem("'\(text)': a path pattern cannot hold a query (query strings pass through)") }
        var segments: [Segment] = []
        var hasSplat = false
        let parts = text.split(separator: "/", omittingEmptySubsequences: true)
        for (number, part) in parts.enumerated() {
            if part == "*" {
                guard number == parts.count - 1 else { throw RuleProblem("'\(text)': '*' can only be the last segment") }
                hasSplat = true
            } else if part.contains("*") {
                throw RuleProblem("'\(text)': '*' must be a whole segment at the end (like /blog/*)")
            } else if part.hasPrefix(":") {
                let name = String(part.dropFirst())
                guard RuleTemplate.isPlaceholderName(name) else {
                    throw RuleProblem("'\(text)': ':\(name)' is not a placeholder name (letters, digits, _)")
                }
                if name == "splat" { throw RuleProblem("'\(text)': ':splat' is the name of '*'; pick another placeholder name") }
                if segments.contains(.placeholder(name)) { throw RuleProblem("'\(text)': placeholder ':\(name)' appears twice") }
                segments.append(.placeholder(name))
            } else {
                guard let decoded = part.removingPercentEncoding, !decoded.contains("/") else {
                    throw RuleProblem("'\(text)': bad percent-escape in '\(part)'")
                }
                if decoded == "." || decoded == ".." { throw RuleProblem("'\(text)': '.' and '..' segments never match a request") }
                if decoded.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                    throw RuleProblem("'\(text)': control character in the path")
                }
                segments.append(.literal(decoded))
            }
        }
        return RulePattern(segments: segments, hasSplat: hasSplat, text: text)
    }

    /// The placeholder values (and `splat`) when `path` matches. `path` is decoded, without leading or
    /// trailing slash (`blog/2024/post`; "" for the root).
    public func match(_ path: String) -> [String: String]? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        guard hasSplat ? parts.count >= segments.count : parts.count == segments.count else { return nil }
        var values: [String: String] = [:]
        for (segment, part) in zip(segments, parts) {
            switch segment {
            case .literal(let text): if text != part { return nil }
            case .placeholder(let name): values[name] = String(part)
            }
        }
        if hasSplat { values["splat"] = parts.dropFirst(segments.count).joined(separator: "/") }
        return values
    }
}

/// Why one line of a rules file is refused; `SiteRules` adds the file name and line number.
struct RuleProblem: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

/// One line of `_redirects`: `from to [status][!]`.
public struct RedirectRule: Sendable, Equatable {
    public let line: Int
    public let from: RulePattern
    public let to: RuleTemplate
    /// 301, 302, 303, 307, 308 (redirect), 200 (rewrite) or 404 (the target, sent as not found).
    public let status: Int
    /// `!`: applies even where a file exists.
    public let isForced: Bool

    public static let statuses: Set<Int> = [301, 302, 303, 307, 308, 200, 404]

    /// Serves a file of the release (200 or 404) rather than answering with a `Location`.
    public var isRewrite: Bool { status == 200 || status == 404 }

    /// The rules of a `_redirects` file, in order (first match wins).
    static func parse(_ text: String) throws -> [RedirectRule] {
        var rules: [RedirectRule] = []
        for (offset, line) in RuleFile.lines(text) {
            do {
                try RuleFile.checkLength(line)
                if let rule = try parseLine(line, number: offset) { rules.append(rule) }
            } catch {
                throw StrataError(.invalidInput, "\(SiteRules.redirectsFile):\(offset): \(error.reason)")
            }
        }
        return rules
    }

    private static func parseLine(_ line: Substring, number: Int) throws(RuleProblem) -> RedirectRule? {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let first = fields.first, !first.hasPrefix("#") else { return nil }
        guard fields.count >= 2 else { throw RuleProblem("'\(first)' has no target (a rule is: from to [status])") }
        let pattern = try RulePattern.parse(first)
        if fields[1].contains("="), !fields[1].hasPrefix("/"), !fields[1].hasPrefix("http") {
            throw RuleProblem("query-parameter matching ('\(fields[1])') is not supported")
        }
        var known = Set(pattern.placeholderNames)
        if pattern.hasSplat { known.insert("splat") }
        let target = try RuleTemplate.parse(fields[1], known: known)
        var status = 301
        var forced = false
        if fields.count >= 3 {
            var code = Substring(fields[2])
            if code.hasSuffix("!") {
                forced = true
                code = code.dropLast()
            }
            guard let number = Int(code), code.count == 3 else {
                if fields[2].contains("=") { throw RuleProblem("conditions ('\(fields[2])') are not supported") }
                throw RuleProblem("'\(fields[2])' is not a status (301, 302, 303, 307, 308, 200, 404)")
            }
            guard statuses.contains(number) else {
                throw RuleProblem("status \(number) is not supported (301, 302, 303, 307, 308, 200, 404)")
            }
            status = number
        }
        if fields.count > 3 {
            if fields[3].hasPrefix("#") {  // a comment after the rule
            } else if fields[3].contains("=") {
                throw RuleProblem("conditions ('\(fields[3])') are not supported")
            } else {
                throw RuleProblem("unexpected '\(fields[3])' after the status")
            }
        }
        if status == 200 || status == 404, !target.isLocal {
            throw RuleProblem("a \(status) rule serves a path of this release; '\(target.text)' is another site (proxying is not supported)")
        }
        return RedirectRule(line: number, from: pattern, to: target, status: status, isForced: forced)
    }
}

/// Line splitting shared by both rule files.
enum RuleFile {
    /// Longest line accepted; real rules are far shorter.
    static let longestLine = 8192

    static func checkLength(_ line: Substring) throws(RuleProblem) {
        if line.utf8.count > longestLine { throw RuleProblem("line longer than \(longestLine) bytes") }
    }

    /// Non-blank lines with their 1-based numbers, comment lines included (each parser knows its comments).
    static func lines(_ text: String) -> [(Int, Substring)] {
        var result: [(Int, Substring)] = []
        for (offset, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            result.append((offset + 1, line))
        }
        return result
    }
}

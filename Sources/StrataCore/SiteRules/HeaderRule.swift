/// One block of `_headers`: a path pattern, then indented `Name: value` and `! Name` lines.
public struct HeaderRule: Sendable, Equatable {
    public enum Action: Sendable, Equatable {
        /// Add a value (values of one name, from every matching block, are joined with `, `).
        case set(name: String, value: String)
        /// `! Name`: drop the header Strata would send, and values set by earlier blocks.
        case remove(name: String)
    }

    public let line: Int
    public let pattern: RulePattern
    public let actions: [Action]

    /// Headers the framing, caching and release identity depend on: Strata alone writes them.
    public static let reservedNames: Set<String> = [
        "content-length", "content-encoding", "content-range", "transfer-encoding", "etag", "strata-release",
        "connection", "date",
    ]

    static func parse(_ text: String) throws -> [HeaderRule] {
        var rules: [HeaderRule] = []
        var current: (line: Int, pattern: RulePattern, actions: [Action])?
        for (number, line) in RuleFile.lines(text) {
            do {
                try RuleFile.checkLength(line)
                let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
                if trimmed.hasPrefix("#") { continue }
                if trimmed.startIndex == line.startIndex {  // not indented: a new path
                    if let current { rules.append(HeaderRule(line: current.line, pattern: current.pattern, actions: current.actions)) }
                    let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                    guard fields.count == 1 else {
                        throw RuleProblem("'\(line)' is not a path pattern (header lines must be indented)")
                    }
                    current = (number, try RulePattern.parse(String(fields[0])), [])
                    continue
                }
                guard current != nil else { throw RuleProblem("header line before any path pattern") }
                current!.actions.append(try parseAction(trimmed))
            } catch let problem as RuleProblem {
                throw StrataError(.invalidInput, "\(SiteRules.headersFile):\(number): \(problem.reason)")
            }
        }
        if let current { rules.append(HeaderRule(line: current.line, pattern: current.pattern, actions: current.actions)) }
        return rules
    }

    private static func parseAction(_ text: Substring) throws(RuleProblem) -> Action {
        if text.hasPrefix("!") {
            let name = String(text.dropFirst().trimmingSpaces)
            try checkName(name)
            return .remove(name: name)
        }
        guard let colon = text.firstIndex(of: ":") else { throw RuleProblem("'\(text)' is not 'Name: value' or '! Name'") }
        let name = String(text[..<colon].trimmingSpaces)
        let value = String(text[text.index(after: colon)...].trimmingSpaces)
        try checkName(name)
        if value.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7F }) {
            throw RuleProblem("control character in the value of '\(name)'")
        }
        return .set(name: name, value: value)
    }

    private static func checkName(_ name: String) throws(RuleProblem) {
        let token = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        guard !name.isEmpty, name.utf8.allSatisfy(token.contains) else { throw RuleProblem("'\(name)' is not a header name") }
        if reservedNames.contains(name.lowercased()) {
            throw RuleProblem("'\(name)' is Strata's to send; _headers cannot set or remove it")
        }
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        guard let first = firstIndex(where: { $0 != " " && $0 != "\t" }), let last = lastIndex(where: { $0 != " " && $0 != "\t" }) else {
            return ""
        }
        return self[first...last]
    }
}

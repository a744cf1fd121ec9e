/// A release's `_redirects` and `_headers`: files of the release (fingerprinted, never served)
/// that tell the server how to answer.
public struct SiteRules: Sendable, Equatable {
    public static let redirectsFile = "_redirects"
    public static let headersFile = "_headers"
    /// Bigger files are refused: 100,000 rules take about 4 MiB.
    public static let largestFile = 32 << 20

    public var redirects: [RedirectRule]
    public var headers: [HeaderRule]

    public static let none = SiteRules(redirects: [], headers: [])

    public var isEmpty: Bool { redirects.isEmpty && headers.isEmpty }

    public init(redirects: [RedirectRule], headers: [HeaderRule]) {
        self.redirects = redirects
        self.headers = headers
    }

    /// Whether the release path is one of the two rule files.
    public static func isRuleFile(_ path: String) -> Bool {
        path == redirectsFile || path == headersFile
    }

    /// Reads and checks both files; `read` gives a root file's bytes, or nil when the release has
    /// none. Throws `_redirects:LINE: why` (or `_headers:…`) for the first bad line.
    public static func load(read: (String) throws -> [UInt8]?) throws -> SiteRules {
        func text(_ name: String) throws -> String? {
            guard let bytes = try read(name) else { return nil }
            if bytes.count > largestFile { throw StrataError(.invalidInput, "\(name): larger than \(largestFile >> 20) MiB") }
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw StrataError(.invalidInput, "\(name): not UTF-8 text")
            }
            return text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text  // a byte-order mark from some editors
        }
        let redirects = try text(redirectsFile).map(RedirectRule.parse) ?? []
        let headers = try text(headersFile).map(HeaderRule.parse) ?? []
        return SiteRules(redirects: redirects, headers: headers)
    }
}

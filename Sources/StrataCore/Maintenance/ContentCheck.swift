import Foundation

/// What a release's own files say about it: references in its HTML and CSS that name no file of
/// it, redirect targets it lacks, and warnings. A release never changes, so this is computed once,
/// at publish, and kept in its manifest; `activate` reads it instead of scanning the site again.
public struct ContentCheck: Sendable, Codable, Equatable {
    /// Said, not refused: a site may be an API or assets only.
    public var warnings: [String]
    /// Broken references, then `_redirects` targets that are neither a file nor matched by a rule.
    public var brokenReferences: [BrokenReference]
    public var referencesChecked: Int

    public init(warnings: [String], brokenReferences: [BrokenReference], referencesChecked: Int) {
        self.warnings = warnings
        self.brokenReferences = brokenReferences
        self.referencesChecked = referencesChecked
    }

    /// Scans `files` of one release; `read` gives a file's bytes (nil: unreadable, reported elsewhere).
    public static func compute(_ files: [Manifest.Entry], rules: SiteRules, read: (Manifest.Entry) throws -> [UInt8]?) throws -> ContentCheck {
        let paths = Set(files.map(\.path))
        var warnings: [String] = []
        if !paths.contains("index.html") {
            warnings.append("no index.html at the release's root: the channel URL '/' will answer 404")
        }
        var broken: [BrokenReference] = []
        var checked = 0
        for (entry, references) in try scanned(files.filter { ReferenceScanner.Kind(path: $0.path) != nil }, read: read) {
            for reference in references {
                guard let target = LocalReference.resolve(reference, from: entry.path) else { continue }
                checked += 1
                switch target {
                case .path(let path):
                    if !paths.contains(path) && !paths.contains(path.isEmpty ? "index.html" : path + "/index.html") {
                        broken.append(BrokenReference(file: entry.path, reference: reference, resolved: path.isEmpty ? "/" : path))
                    }
                case .outside:
                    broken.append(BrokenReference(file: entry.path, reference: reference, resolved: "(above the release's root)"))
                }
            }
        }
        let patterns = PatternTrie(rules.redirects.map(\.from))
        for (number, rule) in rules.redirects.enumerated() {
            guard let path = staticTarget(rule) else { continue }
            checked += 1
            let exists = paths.contains(path.isEmpty ? "index.html" : path) || paths.contains(path + "/index.html")
                || paths.contains(path + ".html")
                || patterns.all(path.utf8[...]).contains { $0 != number }
            if !exists {
                broken.append(BrokenReference(file: "\(SiteRules.redirectsFile):\(rule.line)", reference: rule.to.text,
                                              resolved: path.isEmpty ? "/" : path))
            }
        }
        return ContentCheck(warnings: warnings, brokenReferences: broken, referencesChecked: checked)
    }

    /// The references in each page and stylesheet, in order. Pages are read here, a batch at a time
    /// (so a site of large pages is not all in memory), and scanned on every core: the scan is most
    /// of what a publish of a site with 1% changed spends outside the kernel.
    private static func scanned(_ pages: [Manifest.Entry], read: (Manifest.Entry) throws -> [UInt8]?) throws
        -> [(entry: Manifest.Entry, references: [String])] {
        var found: [(entry: Manifest.Entry, references: [String])] = []
        let batchSize = 64
        for start in stride(from: 0, to: pages.count, by: batchSize) {
            let batch = Array(pages[start..<min(pages.count, start + batchSize)])
            let texts = try batch.map(read)
            let references = try Parallel.map(count: batch.count) { index, _ -> [String] in
                guard let bytes = texts[index], let kind = ReferenceScanner.Kind(path: batch[index].path) else { return [] }
                return ReferenceScanner(kind: kind).references(in: String(decoding: bytes, as: UTF8.self))
            }
            found += zip(batch, references).map { ($0, $1) }
        }
        return found
    }

    /// The release path a rule sends to, when it is a fixed path of this site (no placeholders).
    private static func staticTarget(_ rule: RedirectRule) -> String? {
        guard rule.to.isLocal, rule.to.parts.allSatisfy({ if case .text = $0 { true } else { false } }) else { return nil }
        var path = Substring(rule.to.text)
        if let end = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = path[..<end] }
        let decoded = String(path).removingPercentEncoding ?? String(path)
        if decoded.hasPrefix("/_strata/") || decoded.hasPrefix("/_v/") { return nil }
        return decoded.split(separator: "/").joined(separator: "/")
    }
}

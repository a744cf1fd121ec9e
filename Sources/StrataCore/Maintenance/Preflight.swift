import Foundation
import SystemPackage

/// A reference in an HTML or CSS file that names no file of the release.
public struct BrokenReference: Sendable, Equatable, Codable {
    /// The file holding the reference.
    public let file: String
    /// The reference as written (`src`, `href`, `url()`, `srcset` candidate, module import).
    public let reference: String
    /// What it resolved to inside the release, or why it cannot resolve.
    public let resolved: String

    public init(file: String, reference: String, resolved: String) {
        self.file = file
        self.reference = reference
        self.resolved = resolved
    }
}

/// What `strata check` found.
public struct PreflightReport: Sendable, Codable {
    public let release: String
    /// Files whose size (or, with a full check, content) differs from the manifest.
    public let problems: [VerificationProblem]
    /// Said, not refused: a site may be an API or assets only.
    public let warnings: [String]
    public let brokenReferences: [BrokenReference]
    public let referencesChecked: Int
    public let fullCheck: Bool

    public var isIntact: Bool { problems.isEmpty }
    public var passes: Bool { problems.isEmpty && brokenReferences.isEmpty }
}

/// The checks run before a release goes live: it matches its manifest (sizes, or full hashes), it
/// has an `index.html`, and every local reference in its HTML and CSS (and every fixed
/// `_redirects` target) names a file it holds. The last two come from the manifest's
/// `ContentCheck` when publish recorded one.
public struct Preflight: Sendable {
    public let store: Store

    public init(store: Store) {
        self.store = store
    }

    public func check(_ id: String, full: Bool = false) throws -> PreflightReport {
        let manifest = try ReleaseCatalog(store).manifest(id)
        let problems: [VerificationProblem]
        if full {
            problems = try Verifier().verify(release: id, in: store).problems
        } else if let folder = store.folders?.layout.release(id) {
            problems = try sizeProblems(manifest, in: folder)
        } else {
            problems = []  // an object store's content is immutable and was complete before the manifest was written
        }
        let content = try manifest.check ?? ContentCheck.compute(manifest.files, rules: try rules(of: manifest)) { try read($0, of: id) }
        return PreflightReport(release: id, problems: problems, warnings: content.warnings, brokenReferences: content.brokenReferences,
                               referencesChecked: content.referencesChecked, fullCheck: full)
    }

    /// The site rules of a release published before they were checked at publish (or nil rules if unreadable).
    private func rules(of manifest: Manifest) throws -> SiteRules {
        (try? SiteRules.load { name in
            guard let entry = manifest.files.first(where: { $0.path == name }) else { return nil }
            return try read(entry, of: manifest.id)
        }) ?? .none
    }

    /// A file's bytes; nil when a local release lacks it (the size check reports that).
    private func read(_ entry: Manifest.Entry, of id: String) throws -> [UInt8]? {
        if let folder = store.folders?.layout.release(id) { return try FileSystem.readFile(folder.appending(entry.path)) }
        return try store.backend.openContent(entry, ofRelease: id).readToEnd()
    }

    private func sizeProblems(_ manifest: Manifest, in folder: FilePath) throws -> [VerificationProblem] {
        var problems: [VerificationProblem] = []
        for entry in manifest.files {
            guard let status = try FileSystem.linkStatus(folder.appending(entry.path)) else {
                problems.append(VerificationProblem(kind: .missing, path: entry.path, detail: "missing"))
                continue
            }
            if status.size != entry.size {
                problems.append(VerificationProblem(kind: .modified, path: entry.path,
                                                    detail: "size \(status.size), manifest says \(entry.size)"))
            }
        }
        return problems
    }
}

/// Finds the references a browser would follow in an HTML page or a stylesheet.
struct ReferenceScanner {
    enum Kind {
        case html, css

        init?(path: String) {
            let lower = path.lowercased()
            if lower.hasSuffix(".html") || lower.hasSuffix(".htm") { self = .html }
            else if lower.hasSuffix(".css") { self = .css }
            else { return nil }
        }
    }

    let kind: Kind

    // Attribute values: src, href, poster, data (object) — quoted or bare.
    private static let attributeAny = try! NSRegularExpression(
        pattern: #"\s(?:src|href|poster|data)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))"#, options: [])
    private static let srcset = try! NSRegularExpression(
        pattern: #"\s(?:srcset|imagesrcset)\s*=\s*(?:"([^"]*)"|'([^']*)')"#, options: [])
    private static let cssURL = try! NSRegularExpression(
        pattern: #"url\(\s*(?:"([^"]*)"|'([^']*)'|([^)"'\s]*))\s*\)"#, options: [])
    private static let cssImport = try! NSRegularExpression(pattern: #"@import\s+(?:"([^"]*)"|'([^']*)')"#, options: [])
    private static let moduleScript = try! NSRegularExpression(
        pattern: #"<script\b[^>]*\btype\s*=\s*["']?module["']?[^>]*>(.*?)</script>"#, options: [.dotMatchesLineSeparators, .caseInsensitive])
    private static let importFrom = try! NSRegularExpression(
        pattern: #"(?:\bimport\s*(?:[\w*{}\s,$]+\s*from\s*)?|\bimport\s*\(\s*)["']([^"']+)["']"#, options: [])
    private static let tag = try! NSRegularExpression(pattern: #"<[a-zA-Z][^>]*>"#, options: [])

    func references(in text: String) -> [String] {
        switch kind {
        case .css:
            return Self.values(Self.cssURL, in: text) + Self.values(Self.cssImport, in: text)
        case .html:
            var found: [String] = []
            let whole = NSRange(text.startIndex..., in: text)
            // Attributes only inside tags, so prose mentioning href= is not taken for a link.
            for match in Self.tag.matches(in: text, range: whole) {
                guard let range = Range(match.range, in: text) else { continue }
                let tag = String(text[range])
                found += Self.values(Self.attributeAny, in: tag)
                for list in Self.values(Self.srcset, in: tag) {
                    found += list.split(separator: ",").compactMap { candidate in
                        candidate.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).first.map(String.init)
                    }
                }
            }
            found += Self.values(Self.cssURL, in: text)  // style attributes and <style> blocks
            for script in Self.values(Self.moduleScript, in: text) {
                found += Self.values(Self.importFrom, in: script)
            }
            return found
        }
    }

    /// The first non-nil capture group of every match.
    private static func values(_ expression: NSRegularExpression, in text: String) -> [String] {
        expression.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { match in
            for group in 1..<match.numberOfRanges {
                if let range = Range(match.range(at: group), in: text) { return String(text[range]) }
            }
            return nil
        }
    }
}

/// Turns a reference into a path inside the release, or says it is not local.
enum LocalReference: Equatable {
    case path(String)
    /// Climbs above the release's root.
    case outside

    /// Nil for what is not this release's business: other origins, `data:`, `mailto:`, fragments,
    /// template placeholders, versioned URLs of other releases and the server's own `/_strata/`.
    static func resolve(_ raw: String, from file: String) -> LocalReference? {
        let reference = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        if reference.isEmpty || reference.hasPrefix("#") || reference.hasPrefix("//") { return nil }
        if reference.contains("{{") || reference.contains("${") { return nil }
        if let colon = reference.firstIndex(of: ":"),
           reference[..<colon].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == "." }) {
            return nil  // a scheme: https:, data:, mailto:, javascript:
        }
        var path = Substring(reference)
        if let end = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = path[..<end] }
        let decoded = String(path).removingPercentEncoding ?? String(path)
        if decoded.hasPrefix("/_strata/") || decoded.hasPrefix("/_v/") { return nil }
        var segments: [Substring] = decoded.hasPrefix("/") ? [] : file.split(separator: "/").dropLast()
        for segment in decoded.split(separator: "/", omittingEmptySubsequences: true) {
            switch segment {
            case ".": continue
            case "..":
                if segments.isEmpty { return .outside }
                segments.removeLast()
            default: segments.append(segment)
            }
        }
        let joined = segments.joined(separator: "/")
        return .path(decoded.hasSuffix("/") && !joined.isEmpty ? joined + "/index.html" : joined)
    }
}

/// Turns names found in an archive into safe relative paths, or says why one cannot be.
///
/// An entry may only name a place inside the release: no absolute paths, no drive letters, no `..`,
/// no backslashes (which Windows would take as separators), only valid UTF-8 without control
/// characters. `.` and empty components (`./dist/`, `a//b`) are dropped.
enum ArchivePath {
    static func components(of raw: [UInt8], entry: String = "archive entry") throws -> [String] {
        let shown = Escaped.bytes(raw)
        let components = try checkedText(raw, shown: shown, entry: entry).split(separator: "/", omittingEmptySubsequences: false)
        if raw.first == UInt8(ascii: "/") {
            throw StrataError(.invalidInput, "\(entry) '\(shown)' is an absolute path; archives may only hold relative paths")
        }
        if let first = components.first, isDriveLetter(first) {
            throw StrataError(.invalidInput, "\(entry) '\(shown)' starts with a drive letter; archives may only hold relative paths")
        }
        if components.contains("..") {
            throw StrataError(.invalidInput, "\(entry) '\(shown)' climbs out of the archive with '..'")
        }
        return components.filter { !$0.isEmpty && $0 != "." }.map(String.init)
    }

    /// A symlink target: relative, resolved later against the tree; `..` is allowed as long as the
    /// result stays inside, which the tree checks.
    static func linkTarget(_ raw: [UInt8], link: String) throws -> [String] {
        let text = try checkedText(raw, shown: Escaped.bytes(raw), entry: "target of symlink '\(link)':")
        if text.hasPrefix("/") || text.split(separator: "/").first.map(isDriveLetter) == true {
            throw StrataError(.invalidInput, "symlink '\(link)' leads outside the archive (to '\(Escaped.path(text))')")
        }
        return text.split(separator: "/").filter { $0 != "." }.map(String.init)
    }

    private static func checkedText(_ raw: [UInt8], shown: String, entry: String) throws -> String {
        guard let text = String(validating: raw, as: UTF8.self) else {
            throw StrataError(.invalidInput, "\(entry) '\(shown)' is not valid UTF-8")
        }
        if text.unicodeScalars.contains(where: Escaped.isControl) {
            throw StrataError(.invalidInput, "\(entry) '\(shown)' has a control character")
        }
        if text.contains("\\") {
            throw StrataError(.invalidInput, "\(entry) '\(shown)' has a backslash; archives must use '/' between folders")
        }
        return text
    }

    /// `C:` or `c:anything`: what Windows reads as a drive.
    private static func isDriveLetter(_ component: Substring) -> Bool {
        let bytes = Array(component.utf8)
        guard bytes.count >= 2, bytes[1] == UInt8(ascii: ":") else { return false }
        return (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(bytes[0] | 0x20)
    }
}

/// The rules a manifest must keep before anything uses it, wherever it was read from: a bucket's
/// manifest is exactly as untrusted as an archive entry (anyone who can write to the bucket can
/// write it), so the same path rules apply, and the fingerprint and id are recomputed from the
/// entries rather than believed.
///
/// The first broken rule is reported in one line naming the release and the entry:
/// `release 3f2a… in s3://b/p is invalid: entry '../x' climbs out with '..'`.
public enum ManifestRules {
    /// Checks `manifest`, read as release `id` from `origin` (a store location, for the message).
    public static func validate(_ manifest: Manifest, id: String, origin: String) throws {
        func refuse(_ why: String) -> StrataError {
            StrataError(.corrupt, "release \(id) in \(origin) is invalid: \(why)")
        }
        guard manifest.format == Manifest.currentFormat else { throw refuse("manifest format \(manifest.format) is not \(Manifest.currentFormat)") }
        guard Fingerprint.isFingerprint(manifest.fingerprint) else { throw refuse("fingerprint is not 64 lowercase hex digits") }
        guard manifest.id == id else { throw refuse("its manifest names release \(Escaped.path(manifest.id))") }
        guard !manifest.files.isEmpty else { throw refuse("it lists no files") }

        var previous: String?
        var total: Int64 = 0
        var firstOfContent: [String: Int] = [:]  // by SHA-256, the first entry with that content
        var checkedTypes: Set<String> = []  // a site has a few dozen media types, not one per file
        for (number, entry) in manifest.files.enumerated() {
            // Escaped only for a refusal: validating a 5,000-file manifest is on every activate's path.
            var shown: String { Escaped.path(entry.path) }
            if let why = pathProblem(entry.path) { throw refuse("entry '\(shown)' \(why)") }
            if let previous, !previous.utf8.lexicographicallyPrecedes(entry.path.utf8) {
                throw refuse(previous == entry.path ? "entry '\(shown)' is listed twice" : "entry '\(shown)' is out of order (entries are sorted bytewise)")
            }
            guard entry.size >= 0 else { throw refuse("entry '\(shown)' has a negative size") }
            guard isDigest(entry.sha256) else { throw refuse("entry '\(shown)' has a sha256 that is not 64 lowercase hex digits") }
            guard checkedTypes.contains(entry.type) || isMediaType(entry.type) else { throw refuse("entry '\(shown)' has a malformed type '\(Escaped.path(entry.type))'") }
            checkedTypes.insert(entry.type)
            for encoding in ContentEncoding.allCases {
                if let variant = entry[variant: encoding], variant.size < 0 || !isDigest(variant.sha256) {
                    throw refuse("entry '\(shown)' has a malformed \(encoding.token) variant")
                }
            }
            // Variants are named by the content they compress: one content, one set of variants.
            if let earlier = firstOfContent[entry.sha256] {
                let first = manifest.files[earlier]
                guard first.gzip == entry.gzip, first.br == entry.br, first.zstd == entry.zstd else {
                    throw refuse("entry '\(shown)' lists other variants than another file with the same content")
                }
            } else {
                firstOfContent[entry.sha256] = number
            }
            let (sum, overflow) = total.addingReportingOverflow(entry.size)
            guard !overflow else { throw refuse("entry '\(shown)' makes the sizes overflow") }
            total = sum
            previous = entry.path
        }
        if let clash = fileAlsoFolder(manifest.files.map(\.path)) {
            throw refuse("entry '\(Escaped.path(clash))' is both a file and a folder")
        }
        guard manifest.fileCount == manifest.files.count, manifest.byteCount == total else {
            throw refuse("its file count or byte count does not add up")
        }
        let recomputed = Fingerprint.compute(manifest.files.lazy.map { (path: $0.path, sha256: $0.sha256) })
        guard recomputed == manifest.fingerprint else { throw refuse("its files do not give its recorded fingerprint") }
        guard Fingerprint.releaseID(of: recomputed) == id else { throw refuse("its fingerprint does not give id \(id)") }
    }

    /// Why `path` cannot name a file inside a release, or nil when it can: relative, `/`-separated,
    /// no empty, `.` or `..` segments, no control characters or backslashes, not under `.strata/`.
    public static func pathProblem(_ path: String) -> String? {
        if path.isEmpty { return "has an empty path" }
        if path.utf8.first == UInt8(ascii: "/") { return "is an absolute path" }
        // One pass over the bytes (every activate checks every path); the answer is the first of
        // the rules below that the path breaks, in this order.
        var shape = PathShape()
        var utf8 = path
        utf8.withUTF8 { shape.read($0) }
        if shape.hasControl { return "has a control character" }
        if shape.hasBackslash { return "has a backslash" }
        if shape.climbs { return "climbs out with '..'" }
        if shape.hasEmptyOrDotSegment { return "has an empty or '.' segment" }
        if shape.startsInMetadata { return "is inside \(ReleaseLayout.metadataFolder)/" }
        return nil
    }

    /// What `pathProblem` asks of a path's bytes.
    private struct PathShape {
        var hasControl = false, hasBackslash = false, climbs = false, hasEmptyOrDotSegment = false, startsInMetadata = false

        mutating func read(_ bytes: UnsafeBufferPointer<UInt8>) {
            var segmentStart = 0
            for index in 0...bytes.count {
                guard index < bytes.count, bytes[index] != UInt8(ascii: "/") else {
                    segment(UnsafeBufferPointer(rebasing: bytes[segmentStart..<index]), isFirst: segmentStart == 0)
                    segmentStart = index + 1
                    continue
                }
                let byte = bytes[index]
                // C0 controls and DEL, and C1 controls (U+0080...U+009F, written C2 80...C2 9F).
                if byte < 0x20 || byte == 0x7F || (byte == 0xC2 && index + 1 < bytes.count && bytes[index + 1] < 0xA0) { hasControl = true }
                if byte == UInt8(ascii: "\\") { hasBackslash = true }
            }
        }

        private mutating func segment(_ name: UnsafeBufferPointer<UInt8>, isFirst: Bool) {
            let dot = UInt8(ascii: ".")
            switch name.count {
            case 0: hasEmptyOrDotSegment = true
            case 1 where name[0] == dot: hasEmptyOrDotSegment = true
            case 2 where name[0] == dot && name[1] == dot: climbs = true
            default: break
            }
            if isFirst && name.elementsEqual(ReleaseLayout.metadataFolder.utf8) { startsInMetadata = true }
        }
    }

    /// The first path that another path uses as a folder (`a` beside `a/b`); paths sorted bytewise.
    static func fileAlsoFolder(_ paths: [String]) -> String? {
        // Sorted bytewise, `a/b` comes after `a` but possibly after `a-b` too, so look up each folder.
        // Substrings, so looking up a folder makes no string.
        let files = Set(paths.lazy.map { Substring($0) })
        for path in paths {
            var folder = Substring(path)
            while let slash = folder.utf8.lastIndex(of: UInt8(ascii: "/")) {
                folder = folder[..<slash]
                if files.contains(folder) { return String(folder) }
            }
        }
        return nil
    }

    static func isDigest(_ text: String) -> Bool { Fingerprint.isFingerprint(text) }

    /// `type/subtype` of token characters: it goes into a response header as it is.
    static func isMediaType(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, text.utf8.count <= 255 else { return false }
        return parts.allSatisfy { part in
            !part.isEmpty && part.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A) || "!#$&^_.+-".utf8.contains(byte)
            }
        }
    }
}

import StrataCore
import SystemPackage

/// A release's manifest as the server answers from it, built once per release off the event loops.
///
/// Compact (a 5,000-file release takes about 1.5 MiB) and ready to write: every header line that
/// depends on the file — its `ETag` and `Content-Length` for each representation, its
/// `Content-Type` — is prepared here as bytes in `lines`, so a response copies prepared lines and
/// formats nothing; `_headers` is worked into per-file plans of lines the same way, and
/// `_redirects` into a `RedirectTable`. Requests never build file-system paths from what they were sent: a path that is
/// not in `paths` does not exist.
final class ReleaseIndex: Sendable {
    let release: ReleaseSummary
    var id: String { release.id }
    /// Distinguishes this load of the release from any other (keys open descriptors).
    let serial: UInt64
    /// The release folder, to which paths are relative.
    let folder: FilePath
    let paths: PathTable
    let files: [ServedFile]
    /// Every prepared header line, back to back; `Lines` are ranges of it.
    let lines: [UInt8]
    /// `Content-Type: …\r\n` lines, each media type once.
    let typeLines: [Lines]
    /// Per media type (as `typeLines` numbers them): HTML, whose answers count as page views.
    let pageTypes: [Bool]
    /// `HTTP/1.1 <status>\r\nServer: strata\r\nStrata-Release: <id>\r\n` for each status files are sent with.
    let statusLines: StatusLines
    /// File numbers of pages with a role.
    let indexPage: Int?
    let notFoundPage: Int?
    /// `_redirects`, compiled; nil when the release has none.
    let redirects: RedirectTable?
    /// `_headers` plans; `ServedFile.plan` numbers them from 1 (0: no plan).
    let plans: [HeaderPlan]
    /// Some `_headers` rule marks files immutable: missing paths may be found in older releases
    /// even when their names do not look hashed.
    let hasImmutableOverrides: Bool
    /// The numbers of `_redirects` and `_headers`, which are files of the release but never served.
    private let ruleFiles: (Int?, Int?)

    /// A range of `lines`. 32-bit counts: a `_headers` plan or a header line may pass 64 KiB.
    struct Lines: Sendable {
        let start: UInt32
        let count: UInt32
    }

    struct StatusLines: Sendable {
        let ok, partialContent, notModified, notFound, rangeNotSatisfiable: Lines

        /// The length of the longest, for the room a head needs.
        var longest: UInt32 { max(ok.count, partialContent.count, notModified.count, notFound.count, rangeNotSatisfiable.count) }
    }

    /// Throws for what no checked manifest holds (a digest that is not 64 hex digits): a release
    /// the server cannot describe exactly is refused, never served with made-up bytes.
    init(manifest: Manifest, folder: FilePath, serial: UInt64, rules: SiteRules = .none) throws {
        release = manifest.summary
        self.folder = folder
        self.serial = serial
        var lines: [UInt8] = []
        lines.reserveCapacity(manifest.files.count * 150 + 512)
        func add(_ text: String) -> Lines {
            let start = lines.count
            lines.append(contentsOf: text.utf8)
            return Lines(start: UInt32(start), count: UInt32(lines.count - start))
        }
        func statusLine(_ status: String) -> Lines {
            add("HTTP/1.1 \(status)\r\nServer: strata\r\nStrata-Release: \(manifest.id)\r\n")
        }
        statusLines = StatusLines(ok: statusLine("200 OK"), partialContent: statusLine("206 Partial Content"),
                                  notModified: statusLine("304 Not Modified"), notFound: statusLine("404 Not Found"),
                                  rangeNotSatisfiable: statusLine("416 Range Not Satisfiable"))

        // Plans first: each file's head depends on the blocks that match it.
        let planner = HeaderPlanner(rules.headers)
        var planNumbers: [[Int]: UInt32] = [:]
        var plans: [HeaderPlan] = []
        var filePlans: [UInt32] = []
        filePlans.reserveCapacity(manifest.files.count)
        for entry in manifest.files {
            let blocks = rules.headers.isEmpty ? [] : planner.blocks(for: entry.path)
            guard !blocks.isEmpty else { filePlans.append(0); continue }
            if let number = planNumbers[blocks] { filePlans.append(number); continue }
            let merged = HeaderPlan.merge(planner.rules(blocks))
            let start = lines.count
            for (name, value) in merged.fields { lines.append(contentsOf: "\(name): \(value)\r\n".utf8) }
            plans.append(HeaderPlan(dropped: merged.dropped, lines: Lines(start: UInt32(start), count: UInt32(lines.count - start)),
                                    declaresImmutable: merged.immutable))
            planNumbers[blocks] = UInt32(plans.count)
            filePlans.append(UInt32(plans.count))
        }

        var typeNumbers: [String: UInt32] = [:]
        var typeLines: [Lines] = []
        var pageTypes: [Bool] = []
        var paths = PathTable(capacity: manifest.files.count)
        var files: [ServedFile] = []
        files.reserveCapacity(manifest.files.count)
        for (number, entry) in manifest.files.enumerated() {
            let type = ContentType.isText(entry.type) ? entry.type + "; charset=utf-8" : entry.type
            let typeNumber = typeNumbers[type] ?? {
                typeLines.append(add("Content-Type: \(type)\r\n"))
                pageTypes.append(entry.type == "text/html")
                typeNumbers[type] = UInt32(typeLines.count - 1)
                return UInt32(typeLines.count - 1)
            }()
            // ETag first and always 42 bytes: a 304 sends just that line, and If-None-Match compares with it.
            let identity = add("ETag: \"\(entry.sha256.prefix(32))\"\r\nContent-Length: \(entry.size)\r\n")
            // Each variant its own ETag, from its own bytes: caches never mix representations.
            var variants = ServedFile.Variants(gzip: nil, br: nil, zstd: nil)
            for encoding in entry.variantEncodings {
                let variant = entry[variant: encoding]!
                variants[encoding] = ServedFile.Variant(size: variant.size,
                                                        lines: add("ETag: \"\(variant.sha256.prefix(32))\"\r\nContent-Length: \(variant.size)\r\n"))
            }
            paths.append(entry.path)
            let plan = filePlans[number]
            let immutable = plan == 0 ? nil : plans[Int(plan) - 1].declaresImmutable
            guard let digest = ContentDigest(hex: entry.sha256) else {
                throw StrataError(.corrupt, "release \(manifest.id) has a sha256 that is not 64 hex digits for '\(Escaped.path(entry.path))'")
            }
            files.append(ServedFile(size: entry.size, digest: digest,
                                    identity: identity, variants: variants, type: typeNumber,
                                    isHashNamed: immutable ?? HashedName.matches(entry.path.utf8[...]), plan: plan))
        }
        self.plans = plans
        hasImmutableOverrides = plans.contains { $0.declaresImmutable == true }
        redirects = rules.redirects.isEmpty ? nil : RedirectTable(rules.redirects)
        self.typeLines = typeLines
        self.pageTypes = pageTypes
        self.lines = lines
        self.paths = paths
        self.files = files
        indexPage = paths.find("index.html".utf8)
        notFoundPage = paths.find("404.html".utf8)
        ruleFiles = (paths.find(SiteRules.redirectsFile.utf8), paths.find(SiteRules.headersFile.utf8))
    }

    /// The file at `path`, unless it is one of the rule files.
    func find<Path: Collection<UInt8>>(_ path: Path) -> Int? {
        servable(paths.find(path))
    }

    /// The `index.html` of the folder `path` ("" for the root).
    func findIndex<Path: Collection<UInt8>>(_ path: Path) -> Int? {
        path.isEmpty ? indexPage : paths.find(path, suffix: "/index.html".utf8)
    }

    /// `path` + `.html`, for sites built with `.html` pages asked for without the extension.
    func findPage<Path: Collection<UInt8>>(_ path: Path) -> Int? {
        path.isEmpty ? nil : paths.find(path, suffix: ".html".utf8)
    }

    private func servable(_ file: Int?) -> Int? {
        guard let file, file != ruleFiles.0, file != ruleFiles.1 else { return nil }
        return file
    }

    /// The plan for a file's 2xx and 304 heads, if `_headers` has one for it.
    func plan(of file: ServedFile) -> HeaderPlan? {
        file.plan == 0 ? nil : plans[Int(file.plan) - 1]
    }

    /// The `ETag: "…"\r\n` line of a representation.
    static let entityTagLineLength = 42

    /// The quoted entity tag within a representation's lines, for comparing with `If-None-Match`.
    func entityTag(_ representation: Lines) -> ArraySlice<UInt8> {
        let start = Int(representation.start) + 6
        return lines[start..<(start + Self.entityTagLineLength - 8)]
    }

    func path(of file: Int) -> String { paths.path(file) }

    /// The file is a page (HTML): its answers count as page views.
    func isPage(_ file: Int) -> Bool { pageTypes[Int(files[file].type)] }

    /// Bytes held by the index's tables (what a release costs the server while loaded).
    var footprint: Int {
        paths.footprint + files.capacity * MemoryLayout<ServedFile>.stride + lines.capacity
            + typeLines.capacity * MemoryLayout<Lines>.stride + (redirects?.footprint ?? 0)
    }
}

extension EncodingTable<ServedFile.Variant?> {
    var isEmpty: Bool { gzip == nil && br == nil && zstd == nil }
}

/// One file of a release: what a response needs besides the shared lines.
struct ServedFile: Sendable {
    let size: Int64
    let digest: ContentDigest
    /// `ETag` and `Content-Length` lines of the identity bytes.
    let identity: ReleaseIndex.Lines
    let variants: Variants
    /// Index into `ReleaseIndex.typeLines`.
    let type: UInt32
    /// The name carries a content hash (`app.3f9a12c4.js`): safe to cache forever, even on channel URLs.
    let isHashNamed: Bool
    /// Its `_headers` plan, numbered from 1; 0: none.
    let plan: UInt32

    struct Variant: Sendable {
        let size: Int64
        let lines: ReleaseIndex.Lines
    }

    /// The precompressed copies it has, one slot per `ContentEncoding`, inline.
    typealias Variants = EncodingTable<Variant?>

    /// The `ETag` and `Content-Length` lines of a representation.
    func lines(_ encoding: ContentEncoding?) -> ReleaseIndex.Lines {
        encoding.map { variants[$0]!.lines } ?? identity
    }

    /// The size of a representation.
    func size(_ encoding: ContentEncoding?) -> Int64 {
        encoding.map { variants[$0]!.size } ?? size
    }
}

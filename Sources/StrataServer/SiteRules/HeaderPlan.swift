import StrataCore

/// What `_headers` does to the head of one file's 2xx and 304 answers, worked out once when the
/// release loads: which of Strata's own header lines to leave out (replaced or removed) and the
/// prepared lines to add. Files with the same matching blocks share one plan.
struct HeaderPlan: Sendable {
    /// Strata's headers a rule may replace or remove.
    struct Dropped: OptionSet, Sendable {
        let rawValue: UInt8
        static let cacheControl = Dropped(rawValue: 1)
        static let vary = Dropped(rawValue: 2)
        static let contentType = Dropped(rawValue: 4)
        static let noSniff = Dropped(rawValue: 8)
        static let acceptRanges = Dropped(rawValue: 16)

        init(rawValue: UInt8) { self.rawValue = rawValue }

        init?(header name: String) {
            switch name {
            case "cache-control": self = .cacheControl
            case "vary": self = .vary
            case "content-type": self = .contentType
            case "x-content-type-options": self = .noSniff
            case "accept-ranges": self = .acceptRanges
            default: return nil
            }
        }
    }

    let dropped: Dropped
    let lines: ReleaseIndex.Lines
    /// The `Cache-Control` the rules set says `immutable` (true), or not (false); nil: not set.
    let declaresImmutable: Bool?

    /// The header values after every matching block, in order: values of one name joined with `, `,
    /// `! Name` clearing what came before.
    static func merge(_ blocks: [HeaderRule]) -> (fields: [(String, String)], dropped: Dropped, immutable: Bool?) {
        var order: [String] = []
        var display: [String: String] = [:]
        var values: [String: [String]] = [:]
        var dropped: Dropped = []
        for block in blocks {
            for action in block.actions {
                switch action {
                case .set(let name, let value):
                    let key = name.lowercased()
                    if display[key] == nil { order.append(key); display[key] = name }
                    values[key, default: []].append(value)
                    if let own = Dropped(header: key) { dropped.insert(own) }
                case .remove(let name):
                    let key = name.lowercased()
                    values[key] = nil
                    if let own = Dropped(header: key) { dropped.insert(own) }
                }
            }
        }
        let fields = order.compactMap { key in values[key].map { (display[key]!, $0.joined(separator: ", ")) } }
        let cacheControl = values["cache-control"].map { $0.joined(separator: ", ").lowercased().contains("immutable") }
        return (fields, dropped, cacheControl)
    }
}

/// Assigns header plans to a release's files.
struct HeaderPlanner {
    private let rules: [HeaderRule]
    private let trie: PatternTrie

    init(_ rules: [HeaderRule]) {
        self.rules = rules
        trie = PatternTrie(rules.map(\.pattern))
    }

    /// The blocks that apply to the file at `path`: those matching its path, and for an
    /// `index.html`, its folder's URL too (`/docs/` as well as `/docs/index.html`).
    func blocks(for path: String) -> [Int] {
        var found = trie.all(path.utf8[...])
        if path == "index.html" || path.hasSuffix("/index.html") {
            let folder = path.dropLast("index.html".count).dropLast(path == "index.html" ? 0 : 1)
            found = Array(Set(found + trie.all(folder.utf8[...]))).sorted()
        }
        return found
    }

    func rules(_ numbers: [Int]) -> [HeaderRule] { numbers.map { rules[$0] } }
}

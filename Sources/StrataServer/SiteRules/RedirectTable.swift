import StrataCore

/// A release's `_redirects`, compiled: the first matching rule is found in time that depends on
/// the path, not on how many rules there are (`PatternTrie`).
final class RedirectTable: Sendable {
    let rules: [RedirectRule]
    private let trie: PatternTrie
    /// Some rule ends in `!`, so every request must be checked before its file is served.
    let hasForced: Bool

    init(_ rules: [RedirectRule]) {
        self.rules = rules
        trie = PatternTrie(rules.map(\.from), forced: rules.map(\.isForced))
        hasForced = rules.contains(where: \.isForced)
    }

    var footprint: Int { trie.footprint + rules.capacity * MemoryLayout<RedirectRule>.stride }

    /// The first rule matching `path` (segments joined by single slashes, decoded); with
    /// `forcedOnly`, the first `!` rule.
    func first<Path: BidirectionalCollection<UInt8>>(_ path: Path, forcedOnly: Bool) -> RedirectRule? where Path.SubSequence == Path {
        trie.first(path, forcedOnly: forcedOnly).map { rules[$0] }
    }
}


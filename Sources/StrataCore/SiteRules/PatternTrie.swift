/// Rule patterns compiled into a tree of segments, so finding the rules that match a path costs
/// the path's length, not the number of rules: 100,000 `_redirects` lines cost what 10 do.
///
/// Each node is a path prefix. Its literal children are found in one hash table of
/// (parent, segment bytes); a `:name` placeholder is one more child per node (all placeholders
/// match any one segment); rules whose pattern ends at the node, or ends there in `*`, hang off
/// it as a chain in rule order. Works on the request's own bytes: a lookup allocates nothing.
/// (Lookups are `@inlinable` so the server's calls are specialized for its path types.)
public struct PatternTrie: Sendable {
    @usableFromInline
    struct Node: Sendable {
        @usableFromInline var placeholder: Int32 = -1
        /// First rule (lowest number) ending here, and ending here in `*`; -1: none.
        @usableFromInline var exact: Int32 = -1
        @usableFromInline var splat: Int32 = -1

        init() {}
    }

    @usableFromInline var nodes: [Node] = [Node()]
    @usableFromInline var literals = SegmentTable()
    /// For each rule, the next rule (in file order) with the same end node and kind; -1: none.
    @usableFromInline var next: [Int32]
    /// Rules allowed to win over an existing file (`!`).
    @usableFromInline let forced: [Bool]

    public init(_ patterns: [RulePattern], forced: [Bool]? = nil) {
        next = Array(repeating: -1, count: patterns.count)
        self.forced = forced ?? Array(repeating: false, count: patterns.count)
        var exactTails: [Int32: Int32] = [:]
        var splatTails: [Int32: Int32] = [:]
        for (number, pattern) in patterns.enumerated() {
            var node: Int32 = 0
            for segment in pattern.segments {
                switch segment {
                case .literal(let text):
                    if let child = literals.find(parent: node, text.utf8) {
                        node = child
                    } else {
                        nodes.append(Node())
                        let child = Int32(nodes.count - 1)
                        literals.insert(parent: node, text.utf8, child: child)
                        node = child
                    }
                case .placeholder:
                    if nodes[Int(node)].placeholder < 0 {
                        nodes.append(Node())
                        nodes[Int(node)].placeholder = Int32(nodes.count - 1)
                    }
                    node = nodes[Int(node)].placeholder
                }
            }
            let rule = Int32(number)
            if pattern.hasSplat {
                if let tail = splatTails[node] { next[Int(tail)] = rule } else { nodes[Int(node)].splat = rule }
                splatTails[node] = rule
            } else {
                if let tail = exactTails[node] { next[Int(tail)] = rule } else { nodes[Int(node)].exact = rule }
                exactTails[node] = rule
            }
        }
    }

    public var footprint: Int { nodes.capacity * MemoryLayout<Node>.stride + next.capacity * 4 + forced.capacity + literals.footprint }

    /// The first rule (in file order) whose pattern matches `path` (segments joined by single
    /// slashes, no leading or trailing slash); with `forcedOnly`, the first `!` rule.
    @inlinable
    public func first<Path: BidirectionalCollection<UInt8>>(_ path: Path, forcedOnly: Bool = false) -> Int? where Path.SubSequence == Path {
        var best = Int32.max
        visit(0, path, path.startIndex, forcedOnly: forcedOnly, best: &best)
        return best == .max ? nil : Int(best)
    }

    /// Every rule whose pattern matches `path`, in file order.
    @inlinable
    public func all<Path: BidirectionalCollection<UInt8>>(_ path: Path) -> [Int] where Path.SubSequence == Path {
        var found: [Int] = []
        collect(0, path, path.startIndex, into: &found)
        return found.sorted()
    }

    @inlinable
    func visit<Path: BidirectionalCollection<UInt8>>(_ node: Int32, _ path: Path, _ position: Path.Index, forcedOnly: Bool,
                                                             best: inout Int32) where Path.SubSequence == Path {
        let here = nodes[Int(node)]
        consider(here.splat, forcedOnly: forcedOnly, best: &best)
        guard position != path.endIndex else {
            consider(here.exact, forcedOnly: forcedOnly, best: &best)
            return
        }
        let end = path[position...].firstIndex(of: UInt8(ascii: "/")) ?? path.endIndex
        let after = end == path.endIndex ? end : path.index(after: end)
        if let child = literals.find(parent: node, path[position..<end]) {
            visit(child, path, after, forcedOnly: forcedOnly, best: &best)
        }
        if here.placeholder >= 0 {
            visit(here.placeholder, path, after, forcedOnly: forcedOnly, best: &best)
        }
    }

    /// Lowers `best` to the first acceptable rule of a chain, if that is earlier.
    @inlinable
    func consider(_ chain: Int32, forcedOnly: Bool, best: inout Int32) {
        var rule = chain
        while rule >= 0 && rule < best {
            if !forcedOnly || forced[Int(rule)] {
                best = rule
                return
            }
            rule = next[Int(rule)]
        }
    }

    @inlinable
    func collect<Path: BidirectionalCollection<UInt8>>(_ node: Int32, _ path: Path, _ position: Path.Index,
                                                               into found: inout [Int]) where Path.SubSequence == Path {
        let here = nodes[Int(node)]
        var rule = here.splat
        while rule >= 0 { found.append(Int(rule)); rule = next[Int(rule)] }
        guard position != path.endIndex else {
            rule = here.exact
            while rule >= 0 { found.append(Int(rule)); rule = next[Int(rule)] }
            return
        }
        let end = path[position...].firstIndex(of: UInt8(ascii: "/")) ?? path.endIndex
        let after = end == path.endIndex ? end : path.index(after: end)
        if let child = literals.find(parent: node, path[position..<end]) { collect(child, path, after, into: &found) }
        if here.placeholder >= 0 { collect(here.placeholder, path, after, into: &found) }
    }
}

/// (parent node, segment bytes) → child node, by open addressing over one byte array.
@usableFromInline
struct SegmentTable: Sendable {
    @usableFromInline
    struct Entry: Sendable {
        @usableFromInline let parent: Int32
        @usableFromInline let child: Int32
        @usableFromInline let start: UInt32
        @usableFromInline let length: UInt32

        init(parent: Int32, child: Int32, start: UInt32, length: UInt32) {
            self.parent = parent
            self.child = child
            self.start = start
            self.length = length
        }
    }

    @usableFromInline var bytes: [UInt8] = []
    @usableFromInline var entries: [Entry] = []
    /// Entry number + 1 per slot; 0 is empty. A power of two, at most half full.
    @usableFromInline var slots = [Int32](repeating: 0, count: 16)

    init() {}

    public var footprint: Int { bytes.capacity + entries.capacity * MemoryLayout<Entry>.stride + slots.capacity * 4 }

    @inlinable
    func find<Segment: Collection<UInt8>>(parent: Int32, _ segment: Segment) -> Int32? {
        let length = segment.count
        var slot = Self.hash(parent, segment) & (slots.count - 1)
        while true {
            let number = slots[slot]
            if number == 0 { return nil }
            let entry = entries[Int(number - 1)]
            if entry.parent == parent, Int(entry.length) == length,
               bytes[Int(entry.start)..<(Int(entry.start) + length)].elementsEqual(segment) {
                return entry.child
            }
            slot = (slot + 1) & (slots.count - 1)
        }
    }

    mutating func insert<Segment: Collection<UInt8>>(parent: Int32, _ segment: Segment, child: Int32) {
        if (entries.count + 1) * 2 > slots.count { grow() }
        entries.append(Entry(parent: parent, child: child, start: UInt32(bytes.count), length: UInt32(segment.count)))
        bytes.append(contentsOf: segment)
        place(entries.count - 1)
    }

    private mutating func grow() {
        slots = [Int32](repeating: 0, count: slots.count * 2)
        for number in entries.indices { place(number) }
    }

    private mutating func place(_ number: Int) {
        let entry = entries[number]
        var slot = Self.hash(entry.parent, bytes[Int(entry.start)..<(Int(entry.start) + Int(entry.length))]) & (slots.count - 1)
        while slots[slot] != 0 { slot = (slot + 1) & (slots.count - 1) }
        slots[slot] = Int32(number + 1)
    }

    /// FNV-1a over the parent's number and the segment.
    @inlinable
    static func hash<Segment: Collection<UInt8>>(_ parent: Int32, _ segment: Segment) -> Int {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(UInt32(bitPattern: parent))
        value = value &* 0x100_0000_01b3
        for byte in segment { value = (value ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return Int(truncatingIfNeeded: value ^ (value >> 29))
    }
}

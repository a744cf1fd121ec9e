/// What changed from one release to another, file by file, from their manifests alone.
public struct ReleaseDiff: Sendable, Encodable {
    public struct Change: Sendable, Encodable, Equatable {
        public let path: String
        /// Size in the older release; nil for an added file.
        public let oldSize: Int64?
        /// Size in the newer release; nil for a removed file.
        public let newSize: Int64?
    }

    public let from: String
    public let to: String
    public let added: [Change]
    public let removed: [Change]
    public let changed: [Change]
    public let unchangedCount: Int

    /// Bytes the newer release adds (new and changed files) and drops (removed and replaced ones).
    public var bytesAdded: Int64 { added.reduce(0) { $0 + ($1.newSize ?? 0) } + changed.reduce(0) { $0 + ($1.newSize ?? 0) } }
    public var bytesRemoved: Int64 { removed.reduce(0) { $0 + ($1.oldSize ?? 0) } + changed.reduce(0) { $0 + ($1.oldSize ?? 0) } }
    public var isEmpty: Bool { added.isEmpty && removed.isEmpty && changed.isEmpty }

    public init(from old: Manifest, to new: Manifest) {
        from = old.id
        to = new.id
        let before = Dictionary(old.files.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        let after = Dictionary(new.files.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        var added: [Change] = [], removed: [Change] = [], changed: [Change] = []
        var unchanged = 0
        for entry in new.files {
            if let previous = before[entry.path] {
                if previous.sha256 == entry.sha256 { unchanged += 1 } else {
                    changed.append(Change(path: entry.path, oldSize: previous.size, newSize: entry.size))
                }
            } else {
                added.append(Change(path: entry.path, oldSize: nil, newSize: entry.size))
            }
        }
        for entry in old.files where after[entry.path] == nil {
            removed.append(Change(path: entry.path, oldSize: entry.size, newSize: nil))
        }
        self.added = added
        self.removed = removed
        self.changed = changed
        unchangedCount = unchanged
    }

    enum CodingKeys: String, CodingKey {
        case from, to, added, removed, changed, unchangedCount, bytesAdded, bytesRemoved
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(from, forKey: .from)
        try container.encode(to, forKey: .to)
        try container.encode(added, forKey: .added)
        try container.encode(removed, forKey: .removed)
        try container.encode(changed, forKey: .changed)
        try container.encode(unchangedCount, forKey: .unchangedCount)
        try container.encode(bytesAdded, forKey: .bytesAdded)
        try container.encode(bytesRemoved, forKey: .bytesRemoved)
    }
}

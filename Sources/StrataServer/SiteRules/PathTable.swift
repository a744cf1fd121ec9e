/// The paths of one release, looked up by their UTF-8 bytes without making a `String`.
///
/// Every path lives in one byte array; an open-addressing table of file numbers finds them. A
/// `[String: …]` would cost a heap object per path longer than 15 bytes and a `String` per request
/// to look one up; this costs about 45 bytes per path and nothing per lookup.
struct PathTable: Sendable {
    private var bytes: [UInt8] = []
    /// Where each path starts in `bytes`, by file number; the last element is the end of the last path.
    private var starts: [UInt32] = [0]
    /// File number + 1 per slot; 0 is an empty slot. Size is a power of two, at most half full.
    private var slots: [UInt32]

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size *= 2 }
        slots = Array(repeating: 0, count: size)
        bytes.reserveCapacity(capacity * 32)
        starts.reserveCapacity(capacity + 1)
    }

    var count: Int { starts.count - 1 }

    var footprint: Int { bytes.capacity + starts.capacity * 4 + slots.capacity * 4 }

    /// Adds the next path; its file number is `count` before the call. Paths must be distinct.
    mutating func append(_ path: String) {
        let number = UInt32(count)
        bytes.append(contentsOf: path.utf8)
        starts.append(UInt32(bytes.count))
        var slot = Self.hash(path.utf8, suffix: EmptyCollection()) & (slots.count - 1)
        while slots[slot] != 0 { slot = (slot + 1) & (slots.count - 1) }
        slots[slot] = number + 1
    }

    /// The file number of the path made of `prefix` followed by `suffix` (for `folder/` +
    /// `index.html`), or nil.
    func find<Prefix: Collection<UInt8>, Suffix: Collection<UInt8>>(_ prefix: Prefix, suffix: Suffix) -> Int? {
        let length = prefix.count + suffix.count
        var slot = Self.hash(prefix, suffix: suffix) & (slots.count - 1)
        while true {
            let entry = slots[slot]
            if entry == 0 { return nil }
            let number = Int(entry - 1)
            let start = Int(starts[number])
            if Int(starts[number + 1]) - start == length, matches(at: start, prefix, suffix) { return number }
            slot = (slot + 1) & (slots.count - 1)
        }
    }

    func find<Key: Collection<UInt8>>(_ key: Key) -> Int? {
        find(key, suffix: EmptyCollection())
    }

    /// The path of file `number`.
    func path(_ number: Int) -> String {
        String(decoding: bytes[Int(starts[number])..<Int(starts[number + 1])], as: UTF8.self)
    }

    private func matches<Prefix: Collection<UInt8>, Suffix: Collection<UInt8>>(at start: Int, _ prefix: Prefix, _ suffix: Suffix) -> Bool {
        var position = start
        for byte in prefix {
            if bytes[position] != byte { return false }
            position += 1
        }
        for byte in suffix {
            if bytes[position] != byte { return false }
            position += 1
        }
        return true
    }

    /// FNV-1a over the bytes of both parts; paths are short, so a simple hash is fast enough.
    private static func hash<Prefix: Collection<UInt8>, Suffix: Collection<UInt8>>(_ prefix: Prefix, suffix: Suffix) -> Int {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in prefix { value = (value ^ UInt64(byte)) &* 0x100_0000_01b3 }
        for byte in suffix { value = (value ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return Int(truncatingIfNeeded: value ^ (value >> 29))
    }
}

import NIOCore
import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Small files kept in memory by one event loop, keyed by content digest and representation.
/// Releases are immutable, so an entry can never go stale: the same digest is the same bytes. Only
/// the loop's own thread touches it: no lock, and each loop has its share of the budget.
///
/// When the budget is full a random entry makes room. First-in-first-out (or least recently used)
/// would keep nothing at all when a site larger than the budget is read in a cycle, as crawlers and
/// the mixed benchmark do; a random victim keeps about budget ÷ site of it, and popular files,
/// asked for again before they are picked, stay.
final class HotBodies {
    let maxFileBytes: Int
    private let budget: Int
    private var entries: [Key: Entry] = [:]
    /// Every key once, to pick a victim in constant time.
    private var keys: [Key] = []
    private var bytes = 0
    private var generator = SystemRandomNumberGenerator()

    struct Key: Hashable {
        let digest: ContentDigest
        let gzip: Bool
    }

    private struct Entry {
        let buffer: ByteBuffer
        var position: Int
    }

    init(maxFileBytes: Int, budget: Int) {
        self.maxFileBytes = maxFileBytes
        self.budget = budget
    }

    func cached(_ key: Key) -> ByteBuffer? {
        entries[key]?.buffer
    }

    /// Reads the whole representation from `descriptor` and keeps it. Nil when the read fails or
    /// comes up short (the file is not what the manifest says).
    func load(_ key: Key, size: Int, from descriptor: NIOFileHandle) -> ByteBuffer? {
        var buffer = ByteBufferAllocator().buffer(capacity: size)
        let complete = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { raw in
            (try? descriptor.withUnsafeFileDescriptor { Self.readFully($0, into: UnsafeMutableRawBufferPointer(rebasing: raw[..<size])) }) ?? 0
        }
        guard complete == size else { return nil }
        guard size <= budget else { return buffer }
        while bytes + size > budget, !keys.isEmpty {
            evict(at: Int.random(in: 0..<keys.count, using: &generator))
        }
        entries[key] = Entry(buffer: buffer, position: keys.count)
        keys.append(key)
        bytes += size
        return buffer
    }

    private func evict(at position: Int) {
        let victim = keys[position]
        let last = keys.removeLast()
        if position < keys.count {
            keys[position] = last
            entries[last]?.position = position
        }
        if let removed = entries.removeValue(forKey: victim) { bytes -= removed.buffer.readableBytes }
    }

    private static func readFully(_ descriptor: CInt, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        var done = 0
        while done < buffer.count {
            let count = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(done))
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            done += count
        }
        return done
    }
}

import StrataCore
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
/// When the budget is full a random entry makes room (`RandomVictims` says why random).
final class HotBodies {
    let maxFileBytes: Int
    private let budget: Int
    private var buffers: [Key: ByteBuffer] = [:]
    private var victims = RandomVictims<Key>()
    private var bytes = 0
    private var generator = CacheRandom()

    struct Key: Hashable {
        let digest: ContentDigest
        let encoding: ContentEncoding?
    }

    init(maxFileBytes: Int, budget: Int) {
        self.maxFileBytes = maxFileBytes
        self.budget = budget
    }

    func cached(_ key: Key) -> ByteBuffer? {
        buffers[key]
    }

    /// Once full, one new file in `admitOneIn` is taken (making room at random). A site read in a
    /// cycle (crawlers, the mixed benchmark) would otherwise evict a file per request, and each
    /// would be read, copied and freed for one answer; a popular file, asked for often, still gets
    /// in after a few requests.
    static let admitOneIn = 8

    func admits(size: Int) -> Bool {
        bytes + size <= budget || Int.random(in: 0..<Self.admitOneIn, using: &generator) == 0
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
        while bytes + size > budget, let victim = victims.removeRandom() {
            if let evicted = buffers.removeValue(forKey: victim) { bytes -= evicted.readableBytes }
        }
        if let replaced = buffers.updateValue(buffer, forKey: key) { bytes -= replaced.readableBytes }
        victims.insert(key)
        bytes += size
        return buffer
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

import NIOCore
import StrataCore
import SystemPackage

/// Small files kept in memory by one event loop, keyed by content digest and representation.
/// Releases are immutable, so an entry can never go stale: the same digest is the same bytes. When
/// the budget is full the oldest entries make room (first in, first out). Only the loop's own
/// thread touches it: no lock, and each loop has its share of the budget.
final class HotBodies {
    let maxFileBytes: Int
    private let budget: Int
    private var buffers: [Key: ByteBuffer] = [:]
    private var order: [Key] = []
    private var head = 0
    private var bytes = 0

    struct Key: Hashable {
        let digest: ContentDigest
        let gzip: Bool
    }

    init(maxFileBytes: Int, budget: Int) {
        self.maxFileBytes = maxFileBytes
        self.budget = budget
    }

    /// The whole representation, from memory or read from its file now (and kept). Nil when it
    /// cannot be read, e.g. its release was pruned.
    func content(_ key: Key, size: Int64, of file: FileResponse) -> ByteBuffer? {
        if let buffer = buffers[key] { return buffer }
        guard let buffer = Self.read(file.location, size: Int(size)) else { return nil }
        guard Int(size) <= maxFileBytes, Int(size) <= budget else { return buffer }
        while bytes + Int(size) > budget, head < order.count {
            let oldest = order[head]
            head += 1
            if let evicted = buffers.removeValue(forKey: oldest) { bytes -= evicted.readableBytes }
        }
        if head > 1024 && head * 2 > order.count {  // compact the queue now and then
            order.removeFirst(head)
            head = 0
        }
        buffers[key] = buffer
        order.append(key)
        bytes += Int(size)
        return buffer
    }

    private static func read(_ path: FilePath, size: Int) -> ByteBuffer? {
        guard let file = try? FileSystem.open(path, .readOnly, purpose: "read") else { return nil }
        var buffer = ByteBufferAllocator().buffer(capacity: size)
        let complete = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { raw in
            (try? file.read(fromAbsoluteOffset: 0, into: UnsafeMutableRawBufferPointer(rebasing: raw[..<size]))) ?? 0
        }
        return complete == size ? buffer : nil
    }
}

import NIOCore
import StrataCore
import Synchronization
import SystemPackage

/// Small files kept in memory, keyed by content digest, shared by every release and connection.
/// Releases are immutable, so an entry can never go stale: the same digest is the same bytes. When
/// the budget is full the oldest entries make room (first in, first out).
final class HotFiles: Sendable {
    let maxFileBytes: Int
    private let budget: Int
    private let state = Mutex<State>(State())

    private struct State {
        var buffers: [String: ByteBuffer] = [:]
        var order: [String] = []
        var head = 0
        var bytes = 0
    }

    init(maxFileBytes: Int, budget: Int) {
        self.maxFileBytes = maxFileBytes
        self.budget = budget
    }

    /// The whole content of the file at `folder/path` with this digest, from memory or read now
    /// (and kept). Nil when it cannot be read, e.g. its release was pruned.
    func content(digest: String, in folder: FilePath, path: String, size: Int64) -> ByteBuffer? {
        if let buffer = state.withLock({ $0.buffers[digest] }) { return buffer }
        guard let buffer = Self.read(folder.appending(path), size: Int(size)) else { return nil }
        guard Int(size) <= maxFileBytes, Int(size) <= budget else { return buffer }
        state.withLock { state in
            guard state.buffers[digest] == nil else { return }
            while state.bytes + Int(size) > budget, state.head < state.order.count {
                let oldest = state.order[state.head]
                state.head += 1
                if let evicted = state.buffers.removeValue(forKey: oldest) { state.bytes -= evicted.readableBytes }
            }
            if state.head > 1024 && state.head * 2 > state.order.count {  // compact the queue now and then
                state.order.removeFirst(state.head)
                state.head = 0
            }
            state.buffers[digest] = buffer
            state.order.append(digest)
            state.bytes += Int(size)
        }
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

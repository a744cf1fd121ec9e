import NIOCore
import StrataCore
import SystemPackage

/// Descriptors of large files kept open by one event loop, so sending one costs a `sendfile`, not
/// an `open` and a `close` per request. Bounded; the oldest is closed to make room, and all are
/// closed when a release leaves the registry. A descriptor still being sent from is closed only
/// once its last write is done (closing it earlier could let the number be reused mid-send).
final class OpenFiles {
    private let capacity: Int
    private var open: [Key: Descriptor] = [:]
    private var order: [Key] = []

    struct Key: Hashable {
        let release: UInt64
        let file: Int32
        let gzip: Bool
    }

    final class Descriptor {
        let handle: NIOFileHandle
        fileprivate var sending = 0
        fileprivate var retired = false

        fileprivate init(_ handle: NIOFileHandle) {
            self.handle = handle
        }
    }

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// An open descriptor for the file, opened now if needed; nil when it cannot be opened.
    /// Call `finished(_:)` once the write using it is complete.
    func borrow(_ key: Key, of file: FileResponse) -> Descriptor? {
        if let known = open[key] {
            known.sending += 1
            return known
        }
        guard let file = try? FileSystem.open(file.location, .readOnly, purpose: "read") else { return nil }
        file.adviseSequentialRead()
        // A FileRegion (sendfile) needs an NIOFileHandle, and NIO offers no other way than taking
        // over a descriptor.
        let descriptor = Descriptor(NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: file.takeDescriptor().rawValue))
        if order.count >= capacity, let oldest = order.first {
            order.removeFirst()
            if let evicted = open.removeValue(forKey: oldest) { retire(evicted) }
        }
        open[key] = descriptor
        order.append(key)
        descriptor.sending += 1
        return descriptor
    }

    func finished(_ descriptor: Descriptor) {
        descriptor.sending -= 1
        if descriptor.retired && descriptor.sending == 0 { try? descriptor.handle.close() }
    }

    /// Closes every descriptor (those being sent from once they are done).
    func closeAll() {
        open.values.forEach(retire)
        open.removeAll()
        order.removeAll()
    }

    private func retire(_ descriptor: Descriptor) {
        descriptor.retired = true
        if descriptor.sending == 0 { try? descriptor.handle.close() }
    }
}

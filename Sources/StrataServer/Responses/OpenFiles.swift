import NIOCore
import StrataCore
import SystemPackage

/// Descriptors of files kept open by one event loop, so sending a large file costs a `sendfile`
/// and reading a small one into memory a `pread`, not an `open` and a `close` per request (nginx's
/// `open_file_cache`). Bounded; a random one is closed to make room (`RandomVictims` says why),
/// and all are closed when a release leaves the registry. A descriptor still being sent
/// from is closed only once its last write is done (closing it earlier could let the number be
/// reused mid-send).
final class OpenFiles {
    private let capacity: Int
    private var open: [Key: Descriptor] = [:]
    private var victims = RandomVictims<Key>()

    struct Key: Hashable {
        let release: UInt64
        let file: Int32
        let encoding: ContentEncoding?
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
        self.capacity = max(1, capacity)
    }

    /// An open descriptor for the file, opened now if needed; or why it cannot be opened.
    /// Call `finished(_:)` once done with it (for a send: once the write is complete).
    func borrow(_ key: Key, of file: FileResponse) -> Result<Descriptor, Errno> {
        if let known = open[key] {
            known.sending += 1
            return .success(known)
        }
        let opened: OpenFile
        do {
            opened = OpenFile(try FileDescriptor.open(file.location, .readOnly, options: .closeOnExec), path: file.location)
        } catch {
            return .failure(error as? Errno ?? .ioError)
        }
        opened.adviseSequentialRead()
        if victims.count >= capacity, let victim = victims.removeRandom(), let evicted = open.removeValue(forKey: victim) {
            retire(evicted)
        }
        // A FileRegion (sendfile) needs an NIOFileHandle, and NIO offers no other way than taking
        // over a descriptor.
        let descriptor = Descriptor(NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: opened.takeDescriptor().rawValue))
        open[key] = descriptor
        victims.insert(key)
        descriptor.sending += 1
        return .success(descriptor)
    }

    func finished(_ descriptor: Descriptor) {
        descriptor.sending -= 1
        if descriptor.retired && descriptor.sending == 0 { try? descriptor.handle.close() }
    }

    /// Closes every descriptor (those being sent from once they are done).
    func closeAll() {
        open.values.forEach(retire)
        open.removeAll()
        victims.removeAll()
    }

    private func retire(_ descriptor: Descriptor) {
        descriptor.retired = true
        if descriptor.sending == 0 { try? descriptor.handle.close() }
    }
}

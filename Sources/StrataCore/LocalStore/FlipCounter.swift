#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CLinux
import SystemPackage

/// `<root>/flips`: a number every pointer change in a local store adds one to, right after its
/// rename. A server maps the file and compares one load with the value it last checked at, so a
/// request costs no `stat` while nothing moved, and a request that starts after a flip returned
/// still sees it: the add happens before the flipping command returns, and the mapping shares the
/// page the add wrote.
///
/// Writers create the file (whole, under a temporary name, then renamed) and add under the store's
/// lock; servers only read it, and fall back to a `stat` per request while it is missing (a store
/// written by an older strata).
struct FlipCounter: Sendable {
    let path: FilePath

    /// The file holds one 64-bit counter at offset 0, in native byte order (it never leaves the machine).
    static let size = 8

    init(path: FilePath) {
        self.path = path
    }

    /// Creates the counter at zero if there is none. Call with the store's write lock held.
    func createIfMissing() throws {
        guard !FileSystem.exists(path) else { return }
        try FileSystem.replaceAtomically(path, with: [UInt8](repeating: 0, count: Self.size))
    }

    /// The counter mapped for writing, checked before a flip so that nothing can fail after its
    /// rename: a flip that is in effect must not report an error.
    func openForAdding() throws -> Adder {
        try createIfMissing()
        let file = path.withPlatformString { open($0, O_RDWR | O_CLOEXEC) }
        guard file >= 0 else { throw StrataError.system("update", path) }
        defer { close(file) }
        var status = stat()
        guard fstat(file, &status) == 0, status.st_size >= Self.size else {
            throw StrataError(.io, "'\(path)' is shorter than a flip counter; remove it and flip again")
        }
        guard let mapped = mmap(nil, Self.size, PROT_READ | PROT_WRITE, MAP_SHARED, file, 0), mapped != MAP_FAILED else {
            throw StrataError.system("map", path)
        }
        return Adder(mapped: mapped)
    }

    /// One writable mapping of the counter; unmapped when released.
    final class Adder {
        private let mapped: UnsafeMutableRawPointer

        fileprivate init(mapped: UnsafeMutableRawPointer) {
            self.mapped = mapped
        }

        deinit {
            munmap(mapped, FlipCounter.size)
        }

        func addOne() {
            _ = strata_shared_increment(mapped.assumingMemoryBound(to: UInt64.self))
        }
    }
}

/// A server thread's read-only view of a `FlipCounter`. Not thread-safe: one per watcher.
final class FlipCounterView {
    private let path: FilePath
    private var mapped: UnsafeMutableRawPointer?
    /// Device and inode of the mapped file: a store restored from a backup brings a new one.
    private var identity: (device: UInt64, inode: UInt64)?

    init(path: FilePath) {
        self.path = path
        refresh()
    }

    deinit {
        if let mapped { munmap(mapped, FlipCounter.size) }
    }

    /// The counter now; nil while no counter file is mapped.
    var value: UInt64? {
        guard let mapped else { return nil }
        return strata_shared_load(mapped.assumingMemoryBound(to: UInt64.self))
    }

    /// Maps the file again if it appeared or was replaced since (one `stat`); call now and then.
    func refresh() {
        var status = stat()
        guard path.withPlatformString({ stat($0, &status) }) == 0, status.st_size >= FlipCounter.size else {
            unmap()
            return
        }
        if let identity, identity == (UInt64(status.st_dev), UInt64(status.st_ino)), mapped != nil { return }
        unmap()
        let file = path.withPlatformString { open($0, O_RDONLY | O_CLOEXEC) }
        guard file >= 0 else { return }
        defer { close(file) }
        guard fstat(file, &status) == 0, status.st_size >= FlipCounter.size,
              let pointer = mmap(nil, FlipCounter.size, PROT_READ, MAP_SHARED, file, 0), pointer != MAP_FAILED else { return }
        mapped = pointer
        identity = (UInt64(status.st_dev), UInt64(status.st_ino))
    }

    private func unmap() {
        if let mapped { munmap(mapped, FlipCounter.size) }
        mapped = nil
        identity = nil
    }
}

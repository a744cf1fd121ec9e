import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A private folder under `staging/` where a release is assembled before it is renamed into place.
///
/// Its owner holds an flock on the folder for as long as it works, so the next writer can tell a live
/// staging folder from one abandoned by a crash: if it can take the flock, nobody owns it any more.
final class StagingArea {
    let path: FilePath
    private let ownership: OpenFile

    private init(path: FilePath, ownership: OpenFile) {
        self.path = path
        self.ownership = ownership
    }

    /// Creates a staging folder. Call with the store lock held, so a cleaner cannot see the folder
    /// between its creation and its flock.
    static func create(in layout: StoreLayout, purpose: String) throws -> StagingArea {
        var random = SystemRandomNumberGenerator()
        let path = layout.staging.appending("\(purpose)-\(getpid())-\(String(random.next() as UInt64, radix: 36))")
        guard path.withPlatformString({ mkdir($0, 0o755) }) == 0 else { throw StrataError.system("create staging folder", path) }
        let handle = try FileSystem.open(path, .readOnly, options: .directory)
        guard flock(handle.descriptor.rawValue, LOCK_EX | LOCK_NB) == 0 else { throw StrataError.system("lock staging folder", path) }
        return StagingArea(path: path, ownership: handle)
    }

    /// Removes the folder and whatever is left in it.
    func discard() {
        try? FileSystem.removeTree(path)
    }

    /// Removes staging folders whose owner is gone. Call with the store lock held.
    static func removeAbandoned(in layout: StoreLayout) throws {
        for name in try FileSystem.entries(layout.staging) {
            let path = layout.staging.appending(name)
            guard let handle = try? FileSystem.open(path, .readOnly) else { continue }
            if flock(handle.descriptor.rawValue, LOCK_EX | LOCK_NB) == 0 {
                try FileSystem.removeTree(path)
            }
        }
    }
}

@available(*, unavailable)
extension StagingArea: Sendable {}

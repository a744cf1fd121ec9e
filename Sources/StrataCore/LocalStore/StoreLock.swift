import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The writers' lock: `flock` on `<root>/lock`, which also records who holds it.
///
/// The kernel drops an flock when its holder dies, so a lock left by a killed process never blocks
/// anyone: the next writer takes it at once and overwrites the stale record. A live holder makes
/// others wait, up to a timeout, then fail with a message naming the holder.
public final class StoreLock {
    public static let defaultTimeout: Double = 60

    private let file: OpenFile
    private var isHeld = true

    private init(file: OpenFile) {
        self.file = file
    }

    deinit {
        release()
    }

    /// Releases the lock, clearing the holder's record first, so an idle store's lock file is empty
    /// and a write that changed nothing leaves the store byte-for-byte as it was.
    func release() {
        guard isHeld else { return }
        isHeld = false
        _ = ftruncate(file.descriptor.rawValue, 0)
        flock(file.descriptor.rawValue, LOCK_UN)
    }

    static func acquire(_ path: FilePath, timeoutSeconds: Double) throws -> StoreLock {
        let file = try FileSystem.open(path, .readWrite, options: .create, purpose: "open the lock file")
        let deadline = Monotonic.now + timeoutSeconds
        while flock(file.descriptor.rawValue, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else { throw StrataError.system("lock", path) }
            if Monotonic.now >= deadline {
                let holder = (try? file.readToEnd()).flatMap { String(validating: $0, as: UTF8.self) } ?? ""
                let who = holder.trimmingWhitespace().isEmpty ? "another process" : holder.trimmingWhitespace()
                throw StrataError(.locked, "the store is locked by \(who); gave up after \(Int(timeoutSeconds))s (STRATA_LOCK_TIMEOUT sets the wait)")
            }
            usleep(20_000)
        }
        let record = "pid \(getpid()) on \(ProcessIdentity.hostName()) since \(Timestamp.now())\n"
        _ = ftruncate(file.descriptor.rawValue, 0)
        _ = record.withCString { pwrite(file.descriptor.rawValue, $0, strlen($0), 0) }
        return StoreLock(file: file)
    }
}

@available(*, unavailable)
extension StoreLock: Sendable {}

enum Monotonic {
    static var now: Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = lastIndex(where: { !isSpace($0) })!
        return String(self[first...last])
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SystemPackage

/// Answers "did the pointer move?" for servers that ask on every request, most often with no
/// system call at all.
///
/// Every flip a strata command makes adds one to the store's `FlipCounter` before the command
/// returns; while the mapped counter still holds the value of the last check, nothing strata wrote
/// moved, and the cached stamp stands. A pointer replaced by something else (a hand-made rename, a
/// restored backup) is seen at the next check of the folder, made at least once a second.
///
/// That check is one `fstat` of the pointers' folder, already open, instead of a `stat` of the
/// pointer's path (a third of the cost, no path walk). Why that is enough: a flip renames a new
/// file over the pointer, which sets the folder's modification time to the current time. While
/// that time is unchanged since a full check made after it had settled, nothing was renamed into
/// the folder since. "Settled" allows for timestamps coarser than the clock (kernel ticks; two
/// seconds on FAT): within `settleTime` of a folder change every check is a full one. A full check
/// also runs at least once a second, which covers a folder replaced whole. Without a counter file
/// (a store written by an older strata) the folder is checked on every call.
final class LocalPointerWatcher: PointerWatcher {
    private let path: FilePath
    private let folderPath: FilePath
    /// The open folder, or -1 until it exists.
    private var folder: CInt = -1
    private var folderTimes: FolderTimes?
    /// Nanoseconds since the epoch, by the file system's clock.
    private var lastFullCheck: Int64 = 0
    private var cached: PointerStamp?
    private let flips: FlipCounterView
    /// The counter's value read just before the last folder check (nil: no counter then).
    private var flipsAtLastCheck: UInt64?
    /// When the folder was last checked, nanoseconds since the epoch.
    private var lastFolderCheck: Int64 = 0

    static let settleTime: Int64 = 2_000_000_000
    static let fullCheckEvery: Int64 = 1_000_000_000
    /// How long a pointer changed by something other than strata can go unseen.
    static let folderCheckEvery: Int64 = 1_000_000_000

    private struct FolderTimes: Equatable {
        let modified: timespec
        let changed: timespec

        static func == (lhs: FolderTimes, rhs: FolderTimes) -> Bool {
            lhs.modified.tv_sec == rhs.modified.tv_sec && lhs.modified.tv_nsec == rhs.modified.tv_nsec
                && lhs.changed.tv_sec == rhs.changed.tv_sec && lhs.changed.tv_nsec == rhs.changed.tv_nsec
        }
    }

    init(pointer path: FilePath, folder: FilePath, flips: FlipCounter) {
        self.path = path
        folderPath = folder
        self.flips = FlipCounterView(path: flips.path)
    }

    private func openFolder() {
        folder = (try? FileDescriptor.open(folderPath, .readOnly, options: [.directory, .closeOnExec]).rawValue) ?? -1
    }

    deinit {
        if folder >= 0 { close(folder) }
    }

    func stamp() -> PointerStamp? {
        let now = Self.now()
        if let flipsNow = flips.value, flipsNow == flipsAtLastCheck, now < lastFolderCheck + Self.folderCheckEvery {
            return cached
        }
        if now >= lastFolderCheck + Self.folderCheckEvery { flips.refresh() }
        // The counter before the folder: a flip that adds after this load makes the next call check again.
        flipsAtLastCheck = flips.value
        lastFolderCheck = now
        return folderCheckedStamp(now: now)
    }

    private func folderCheckedStamp(now: Int64) -> PointerStamp? {
        let times = currentFolderTimes()
        if let times, times == folderTimes,
           lastFullCheck > Self.nanoseconds(times.modified) + Self.settleTime,
           now < lastFullCheck + Self.fullCheckEvery {
            return cached
        }
        // Folder times first: a flip landing between the two reads changes them again, so the next
        // call checks in full; the reverse order could pair an old stamp with new folder times.
        folderTimes = times
        lastFullCheck = now
        cached = LocalPointerStorage.stamp(of: path)
        return cached
    }

    private func currentFolderTimes() -> FolderTimes? {
        if folder < 0 { openFolder() }
        guard folder >= 0 else { return nil }
        var status = stat()
        guard fstat(folder, &status) == 0 else { return nil }
        #if canImport(Darwin)
        return FolderTimes(modified: status.st_mtimespec, changed: status.st_ctimespec)
        #else
        return FolderTimes(modified: status.st_mtim, changed: status.st_ctim)
        #endif
    }

    private static func now() -> Int64 {
        var time = timespec()
        #if os(Linux)
        clock_gettime(CLOCK_REALTIME_COARSE, &time)
        #else
        clock_gettime(CLOCK_REALTIME, &time)
        #endif
        return nanoseconds(time)
    }

    private static func nanoseconds(_ time: timespec) -> Int64 {
        Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }
}

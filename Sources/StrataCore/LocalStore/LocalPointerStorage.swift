import SystemPackage

/// Pointers as files: `<folder>/<name>` holds the value and is only ever replaced whole (temporary
/// file, fsync, rename, fsync folder), so a reader sees the old value or the new one; each flip is a
/// line appended to `<historyFolder>/<name>.jsonl`. The store's flock serialises writers, so a
/// compare-and-swap is a check of the stamp followed by the rename, and the rename is followed by
/// an add to the store's `FlipCounter`.
struct LocalPointerStorage: PointerStorage {
    let folder: FilePath
    let historyFolder: FilePath
    /// Added to after every rename, so servers notice the flip without a `stat` of their own.
    let flips: FlipCounter
    /// Folders created on the first write (config pointers arrived after the store's first layout).
    var parents: [FilePath] = []

    private func pointer(_ name: String) -> FilePath { folder.appending(name) }
    private func historyFile(_ name: String) -> FilePath { historyFolder.appending(name + ".jsonl") }

    func names() throws -> [String] {
        try FileSystem.entries(folder).filter { !$0.hasPrefix(".") }
    }

    func read(_ name: String) throws -> (bytes: [UInt8], stamp: PointerStamp)? {
        // Stamp first: if a flip lands between the two calls, the stamp is older than the bytes and the
        // next watcher check reads again; the reverse order could pin new bytes to an old stamp.
        let path = pointer(name)
        let stamp: PointerStamp
        do {
            stamp = try Self.readStamp(of: path)
        } catch {
            if error == .noSuchFileOrDirectory || error == .notDirectory { return nil }  // never set
            throw StrataError.system("read", path, errno: error)  // there, but unreadable: not "never set"
        }
        guard let bytes = try FileSystem.readFile(path) else { return nil }
        return (bytes, stamp)
    }

    func stamper(_ name: String) -> @Sendable () -> PointerStamp? {
        let path = pointer(name)
        return { Self.stamp(of: path) }
    }

    /// Asked on every request: answers from the flip counter, or one `fstat` (see `LocalPointerWatcher`).
    func watcher(_ name: String) -> any PointerWatcher {
        LocalPointerWatcher(pointer: pointer(name), folder: folder, flips: flips)
    }

    /// The rename is the flip; the history line follows it (a crash between the two loses the line,
    /// never the flip, and the history reader skips a torn last line).
    func replace(_ name: String, with bytes: [UInt8], logging line: [UInt8], ifStamp expected: PointerStamp?) throws -> Bool {
        guard Self.stamp(of: pointer(name)) == expected else { return false }
        for parent in parents { try FileSystem.makeDirectory(parent) }
        let counter = try flips.openForAdding()
        try FileSystem.replaceAtomically(pointer(name), with: bytes)
        counter.addOne()
        try FileSystem.appendDurably(historyFile(name), line)
        return true
    }

    func history(_ name: String) throws -> [UInt8]? {
        try FileSystem.readFile(historyFile(name))
    }

    func historyStamper(_ name: String) -> @Sendable () -> PointerStamp? {
        let path = historyFile(name)
        return { Self.stamp(of: path) }
    }

    /// What `stat` says about a file, enough to tell that it was replaced or changed.
    static func stamp(of path: FilePath) -> PointerStamp? {
        try? readStamp(of: path)
    }

    private static func readStamp(of path: FilePath) throws(Errno) -> PointerStamp {
        let status = try path.stat()
        return .file(device: UInt64(status.deviceID.rawValue), inode: UInt64(status.inode.rawValue), size: status.size,
                     seconds: Int(status.st_mtim.tv_sec), nanoseconds: Int(status.st_mtim.tv_nsec))
    }
}

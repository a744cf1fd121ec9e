#if canImport(Glibc)
import Glibc
#endif

/// Thin, throwing wrappers over the POSIX calls the store needs.
///
/// Durability rules live here so every writer gets them right: data is fsynced before a rename makes
/// it visible, and the folder is fsynced after, so the new name survives a crash too.
enum FileSystem {
    struct Status {
        let raw: stat
        var isRegularFile: Bool { raw.st_mode & S_IFMT == S_IFREG }
        var isDirectory: Bool { raw.st_mode & S_IFMT == S_IFDIR }
        var isSymlink: Bool { raw.st_mode & S_IFMT == S_IFLNK }
        var size: Int64 { Int64(raw.st_size) }
        var linkCount: Int { Int(raw.st_nlink) }
        var device: UInt64 { UInt64(raw.st_dev) }
        var inode: UInt64 { UInt64(raw.st_ino) }

        /// A short word for file types Strata refuses, for error messages.
        var kindDescription: String {
            switch raw.st_mode & S_IFMT {
            case S_IFREG: return "file"
            case S_IFDIR: return "folder"
            case S_IFLNK: return "symlink"
            case S_IFIFO: return "FIFO"
            case S_IFSOCK: return "socket"
            case S_IFCHR: return "character device"
            case S_IFBLK: return "block device"
            default: return "special file"
            }
        }
    }

    /// `lstat`: the entry itself, not what a symlink points at. Nil when it does not exist.
    static func linkStatus(_ path: String) throws -> Status? {
        var info = stat()
        if lstat(path, &info) == 0 { return Status(raw: info) }
        if errno == ENOENT || errno == ENOTDIR { return nil }
        throw StrataError.system("inspect", path)
    }

    /// `stat`: follows symlinks. Nil when it does not exist.
    static func status(_ path: String) throws -> Status? {
        var info = stat()
        if stat(path, &info) == 0 { return Status(raw: info) }
        if errno == ENOENT || errno == ENOTDIR { return nil }
        throw StrataError.system("inspect", path)
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644, purpose: String = "open") throws -> FileDescriptor {
        let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
        guard fd >= 0 else { throw StrataError.system(purpose, path) }
        return FileDescriptor(fd, path: path)
    }

    /// Creates a folder; succeeds quietly when it already exists.
    static func makeDirectory(_ path: String, mode: mode_t = 0o755) throws {
        if mkdir(path, mode) == 0 || errno == EEXIST { return }
        throw StrataError.system("create folder", path)
    }

    static func changeMode(_ path: String, _ mode: mode_t) throws {
        guard chmod(path, mode) == 0 else { throw StrataError.system("change the mode of", path) }
    }

    static func rename(_ from: String, to: String) throws {
        guard Glibc.rename(from, to) == 0 else { throw StrataError.system("rename to '\(to)'", from) }
    }

    static func removeFile(_ path: String) throws {
        guard unlink(path) == 0 || errno == ENOENT else { throw StrataError.system("remove", path) }
    }

    /// Makes the entries of a folder (creations, renames, removals) durable.
    static func syncDirectory(_ path: String) throws {
        let directory = try open(path, O_RDONLY | O_DIRECTORY)
        try directory.sync()
    }

    /// The names in a folder, as raw bytes (names need not be valid UTF-8), without `.` and `..`.
    static func entryNames(_ path: String) throws -> [[UInt8]] {
        guard let stream = opendir(path) else { throw StrataError.system("list", path) }
        defer { closedir(stream) }
        var names: [[UInt8]] = []
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                if errno != 0 { throw StrataError.system("list", path) }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Array(raw.prefix { $0 != 0 })
            }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            names.append(name)
        }
        return names
    }

    /// The names in a folder that are valid UTF-8; others are skipped. For folders Strata itself
    /// writes; a folder that does not exist (yet) has no entries.
    static func entries(_ path: String) throws -> [String] {
        guard exists(path) else { return [] }
        return try entryNames(path).compactMap { String(validating: $0, as: UTF8.self) }
    }

    /// Removes a tree, including the read-only folders and files of a release.
    static func removeTree(_ path: String) throws {
        guard let status = try linkStatus(path) else { return }
        if status.isDirectory {
            try changeMode(path, 0o755)
            for name in try entries(path) {
                try removeTree(path + "/" + name)
            }
            guard rmdir(path) == 0 || errno == ENOENT else { throw StrataError.system("remove folder", path) }
        } else {
            try removeFile(path)
        }
    }

    /// Reads a whole (small) file. Nil when it does not exist.
    static func readFile(_ path: String) throws -> [UInt8]? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw StrataError.system("read", path)
        }
        let file = FileDescriptor(fd, path: path)
        return try file.readAll()
    }

    /// Replaces `path` atomically and durably: write a temporary file beside it, fsync, rename over,
    /// fsync the folder. Readers see the old content or the new, never a mix.
    static func replaceAtomically(_ path: String, with bytes: [UInt8], mode: mode_t = 0o644) throws {
        let folder = parent(of: path)
        let temporary = folder + "/." + baseName(of: path) + ".tmp-\(getpid())"
        do {
            let file = try open(temporary, O_WRONLY | O_CREAT | O_TRUNC, mode: mode, purpose: "create")
            try file.writeAll(bytes)
            try file.sync()
            try file.close()
            try rename(temporary, to: path)
        } catch {
            _ = unlink(temporary)
            throw error
        }
        try syncDirectory(folder)
    }

    /// Creates a new file with `bytes`, durably (file and folder entry).
    static func writeNewFile(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws {
        let file = try open(path, O_WRONLY | O_CREAT | O_EXCL, mode: mode, purpose: "create")
        try file.writeAll(bytes)
        try file.sync()
        try file.close()
    }

    /// Appends one record with a single write(2) and fsyncs it; creating the file makes its folder durable too.
    static func appendDurably(_ path: String, _ bytes: [UInt8]) throws {
        let isNew = !exists(path)
        let file = try open(path, O_WRONLY | O_APPEND | O_CREAT, purpose: "append to")
        try file.writeAll(bytes)
        try file.sync()
        try file.close()
        if isNew { try syncDirectory(parent(of: path)) }
    }

    static func parent(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "." }
        if slash == path.utf8.startIndex { return "/" }
        return String(path[..<slash])
    }

    static func baseName(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return path }
        return String(path[path.utf8.index(after: slash)...])
    }

    /// The absolute, symlink-free form of `path`, or nil when it (or a link on the way) does not resolve.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// Owns one open file descriptor and closes it when released.
final class FileDescriptor {
    let raw: Int32
    let path: String
    private var isOpen = true

    init(_ raw: Int32, path: String) {
        self.raw = raw
        self.path = path
    }

    deinit {
        if isOpen { Glibc.close(raw) }
    }

    func close() throws {
        guard isOpen else { return }
        isOpen = false
        guard Glibc.close(raw) == 0 else { throw StrataError.system("close", path) }
    }

    func sync() throws {
        guard fsync(raw) == 0 else { throw StrataError.system("sync", path) }
    }

    func writeAll(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try writeAll($0) }
    }

    func writeAll(_ buffer: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < buffer.count {
            let written = Glibc.write(raw, buffer.baseAddress! + offset, buffer.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw StrataError.system("write", path)
            }
            offset += written
        }
    }

    /// Reads up to `buffer.count` bytes; 0 means end of file.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let count = Glibc.read(raw, buffer.baseAddress!, buffer.count)
            if count >= 0 { return count }
            if errno != EINTR { throw StrataError.system("read", path) }
        }
    }

    func readAll() throws -> [UInt8] {
        var result: [UInt8] = []
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        defer { chunk.deallocate() }
        while true {
            let count = try read(into: chunk)
            if count == 0 { return result }
            result.append(contentsOf: chunk.prefix(count))
        }
    }
}

@available(*, unavailable)
extension FileDescriptor: Sendable {}

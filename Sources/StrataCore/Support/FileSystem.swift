import SystemPackage
#if os(Linux)
import CLinux
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The file layer of every target: swift-system's `FilePath`, `FileDescriptor`, `Stat` and `Errno`,
/// plus the calls swift-system does not wrap (fsync, link, rename, mkdir, readdir, realpath) and the
/// durability rules, so every writer gets them right: data is fsynced before a rename makes it
/// visible, and the folder is fsynced after, so the new name survives a crash too.
///
/// Errors are `StrataError`s naming the path and the system's reason.
public enum FileSystem {
    /// `stat` (following symlinks) or `lstat` (`followingLinks: false`). Nil when it does not exist.
    public static func status(_ path: FilePath, followingLinks: Bool = true) throws -> Stat? {
        do {
            return try path.stat(followTargetSymlink: followingLinks)
        } catch let error where error == .noSuchFileOrDirectory || error == .notDirectory {
            return nil
        } catch {
            throw StrataError.system("inspect", path, errno: error)
        }
    }

    /// `lstat`: the entry itself, not what a symlink points at. Nil when it does not exist.
    public static func linkStatus(_ path: FilePath) throws -> Stat? {
        try status(path, followingLinks: false)
    }

    public static func exists(_ path: FilePath) -> Bool {
        (try? path.stat(followTargetSymlink: false)) != nil
    }

    /// Opens `path` close-on-exec; the returned owner closes it when released.
    public static func open(_ path: FilePath, _ mode: FileDescriptor.AccessMode, options: FileDescriptor.OpenOptions = [],
                            permissions: FilePermissions = [.ownerReadWrite, .groupRead, .otherRead],
                            purpose: String = "open") throws -> OpenFile {
        do {
            let descriptor = try FileDescriptor.open(path, mode, options: options.union(.closeOnExec), permissions: permissions)
            return OpenFile(descriptor, path: path)
        } catch let error as Errno {
            throw StrataError.system(purpose, path, errno: error)
        }
    }

    /// Creates a folder; succeeds quietly when it already exists.
    public static func makeDirectory(_ path: FilePath, permissions: FilePermissions = [.ownerReadWriteExecute, .groupReadExecute, .otherReadExecute]) throws {
        try check(path.withPlatformString { mkdir($0, permissions.rawValue) } == 0 || errno == EEXIST, "create folder", path)
    }

    /// `mkdir -p`.
    public static func makeDirectories(_ path: FilePath) throws {
        if exists(path) { return }
        let parent = path.removingLastComponent()
        if parent != path && !parent.isEmpty { try makeDirectories(parent) }
        try makeDirectory(path)
    }

    public static func changeMode(_ path: FilePath, _ permissions: FilePermissions) throws {
        try check(path.withPlatformString { chmod($0, permissions.rawValue) } == 0, "change the mode of", path)
    }

    public static func rename(_ from: FilePath, to: FilePath) throws {
        let status = from.withPlatformString { source in to.withPlatformString { posixRename(source, $0) } }
        try check(status == 0, "rename to '\(to)'", from)
    }

    /// A hard link. False when `existing` is missing or has the most links the file system allows,
    /// or (with `allowExisting`) when `new` exists already: the caller then copies or moves on.
    public static func link(_ existing: FilePath, as new: FilePath, allowExisting: Bool = false,
                            purpose: String = "link to") throws -> Bool {
        let status = existing.withPlatformString { source in new.withPlatformString { posixLink(source, $0) } }
        if status == 0 { return true }
        if errno == ENOENT || errno == EMLINK || (allowExisting && errno == EEXIST) { return false }
        throw StrataError.system(purpose, new)
    }

    public static func removeFile(_ path: FilePath) throws {
        try check(path.withPlatformString { unlink($0) } == 0 || errno == ENOENT, "remove", path)
    }

    /// Removes an empty folder; false when it is not empty (or gone).
    @discardableResult
    public static func removeEmptyDirectory(_ path: FilePath) throws -> Bool {
        if path.withPlatformString({ rmdir($0) }) == 0 { return true }
        if errno == ENOTEMPTY || errno == EEXIST || errno == ENOENT { return false }
        throw StrataError.system("remove folder", path)
    }

    /// True where one whole-file-system flush makes everything written before it durable (Linux's
    /// syncfs), so a writer of many files may skip each file's fsync and flush once at the end
    /// (`FileSystemFlush`).
    static var canSyncFileSystem: Bool {
        #if os(Linux)
        true
        #else
        false
        #endif
    }

    /// Makes the entries of a folder (creations, renames, removals) durable.
    public static func syncDirectory(_ path: FilePath) throws {
        try open(path, .readOnly, options: .directory).sync()
    }

    /// The names in a folder, as raw bytes (names need not be valid UTF-8), without `.` and `..`.
    public static func entryNames(_ path: FilePath) throws -> [[UInt8]] {
        var names: [[UInt8]] = []
        try eachEntry(path) { name, _ in names.append(name) }
        return names
    }

    /// The names of the folders in a folder (not following links), from the types `readdir` gives:
    /// a release's variants folder holds thousands of files, which need no `lstat` each.
    public static func subfolders(_ path: FilePath) throws -> [String] {
        var names: [String] = []
        try eachEntry(path) { raw, type in
            guard type == UInt8(DT_DIR) || type == UInt8(DT_UNKNOWN), let name = String(validating: raw, as: UTF8.self) else { return }
            // Some file systems leave the type unknown; ask those.
            if type == UInt8(DT_UNKNOWN), try linkStatus(path.appending(name))?.isDirectory != true { return }
            names.append(name)
        }
        return names
    }

    /// Calls `body` with each entry's name (without `.` and `..`) and its `readdir` type.
    private static func eachEntry(_ path: FilePath, _ body: ([UInt8], UInt8) throws -> Void) throws {
        guard let stream = path.withPlatformString({ opendir($0) }) else { throw StrataError.system("list", path) }
        defer { closedir(stream) }
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                if errno != 0 { throw StrataError.system("list", path) }
                return
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Array(raw.prefix { $0 != 0 })
            }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            try body(name, entry.pointee.d_type)
        }
    }

    /// The names in a folder that are valid UTF-8; others are skipped. For folders Strata itself
    /// writes; a folder that does not exist (yet) has no entries.
    public static func entries(_ path: FilePath) throws -> [String] {
        guard exists(path) else { return [] }
        return try entryNames(path).compactMap { String(validating: $0, as: UTF8.self) }
    }

    /// Removes a tree, including the read-only folders and files of a release.
    public static func removeTree(_ path: FilePath) throws {
        guard let status = try linkStatus(path) else { return }
        if status.type == .directory {
            try changeMode(path, [.ownerReadWriteExecute, .groupReadExecute, .otherReadExecute])
            for name in try entries(path) {
                try removeTree(path.appending(name))
            }
            _ = try removeEmptyDirectory(path)
        } else {
            try removeFile(path)
        }
    }

    /// Reads a whole (small) file. Nil when it does not exist.
    public static func readFile(_ path: FilePath) throws -> [UInt8]? {
        let file: OpenFile
        do {
            file = try OpenFile(FileDescriptor.open(path, .readOnly, options: .closeOnExec), path: path)
        } catch let error as Errno where error == .noSuchFileOrDirectory || error == .notDirectory {
            return nil
        } catch let error as Errno {
            throw StrataError.system("read", path, errno: error)
        }
        return try file.readWhole()
    }

    /// Replaces `path` atomically and durably: write a temporary file beside it, fsync, rename over,
    /// fsync the folder. Readers see the old content or the new, never a mix.
    public static func replaceAtomically(_ path: FilePath, with bytes: [UInt8], permissions: FilePermissions = .defaultFile) throws {
        try writeAtomically(path, permissions: permissions) { try $0.writeAll(bytes) }
    }

    /// Writes a new file beside `path` with `body`, fsyncs it and renames it over `path`, then fsyncs
    /// the folder: the file appears whole or not at all.
    public static func writeAtomically<T>(_ path: FilePath, permissions: FilePermissions = .defaultFile,
                                          _ body: (OpenFile) throws -> T) throws -> T {
        let temporary = temporarySibling(of: path)
        let result: T
        do {
            let file = try open(temporary, .writeOnly, options: [.create, .truncate], permissions: permissions, purpose: "create")
            result = try body(file)
            try file.sync()
            try file.close()
            try rename(temporary, to: path)
        } catch {
            try? removeFile(temporary)
            throw error
        }
        try syncDirectory(folder(of: path))
        return result
    }

    /// `.name.tmp-<pid>` beside `path`: hidden, and named by its writer.
    private static func temporarySibling(of path: FilePath) -> FilePath {
        folder(of: path).appending(".\(path.lastComponent?.string ?? "file").tmp-\(getpid())")
    }

    /// Creates a new file with `bytes`, durably (file and folder entry).
    public static func writeNewFile(_ path: FilePath, _ bytes: [UInt8], permissions: FilePermissions = .defaultFile,
                                    sync: Bool = true) throws {
        let file = try open(path, .writeOnly, options: [.create, .exclusiveCreate], permissions: permissions, purpose: "create")
        try file.writeAll(bytes)
        if sync { try file.sync() }
        try file.close()
    }

    /// Appends one record with a single write(2) and fsyncs it; creating the file makes its folder durable too.
    public static func appendDurably(_ path: FilePath, _ bytes: [UInt8]) throws {
        let isNew = !exists(path)
        let file = try open(path, .writeOnly, options: [.append, .create], purpose: "append to")
        try file.writeAll(bytes)
        try file.sync()
        try file.close()
        if isNew { try syncDirectory(folder(of: path)) }
    }

    /// The folder holding `path`: `.` for a bare name.
    public static func folder(of path: FilePath) -> FilePath {
        let parent = path.removingLastComponent()
        return parent.isEmpty ? "." : parent
    }

    /// The absolute, symlink-free form of `path`, or nil when it (or a link on the way) does not resolve.
    public static func realPath(_ path: FilePath) -> FilePath? {
        guard let resolved = path.withPlatformString({ realpath($0, nil) }) else { return nil }
        defer { free(resolved) }
        return FilePath(platformString: resolved)
    }

    private static func check(_ succeeded: Bool, _ operation: String, _ path: FilePath) throws {
        guard succeeded else { throw StrataError.system(operation, path) }
    }
}

// The C calls whose names `FileSystem` reuses for its own functions.
private func posixRename(_ from: UnsafePointer<CChar>, _ to: UnsafePointer<CChar>) -> Int32 { rename(from, to) }
private func posixLink(_ existing: UnsafePointer<CChar>, _ new: UnsafePointer<CChar>) -> Int32 { link(existing, new) }

extension FilePermissions {
    /// 0644: what Strata's own small files get.
    public static let defaultFile: FilePermissions = [.ownerReadWrite, .groupRead, .otherRead]
    /// 0444: release files and everything written once.
    public static let readOnlyFile: FilePermissions = [.ownerRead, .groupRead, .otherRead]
    /// 0555: a sealed release folder.
    public static let readOnlyFolder: FilePermissions = [.ownerReadExecute, .groupReadExecute, .otherReadExecute]
    /// 0755.
    public static let defaultFolder: FilePermissions = [.ownerReadWriteExecute, .groupReadExecute, .otherReadExecute]
}

extension Stat {
    public var isRegularFile: Bool { type == .regular }
    public var isDirectory: Bool { type == .directory }
    public var isSymlink: Bool { type == .symbolicLink }

    /// A short word for file types Strata refuses, for error messages.
    public var kindDescription: String {
        switch type {
        case .regular: return "file"
        case .directory: return "folder"
        case .symbolicLink: return "symlink"
        case .fifo: return "FIFO"
        case .socket: return "socket"
        case .characterSpecial: return "character device"
        case .blockSpecial: return "block device"
        default: return "special file"
        }
    }
}

/// Owns one open file descriptor and closes it when released.
public final class OpenFile {
    public let descriptor: FileDescriptor
    public let path: FilePath
    private var isOpen = true

    public init(_ descriptor: FileDescriptor, path: FilePath) {
        self.descriptor = descriptor
        self.path = path
    }

    deinit {
        if isOpen { try? descriptor.close() }
    }

    public func close() throws {
        guard isOpen else { return }
        isOpen = false
        do { try descriptor.close() } catch let error as Errno { throw StrataError.system("close", path, errno: error) }
    }

    public func sync() throws {
        guard fsync(descriptor.rawValue) == 0 else { throw StrataError.system("sync", path) }
    }

    /// Tells the kernel the file will be read once, front to back (a hint; ignored where unsupported).
    public func adviseSequentialRead() {
        #if os(Linux)
        _ = posix_fadvise(descriptor.rawValue, 0, 0, POSIX_FADV_SEQUENTIAL)
        #endif
    }

    public func writeAll(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try writeAll($0) }
    }

    public func writeAll(_ buffer: UnsafeRawBufferPointer) throws {
        do { _ = try descriptor.writeAll(buffer) } catch let error as Errno { throw StrataError.system("write", path, errno: error) }
    }

    /// Reads up to `buffer.count` bytes; 0 means end of file.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        do { return try descriptor.read(into: buffer) } catch let error as Errno { throw StrataError.system("read", path, errno: error) }
    }

    /// The rest of the file, read into one array sized by its length: a manifest of 2 MB read 64 KiB
    /// at a time was copied again at every growth of the array.
    public func readWhole() throws -> [UInt8] {
        var info = stat()
        guard fstat(descriptor.rawValue, &info) == 0, info.st_size > 0, info.st_size < 1 << 40 else { return try readToEnd() }
        // One byte more than the length, so a file that grew since is seen to have grown.
        let capacity = Int(info.st_size) + 1
        var bytes = try [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
            count = 0
            while count < capacity {
                let read = try self.read(into: UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(buffer)[count...]))
                if read == 0 { break }
                count += read
            }
        }
        if bytes.count == capacity { bytes += try readToEnd() }
        return bytes
    }

    /// Reads from `offset` until `buffer` is full or the file ends; returns the bytes read.
    public func read(fromAbsoluteOffset offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var done = 0
        while done < buffer.count {
            let count: Int
            do {
                count = try descriptor.read(fromAbsoluteOffset: offset + Int64(done), into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]))
            } catch let error as Errno {
                throw StrataError.system("read", path, errno: error)
            }
            if count == 0 { break }
            done += count
        }
        return done
    }

    /// Gives up ownership: the caller closes the descriptor (for NIO's file regions).
    public func takeDescriptor() -> FileDescriptor {
        isOpen = false
        return descriptor
    }
}

@available(*, unavailable)
extension OpenFile: Sendable {}

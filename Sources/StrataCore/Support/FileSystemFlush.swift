import Foundation
import SystemPackage
#if os(Linux)
import CLinux
#endif

/// A whole-file-system flush (Linux's syncfs) begun early, on a thread of its own, and finished
/// once the last file is written.
///
/// A first publish writes its copies, then spends a second or more compressing while the cores are
/// busy and the disk is idle; a single `syncfs` at the end then waits for all of it to reach the
/// disk with nothing left to overlap. Begun after the copies, the writeback runs while the variants
/// are made, and `finish` flushes only what came after. Both calls use one descriptor, opened before
/// the first: a write-back error is reported once per descriptor, so one the early call found is
/// thrown by `finish`, never lost to a descriptor opened later.
final class FileSystemFlush: @unchecked Sendable {
    private let folder: OpenFile
    private let path: FilePath
    private let done = DispatchSemaphore(value: 0)
    /// Set by the early flush's thread before it signals `done`; read after waiting on it.
    private var earlyFailure: Errno?

    /// Opens the file system holding `path` and starts flushing it.
    init(containing path: FilePath) throws {
        self.path = path
        folder = try FileSystem.open(path, .readOnly, options: .directory)
        Thread.detachNewThread { [self] in
            #if os(Linux)
            if syncfs(folder.descriptor.rawValue) != 0 { earlyFailure = .lastError }
            #endif
            done.signal()
        }
    }

    /// Waits for the early flush, then flushes again: everything written before this call is
    /// durable when it returns.
    func finish() throws {
        done.wait()
        if let earlyFailure { throw StrataError.system("sync the file system of", path, errno: earlyFailure) }
        #if os(Linux)
        guard syncfs(folder.descriptor.rawValue) == 0 else { throw StrataError.system("sync the file system of", path) }
        #else
        try folder.sync()
        #endif
        try folder.close()
    }
}

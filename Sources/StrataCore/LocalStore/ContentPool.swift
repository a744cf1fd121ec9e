#if canImport(Glibc)
import Glibc
#endif

/// Hard links to every file content in the store, named by SHA-256.
///
/// A file whose content is already pooled is linked into a new release instead of copied, so a
/// release that changes three files writes three files. An entry whose only link is the pool's own
/// belongs to no release any more, and `collectGarbage` frees it.
struct ContentPool {
    let layout: StoreLayout

    /// Links pooled content to `destination`. False when the pool does not have it (or the file
    /// already has the most links the file system allows), so the caller copies instead.
    func link(_ sha256: String, to destination: String) throws -> Bool {
        if Glibc.link(layout.pooled(sha256), destination) == 0 { return true }
        if errno == ENOENT || errno == EMLINK { return false }
        throw StrataError.system("link pooled content to", destination)
    }

    /// Adds a newly written release file to the pool. Returns the fan-out folder it touched.
    @discardableResult
    func adopt(_ path: String, sha256: String) throws -> String {
        try adopt(path, as: layout.pooled(sha256))
    }

    /// Adds a file to the pool under `entry` (content or variant name). Returns the fan-out folder.
    @discardableResult
    func adopt(_ path: String, as entry: String) throws -> String {
        let folder = FileSystem.parent(of: entry)
        try FileSystem.makeDirectory(folder)
        if Glibc.link(path, entry) != 0 && errno != EEXIST && errno != EMLINK {
            throw StrataError.system("add to the content pool", path)
        }
        return folder
    }

    /// Removes pool entries no release links any more. Call with the store lock held.
    func collectGarbage() throws -> (files: Int, bytes: Int64) {
        var files = 0
        var bytes: Int64 = 0
        for fanOut in try FileSystem.entries(layout.pool) {
            let folder = layout.pool + "/" + fanOut
            for name in try FileSystem.entries(folder) {
                let entry = folder + "/" + name
                guard let status = try FileSystem.linkStatus(entry), status.linkCount <= 1 else { continue }
                try FileSystem.removeFile(entry)
                files += 1
                bytes += status.size
            }
            if rmdir(folder) != 0 && errno != ENOTEMPTY && errno != EEXIST {
                throw StrataError.system("remove folder", folder)
            }
        }
        if files > 0 { try FileSystem.syncDirectory(layout.pool) }
        return (files, bytes)
    }
}

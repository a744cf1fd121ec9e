import SystemPackage

/// Hard links to every file content in the store, named by SHA-256.
///
/// A file whose content is already pooled is linked into a new release instead of copied, so a
/// release that changes three files writes three files. An entry whose only link is the pool's own
/// belongs to no release any more, and `collectGarbage` frees it.
struct ContentPool {
    let layout: StoreLayout

    /// Links pooled content to `destination`. False when the pool does not have it (or the file
    /// already has the most links the file system allows), so the caller copies instead.
    func link(_ sha256: String, to destination: FilePath) throws -> Bool {
        try FileSystem.link(layout.pooled(sha256), as: destination, purpose: "link pooled content to")
    }

    /// Adds a newly written release file to the pool. Returns the fan-out folder it touched.
    @discardableResult
    func adopt(_ path: FilePath, sha256: String) throws -> FilePath {
        try adopt(path, as: layout.pooled(sha256))
    }

    /// Adds a file to the pool under `entry` (content or variant name). Returns the fan-out folder.
    @discardableResult
    func adopt(_ path: FilePath, as entry: FilePath) throws -> FilePath {
        let folder = entry.removingLastComponent()
        try FileSystem.makeDirectory(folder)
        _ = try FileSystem.link(path, as: entry, allowExisting: true, purpose: "add to the content pool")
        return folder
    }

    /// Removes pool entries no release links any more. Call with the store lock held.
    func collectGarbage() throws -> (files: Int, bytes: Int64) {
        var files = 0
        var bytes: Int64 = 0
        for fanOut in try FileSystem.entries(layout.pool) {
            let folder = layout.pool.appending(fanOut)
            for name in try FileSystem.entries(folder) {
                let entry = folder.appending(name)
                guard let status = try FileSystem.linkStatus(entry), status.linkCount <= 1 else { continue }
                try FileSystem.removeFile(entry)
                files += 1
                bytes += status.size
            }
            try FileSystem.removeEmptyDirectory(folder)
        }
        if files > 0 { try FileSystem.syncDirectory(layout.pool) }
        return (files, bytes)
    }
}

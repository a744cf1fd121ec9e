#if canImport(Glibc)
import Glibc
#endif

/// A file that appears whole or not at all: written beside its final name, fsynced, then renamed
/// over it. A failed or interrupted export never leaves half an archive under the name asked for.
public enum AtomicOutputFile {
    public static func write<T>(_ path: String, _ body: (Int32) throws -> T) throws -> T {
        let temporary = FileSystem.parent(of: path) + "/." + FileSystem.baseName(of: path) + ".tmp-\(getpid())"
        do {
            let file = try FileSystem.open(temporary, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644, purpose: "create")
            let result = try body(file.raw)
            try file.sync()
            try file.close()
            try FileSystem.rename(temporary, to: path)
            try FileSystem.syncDirectory(FileSystem.parent(of: path))
            return result
        } catch {
            _ = unlink(temporary)
            throw error
        }
    }
}

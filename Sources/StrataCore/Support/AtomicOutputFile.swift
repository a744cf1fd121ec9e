import SystemPackage

/// A file that appears whole or not at all, for outputs named by the user (`export -o`): a failed
/// or interrupted export never leaves half an archive under the name asked for.
public enum AtomicOutputFile {
    /// Calls `body` with the descriptor of a temporary file beside `path`, then renames it over `path`.
    public static func write<T>(_ path: String, _ body: (Int32) throws -> T) throws -> T {
        try FileSystem.writeAtomically(FilePath(path)) { try body($0.descriptor.rawValue) }
    }
}

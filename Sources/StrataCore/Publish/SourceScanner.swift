import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One regular file to publish: where it goes in the release and where to read it.
public struct SourceFile: Sendable, Equatable {
    /// Relative, `/`-separated path inside the release.
    public let path: String
    /// Absolute path to read the content from (a symlink's target, for links inside the source).
    public let location: FilePath
}

/// Walks a source folder and decides, entry by entry, what goes into a release.
///
/// The rules: regular files go in; a symlink resolving inside the source is stored as what it points
/// at; a link leading outside, a dangling link, a loop, a device, FIFO or socket, and names that are
/// not valid UTF-8 or hold control characters are refused, naming the entry. `.git/` and `.DS_Store`
/// are left out unless `includeEverything` is set. A top-level `.strata/` is refused: that name holds
/// Strata's own metadata inside every release.
struct SourceScanner {
    let includeEverything: Bool

    static let excludedByDefault: Set<String> = [".git", ".DS_Store"]

    /// The files to publish, sorted by path bytewise (the fingerprint's order).
    /// `allowEmpty`: a patch may only delete files, so its folder may be empty.
    func scan(_ source: String, allowEmpty: Bool = false) throws -> [SourceFile] {
        guard let status = try FileSystem.status(FilePath(source)) else {
            throw StrataError(.notFound, "source '\(source)' does not exist")
        }
        guard status.isDirectory else {
            throw StrataError(.invalidInput, "source '\(source)' is not a folder")
        }
        guard let root = FileSystem.realPath(FilePath(source)) else {
            throw StrataError.system("resolve", FilePath(source))
        }
        var files: [SourceFile] = []
        try visit(folder: root, relative: "", root: root, ancestors: [Self.identity(status)], into: &files)
        guard !files.isEmpty || allowEmpty else {
            throw StrataError(.invalidInput, "source '\(source)' has no files to publish")
        }
        files.sort { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        return files
    }

    private struct Identity: Hashable {
        let device: UInt64
        let inode: UInt64
    }

    private static func identity(_ status: Stat) -> Identity {
        Identity(device: UInt64(status.deviceID.rawValue), inode: UInt64(status.inode.rawValue))
    }

    private func visit(folder: FilePath, relative: String, root: FilePath, ancestors: Set<Identity>, into files: inout [SourceFile]) throws {
        for rawName in try FileSystem.entryNames(folder) {
            let name = try Self.validatedName(rawName, in: relative)
            let path = relative.isEmpty ? name : relative + "/" + name
            if relative.isEmpty && name == ReleaseLayout.metadataFolder {
                throw StrataError(.invalidInput, "source has a top-level '.strata', a name Strata reserves for release metadata")
            }
            if !includeEverything && Self.excludedByDefault.contains(name) { continue }

            let location = folder.appending(name)
            guard let entry = try FileSystem.linkStatus(location) else { continue }  // removed while scanning
            if entry.isRegularFile {
                files.append(SourceFile(path: path, location: location))
            } else if entry.isDirectory {
                try visit(folder: location, relative: path, root: root, ancestors: ancestors.union([Self.identity(entry)]), into: &files)
            } else if entry.isSymlink {
                try follow(link: location, path: path, root: root, ancestors: ancestors, into: &files)
            } else {
                throw StrataError(.invalidInput, "'\(Escaped.path(path))' is a \(entry.kindDescription); only files, folders and symlinks can be published")
            }
        }
    }

    private func follow(link: FilePath, path: String, root: FilePath, ancestors: Set<Identity>, into files: inout [SourceFile]) throws {
        guard let target = FileSystem.realPath(link) else {
            if errno == ELOOP {
                throw StrataError(.invalidInput, "symlink '\(Escaped.path(path))' loops")
            }
            throw StrataError(.invalidInput, "symlink '\(Escaped.path(path))' is dangling")
        }
        guard target.starts(with: root) else {
            throw StrataError(.invalidInput, "symlink '\(Escaped.path(path))' leads outside the source (to '\(target)')")
        }
        guard let status = try FileSystem.status(target) else {
            throw StrataError(.invalidInput, "symlink '\(Escaped.path(path))' is dangling")
        }
        if status.isRegularFile {
            files.append(SourceFile(path: path, location: target))
        } else if status.isDirectory {
            let identity = Self.identity(status)
            guard !ancestors.contains(identity) else {
                throw StrataError(.invalidInput, "symlink '\(Escaped.path(path))' points at a folder that contains it (a loop)")
            }
            try visit(folder: target, relative: path, root: root, ancestors: ancestors.union([identity]), into: &files)
        } else {
            throw StrataError(.invalidInput, "symlink '\(Escaped.path(path))' points at a \(status.kindDescription); only files and folders can be published")
        }
    }

    /// A name as text, or an error showing it escaped when it is not valid UTF-8 or has control characters.
    static func validatedName(_ raw: [UInt8], in relative: String) throws -> String {
        let shown = (relative.isEmpty ? "" : Escaped.path(relative) + "/") + Escaped.bytes(raw)
        guard let name = String(validating: raw, as: UTF8.self) else {
            throw StrataError(.invalidInput, "file name '\(shown)' is not valid UTF-8")
        }
        guard !name.unicodeScalars.contains(where: Escaped.isControl) else {
            throw StrataError(.invalidInput, "file name '\(shown)' has a control character")
        }
        return name
    }
}

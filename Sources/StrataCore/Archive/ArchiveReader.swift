import CArchive
import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One entry's header as the archive states it; nothing here is trusted yet.
struct ArchiveEntryHeader {
    enum Kind: Equatable {
        case file
        case folder
        case symlink(target: [UInt8])
        case hardlink(target: [UInt8])
        /// A device, FIFO or socket; the word names it for error messages.
        case special(String)
    }

    /// The entry's name, raw bytes as stored (not necessarily UTF-8).
    let rawPath: [UInt8]
    let kind: Kind
    /// The size the header declares, when it declares one.
    let declaredSize: Int64?
}

/// Reads tar (ustar, pax, GNU), and zip archives, compressed with anything libarchive knows (gzip,
/// xz, bzip2, zstd, …), recognised by content, as a stream: one header, then its data, in order.
/// It never writes to disk; the caller decides what each entry becomes.
final class ArchiveReader {
    private let handle: OpaquePointer
    private let name: String
    private let locale = UTF8Locale()

    /// Opens `path`, or standard input when `path` is "-".
    init(path: String) throws {
        guard let handle = archive_read_new() else { throw StrataError(.io, "cannot start libarchive") }
        self.handle = handle
        name = path == "-" ? "standard input" : path

        archive_read_support_filter_all(handle)
        archive_read_support_format_tar(handle)
        archive_read_support_format_gnutar(handle)
        archive_read_support_format_zip(handle)
        let status = path == "-"
            ? archive_read_open_fd(handle, STDIN_FILENO, 64 * 1024)
            : archive_read_open_filename(handle, path, 64 * 1024)
        if status != ARCHIVE_OK {
            let reason = Self.message(handle)
            if path != "-", let status = try? FileSystem.status(FilePath(path)), status.isDirectory == false {
                throw StrataError(.invalidInput, "'\(name)' is neither a folder nor an archive Strata can read (tar, tar.gz, tar.xz, tar.bz2, tar.zst, zip): \(reason)")
            }
            throw StrataError(.invalidInput, "cannot read archive '\(name)': \(reason)")
        }
    }

    deinit {
        archive_read_free(handle)
    }

    /// The next entry's header, or nil at the end of the archive.
    func nextEntry() throws -> ArchiveEntryHeader? {
        var entry: OpaquePointer?
        let status = archive_read_next_header(handle, &entry)
        if status == ARCHIVE_EOF { return nil }
        guard status == ARCHIVE_OK, let entry else { throw damaged() }

        guard let pathname = archive_entry_pathname(entry) else {
            throw StrataError(.invalidInput, "archive '\(name)' has an entry without a name")
        }
        let rawPath = Self.bytes(pathname)
        let size = archive_entry_size_is_set(entry) != 0 ? archive_entry_size(entry) : nil
        if let target = archive_entry_hardlink(entry) {
            return ArchiveEntryHeader(rawPath: rawPath, kind: .hardlink(target: Self.bytes(target)), declaredSize: size)
        }
        let kind: ArchiveEntryHeader.Kind
        switch FileMode(rawValue: CInterop.Mode(truncatingIfNeeded: archive_entry_filetype(entry))).type {
        case .regular: kind = .file
        case .directory: kind = .folder
        case .symbolicLink: kind = .symlink(target: archive_entry_symlink(entry).map(Self.bytes) ?? [])
        case .characterSpecial: kind = .special("character device")
        case .blockSpecial: kind = .special("block device")
        case .fifo: kind = .special("FIFO")
        case .socket: kind = .special("socket")
        default: kind = .special("special file")
        }
        return ArchiveEntryHeader(rawPath: rawPath, kind: kind, declaredSize: size)
    }

    /// Reads the current entry's data; 0 at its end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let count = archive_read_data(handle, buffer.baseAddress, buffer.count)
        guard count >= 0 else { throw damaged() }
        return count
    }

    private func damaged() -> StrataError {
        StrataError(.invalidInput, "archive '\(name)' is damaged or truncated: \(Self.message(handle))")
    }

    private static func message(_ handle: OpaquePointer) -> String {
        archive_error_string(handle).map { String(cString: $0) } ?? "unknown libarchive error"
    }

    private static func bytes(_ text: UnsafePointer<CChar>) -> [UInt8] {
        Array(UnsafeBufferPointer(start: text, count: strlen(text))).map { UInt8(bitPattern: $0) }
    }
}

@available(*, unavailable)
extension ArchiveReader: Sendable {}

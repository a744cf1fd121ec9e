import CArchive
import Crypto
import Foundation
import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The archive formats `export` writes.
public enum ExportFormat: String, Sendable, CaseIterable {
    case tarGzip = "tar.gz"
    case tar = "tar"

    /// The format a file name asks for, or nil when its extension says nothing Strata writes.
    public static func forPath(_ path: String) -> ExportFormat? {
        let name = (FilePath(path).lastComponent?.string ?? path).lowercased()
        if name.hasSuffix(".tar.gz") || name.hasSuffix(".tgz") { return .tarGzip }
        if name.hasSuffix(".tar") { return .tar }
        return nil
    }
}

/// `.strata/release.json` in an export: what the archive's files must add up to.
struct ExportRecord: Codable {
    var format = 1
    let id: String
    let fingerprint: String
    let fileCount: Int
    let byteCount: Int64
    /// The release's signature, so `import --trust` can check it (absent when unsigned).
    var signature: String?
}

public struct ExportReport: Sendable {
    public let id: String
    public let fileCount: Int
    /// Bytes of the archive written.
    public let archiveBytes: Int64
}

/// Writes a release as a reproducible archive: the same release gives the same bytes on any machine,
/// every time. Entries are sorted by path (folders before what they hold), `.strata/release.json`
/// comes first with the fingerprint, and every entry has owner 0:0, no user or group names, a fixed
/// time and a fixed mode (0644 files, 0755 folders). Tar is pax-restricted (plain ustar unless a name
/// needs more); gzip has no name and no time in its header. Variants are not exported: `import`
/// makes them again. Each file is re-hashed on the way out, so a damaged release never ships.
public struct ReleaseExporter: Sendable {
    /// 2000-01-01T00:00:00Z: fixed, and recent enough that no extractor calls it implausible.
    public static let entryTime = 946_684_800
    public static let gzipLevel: Int32 = 6

    public let store: Store
    public let progress: ProgressCounter?

    public init(store: Store, progress: ProgressCounter? = nil) {
        self.store = store
        self.progress = progress
    }

    /// Writes release `id` to `output`, an open file descriptor (a file or standard output).
    public func export(_ id: String, format: ExportFormat, to output: Int32, named name: String) throws -> ExportReport {
        let manifest = try ReleaseCatalog(store).manifest(id)
        let sink = try ArchiveSink(descriptor: output, name: name, gzip: format == .tarGzip)
        let writer = try ArchiveWriter(sink: sink)

        let record = ExportRecord(id: manifest.id, fingerprint: manifest.fingerprint, fileCount: manifest.fileCount, byteCount: manifest.byteCount,
                                  signature: manifest.signature)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try writer.addFolder(ReleaseLayout.metadataFolder)
        try writer.addFile(ReleaseLayout.metadataFolder + "/release.json", bytes: Array(try encoder.encode(record)) + [0x0A])

        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Parallel.bufferSize, alignment: 64)
        defer { buffer.deallocate() }
        progress?.begin("exporting", totalFiles: manifest.fileCount, totalBytes: manifest.byteCount)
        for item in Self.entries(of: manifest) {
            switch item {
            case .folder(let path):
                try writer.addFolder(path)
            case .file(let entry):
                let input = try store.backend.openContent(entry, ofRelease: id)
                var hasher = SHA256()
                try writer.addFile(entry.path, size: entry.size) { write in
                    var remaining = entry.size
                    while remaining > 0 {
                        let count = try input.read(into: buffer)
                        guard count > 0, Int64(count) <= remaining else { break }
                        let chunk = UnsafeRawBufferPointer(rebasing: buffer.prefix(count))
                        hasher.update(bufferPointer: chunk)
                        try write(chunk)
                        remaining -= Int64(count)
                    }
                    guard remaining == 0, try input.read(into: buffer) == 0, Hashing.hex(hasher.finalize()) == entry.sha256 else {
                        throw StrataError(.corrupt, "release \(id): '\(Escaped.path(entry.path))' does not match its manifest; run `strata verify \(id)`")
                    }
                }
                progress?.add(bytes: entry.size)
            }
        }
        try writer.close()
        return ExportReport(id: id, fileCount: manifest.fileCount, archiveBytes: sink.bytesWritten)
    }

    enum Item {
        case folder(String)
        case file(Manifest.Entry)
    }

    /// Every folder and file, sorted bytewise with folders as `path/`, so a folder precedes its content.
    static func entries(of manifest: Manifest) -> [Item] {
        var folders = Set<String>()
        for entry in manifest.files {
            var path = Substring(entry.path)
            while let slash = path.lastIndex(of: "/") {
                path = path[..<slash]
                if !folders.insert(String(path)).inserted { break }
            }
        }
        let items = folders.map { (key: $0 + "/", item: Item.folder($0)) } + manifest.files.map { (key: $0.path, item: Item.file($0)) }
        return items.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.map(\.item)
    }
}

/// Where an archive's bytes go: optionally through gzip, then to a file descriptor.
final class ArchiveSink {
    private let output: OpenFile
    private let compressor: GzipCompressor?
    private(set) var bytesWritten: Int64 = 0

    init(descriptor: Int32, name: String, gzip: Bool) throws {
        output = OpenFile(FileDescriptor(rawValue: dup(descriptor)), path: FilePath(name))
        compressor = gzip ? try GzipCompressor(level: ReleaseExporter.gzipLevel) : nil
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        if let compressor {
            try compressor.compress(bytes, sink: emit)
        } else {
            try emit(bytes)
        }
    }

    func finish() throws {
        try compressor?.finish(sink: emit)
        try output.close()
    }

    private func emit(_ bytes: UnsafeRawBufferPointer) throws {
        try output.writeAll(bytes)
        bytesWritten += Int64(bytes.count)
    }
}

/// libarchive's tar writer, producing entries with fixed metadata into an `ArchiveSink`.
final class ArchiveWriter {
    private let handle: OpaquePointer
    private let sink: ArchiveSink
    private let locale = UTF8Locale()
    /// An error the sink threw inside libarchive's callback, rethrown to the caller.
    fileprivate var sinkError: Error?

    init(sink: ArchiveSink) throws {
        guard let handle = archive_write_new() else { throw StrataError(.io, "cannot start libarchive") }
        self.handle = handle
        self.sink = sink
        archive_write_set_format_pax_restricted(handle)
        let context = Unmanaged.passUnretained(self).toOpaque()
        let status = archive_write_open(handle, context, nil, { _, context, buffer, length in
            let writer = Unmanaged<ArchiveWriter>.fromOpaque(context!).takeUnretainedValue()
            do {
                try writer.sink.write(UnsafeRawBufferPointer(start: buffer, count: length))
                return length
            } catch {
                writer.sinkError = error
                return -1
            }
        }, nil)
        try check(status, "start the archive")
    }

    deinit {
        archive_write_free(handle)
    }

    func addFolder(_ path: String) throws {
        let entry = Self.entry(path, type: .directory, permissions: 0o755, size: 0)
        defer { archive_entry_free(entry) }
        try check(archive_write_header(handle, entry), "add '\(path)'")
    }

    func addFile(_ path: String, bytes: [UInt8]) throws {
        try addFile(path, size: Int64(bytes.count)) { write in
            try bytes.withUnsafeBytes { try write($0) }
        }
    }

    /// Adds a file entry; `content` must hand exactly `size` bytes to the `write` it is given.
    func addFile(_ path: String, size: Int64, content: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let entry = Self.entry(path, type: .regular, permissions: 0o644, size: size)
        defer { archive_entry_free(entry) }
        try check(archive_write_header(handle, entry), "add '\(path)'")
        try content { chunk in
            let written = archive_write_data(handle, chunk.baseAddress, chunk.count)
            if written < 0 { try check(Int32(written), "write '\(path)'") }
        }
        try check(archive_write_finish_entry(handle), "finish '\(path)'")
    }

    func close() throws {
        try check(archive_write_close(handle), "finish the archive")
        try sink.finish()
    }

    private static func entry(_ path: String, type: FileType, permissions: mode_t, size: Int64) -> OpaquePointer {
        let entry = archive_entry_new()!
        archive_entry_set_pathname_utf8(entry, path)
        archive_entry_set_filetype(entry, UInt32(type.rawValue))
        archive_entry_set_perm(entry, permissions)
        archive_entry_set_size(entry, size)
        archive_entry_set_uid(entry, 0)
        archive_entry_set_gid(entry, 0)
        archive_entry_set_mtime(entry, time_t(ReleaseExporter.entryTime), 0)
        return entry
    }

    private func check(_ status: Int32, _ action: String) throws {
        guard status < ARCHIVE_OK else { return }
        if let sinkError { throw sinkError }
        let reason = archive_error_string(handle).map { String(cString: $0) } ?? "unknown libarchive error"
        throw StrataError(.io, "cannot \(action) in the archive: \(reason)")
    }
}

@available(*, unavailable)
extension ArchiveWriter: Sendable {}
@available(*, unavailable)
extension ArchiveSink: Sendable {}

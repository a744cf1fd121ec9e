import Foundation
import StrataCore
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// A store in S3-compatible object storage (see `S3Layout`), with the same contracts as a folder:
/// content written once by its SHA-256 (`If-None-Match: *`), a release visible only once its
/// manifest is written, after everything it names; pointers moved by conditional writes.
///
/// Before its first write a process proves the service enforces conditional writes
/// (`ConditionalWriteProbe`); `withWriteLock` then holds a lease object (`S3WriteLock`), so writers
/// are ordered as the flock orders them locally. Content being uploaded by a publish that does not
/// hold the lock is protected from prune by publish leases and a prune lock (`S3ContentCollector`).
public struct S3Store: StoreBackend {
    public let address: S3Location
    let client: S3Client
    let layout: S3Layout

    public init(address: S3Location, settings: S3Settings) {
        self.address = address
        client = S3Client(settings: settings, bucket: address.bucket)
        layout = S3Layout(location: address)
    }

    /// The store at `root` (`s3://BUCKET/PREFIX`), with settings from `environment`.
    public init(root: String, environment: [String: String]) throws {
        self.init(address: try S3Location(root), settings: try S3Settings.fromEnvironment(environment))
    }

    public var location: String { address.description }

    /// Closes the HTTP client's connections (at the end of a command; requests after this fail).
    public func close() {
        client.transport.shutdown()
    }

    static let markerContents = Array("{\"format\":1}\n".utf8)

    public func requireExisting() throws {
        guard try client.headObject(layout.marker) != nil else {
            throw StrataError(.notFound, "no Strata store at \(location); publish something first, or pass --root")
        }
    }

    public func withWriteLock<T>(timeout: Double, _ body: () throws -> T) throws -> T {
        try ConditionalWriteProbe.require(self)
        try createIfNeeded()
        return try S3WriteLock.withLock(self, timeout: timeout, body)
    }

    private func createIfNeeded() throws {
        guard try client.headObject(layout.marker) == nil else { return }
        _ = try client.putObject(layout.marker, Self.markerContents, condition: .absent, contentType: "application/json")
    }

    // MARK: - Releases

    public func releaseIDs() throws -> [String] {
        try client.listAll(prefix: layout.releasesFolder).objects.compactMap { layout.releaseID(ofManifest: $0.key) }
            .filter(Fingerprint.isReleaseID)
    }

    /// Newest first by the service's clock: the releases whose manifests a publish reads to learn
    /// which content the bucket holds.
    func releasesByAge() throws -> [String] {
        try client.listAll(prefix: layout.releasesFolder).objects.sorted { $0.lastModified > $1.lastModified }
            .compactMap { layout.releaseID(ofManifest: $0.key) }.filter(Fingerprint.isReleaseID)
    }

    public func containsRelease(_ id: String) throws -> Bool {
        guard Fingerprint.isReleaseID(id) else { return false }
        return try client.headObject(layout.manifest(id)) != nil
    }

    public func manifestBytes(of id: String) throws -> [UInt8]? {
        guard Fingerprint.isReleaseID(id) else { return nil }
        return try client.getObject(layout.manifest(id))?.body
    }

    public func openContent(_ entry: Manifest.Entry, ofRelease id: String) throws -> any ByteSource {
        try downloadContent(entry.sha256, expectedSize: entry.size, describedAs: entry.path)
    }


    /// A content object, fetched into an unnamed temporary file and checked against its name.
    func downloadContent(_ sha256: String, expectedSize: Int64, describedAs path: String) throws -> any ByteSource {
        let file = try TemporaryFile()
        try download(sha256, expectedSize: expectedSize, describedAs: path) { try file.write($0) }
        try file.rewind()
        return file
    }

    /// A content object written into `sink` as it arrives, then checked against its name (the
    /// caller discards what it wrote when this throws).
    func download(_ sha256: String, expectedSize: Int64, describedAs path: String,
                  into sink: @escaping @Sendable (UnsafeRawBufferPointer) throws -> Void) throws {
        let (reply, size, digest) = try client.download(layout.content(sha256), into: sink)
        guard reply.status == 200 else {
            if reply.status == 404 {
                throw StrataError(.corrupt, "content of '\(Escaped.path(path))' (\(sha256.prefix(12))…) is missing from \(location)")
            }
            throw client.failure(reply, "read \(client.describe(layout.content(sha256)))")
        }
        guard size == expectedSize, digest == sha256 else {
            throw StrataError(.corrupt, "content of '\(Escaped.path(path))' in \(location) does not match its SHA-256")
        }
    }

    public func openVariant(of entry: Manifest.Entry, _ encoding: ContentEncoding, ofRelease id: String) throws -> (any ByteSource)? {
        let file = try TemporaryFile()
        let (reply, _, _) = try client.download(layout.variant(of: entry.sha256, encoding)) { try file.write($0) }
        if reply.status == 404 { return nil }
        guard reply.status == 200 else { throw client.failure(reply, "read \(client.describe(layout.variant(of: entry.sha256, encoding)))") }
        try file.rewind()
        return file
    }

    /// A variant object written to `destination`: true when it is there and sound (the manifest's
    /// bytes, decompressing to the entry's content); false when it is missing or unsound.
    func downloadVariant(of entry: Manifest.Entry, _ encoding: ContentEncoding, to destination: FilePath) throws -> Bool {
        guard let listed = entry[variant: encoding] else { return false }
        let file = try FileSystem.open(destination, .writeOnly, options: [.create, .exclusiveCreate], permissions: .readOnlyFile,
                                       purpose: "create").takeDescriptor()
        defer { try? file.close() }
        let (reply, size, digest) = try client.download(layout.variant(of: entry.sha256, encoding)) { _ = try file.writeAll($0) }
        if reply.status == 404 { return false }
        guard reply.status == 200 else { throw client.failure(reply, "read \(client.describe(layout.variant(of: entry.sha256, encoding)))") }
        guard size == listed.size, digest == listed.sha256 else { return false }
        let check = try FileSystem.open(destination, .readOnly, purpose: "read")
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 64)
        defer { buffer.deallocate() }
        return try Verifier.variantProblem(entry, encoding, reading: check, buffer: buffer) == nil
    }

    public func makeDraft() throws -> any ReleaseDraft {
        try S3ReleaseDraft(store: self)
    }

    /// Deleting the manifest is the removal: the release vanishes at once; its content goes with
    /// the next collection.
    public func removeRelease(_ id: String) throws {
        try client.deleteObject(layout.manifest(id))
    }

    public func collectUnreferencedContent() throws -> (files: Int, bytes: Int64) {
        try S3ContentCollector(store: self).collect()
    }

    // MARK: - Pointers, pins, config versions

    public func pointers(_ family: PointerFamily) -> any PointerStorage {
        switch family {
        case .releases: return S3PointerStorage(client: client, folder: layout.channelsFolder)
        case .configs: return S3PointerStorage(client: client, folder: layout.configChannelsFolder)
        }
    }

    public func pinnedReleases() throws -> Set<String> {
        Set(try client.listAll(prefix: layout.pinsFolder).objects.map { String($0.key.dropFirst(layout.pinsFolder.count)) }
            .filter(Fingerprint.isReleaseID))
    }

    public func setPinned(_ pinned: Bool, release id: String) throws -> Bool {
        guard (try client.headObject(layout.pin(id)) != nil) != pinned else { return false }
        if pinned {
            _ = try client.putObject(layout.pin(id), [])
        } else {
            try client.deleteObject(layout.pin(id))
        }
        return true
    }

    public func configVersionBytes(_ id: String) throws -> [UInt8]? {
        guard Fingerprint.isReleaseID(id) else { return nil }
        return try client.getObject(layout.configVersion(id))?.body
    }

    public func storeConfigVersion(_ id: String, bytes: [UInt8]) throws {
        _ = try client.putObject(layout.configVersion(id), bytes, condition: .absent, contentType: "application/json")
    }
}

/// A temporary file without a name (unlinked at once), written, rewound, then read as a `ByteSource`.
final class TemporaryFile: ByteSource, @unchecked Sendable {
    private let descriptor: Int32

    init() throws {
        var template = Self.template("strata-download")
        descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else { throw StrataError(.io, "cannot create a temporary file: \(String(cString: strerror(errno)))") }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
    }

    deinit { close(descriptor) }

    /// `$TMPDIR/<name>-XXXXXX` (else `/tmp`), NUL-terminated, for mkstemp and mkdtemp.
    static func template(_ name: String) -> [CChar] {
        let folder = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        return Array((folder + "/" + name + "-XXXXXX").utf8CString)
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw StrataError(.io, "cannot write a temporary file: \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }

    func rewind() throws {
        guard lseek(descriptor, 0, SEEK_SET) == 0 else { throw StrataError(.io, "cannot rewind a temporary file") }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let count = Glibc.read(descriptor, buffer.baseAddress!, buffer.count)
            if count >= 0 { return count }
            if errno != EINTR { throw StrataError(.io, "cannot read a temporary file: \(String(cString: strerror(errno)))") }
        }
    }
}

import Crypto
import Foundation
import StrataCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fresh folder under the system temp dir, removed (read-only releases included) afterwards.
public func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let temporary = NSTemporaryDirectory().hasSuffix("/") ? NSTemporaryDirectory() : NSTemporaryDirectory() + "/"
    var template = Array((temporary + "strata-test-XXXXXX").utf8CString)
    guard let made = mkdtemp(&template) else { throw POSIXError(.EIO) }
    let path = String(cString: made)
    defer { removeTree(path) }
    return try body(path)
}

public func removeTree(_ path: String) {
    _ = try? run("/bin/sh", ["-c", "chmod -R u+w \"$0\" 2>/dev/null; rm -rf \"$0\"", path])
}

/// The package's `site-fixtures/` folder.
public let fixtures: String = {
    var url = URL(fileURLWithPath: #filePath)
    while url.path != "/" && !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
        url.deleteLastPathComponent()
    }
    return url.appendingPathComponent("site-fixtures").path
}()

/// Copies a fixture site into `folder` so a test can change it.
public func copyFixture(_ name: String, to folder: String) throws -> String {
    let destination = folder + "/" + name
    try FileManager.default.copyItem(atPath: fixtures + "/" + name, toPath: destination)
    return destination
}

public func write(_ text: String, to path: String) throws {
    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
}

/// Runs a command to its end and returns its exit status and what it wrote. Both outputs are read
/// as they come (a full pipe never stalls it). A command still running after `timeout` seconds is
/// killed and reported, so a test fails rather than hangs; once it has exited, descendants that
/// kept its output open are not waited for beyond a few seconds.
@discardableResult
public func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                timeout: Double = 600) throws -> (status: Int32, stdout: String, stderr: String) {
    let child = try ChildProcess(executable, arguments, environment: environment, standardOutput: .pipe, standardError: .pipe)
    var outputs: [(descriptor: CInt, bytes: [UInt8])] = [child.standardOutput!, child.standardError!].map { ($0.fileDescriptor, []) }
    var open = Set(outputs.indices)
    let deadline = Date().addingTimeInterval(timeout)
    var exitedAt: Date?
    var buffer = [UInt8](repeating: 0, count: 65536)
    while !open.isEmpty {
        if exitedAt == nil && !child.isRunning { exitedAt = Date() }
        if let exitedAt, Date().timeIntervalSince(exitedAt) > 5 { break }
        guard Date() < deadline else {
            kill(-child.processIdentifier, SIGKILL)  // its process group: the command and what it started
            child.waitUntilExit()
            throw POSIXError(.ETIMEDOUT, userInfo: [NSLocalizedDescriptionKey:
                "\(([executable] + arguments).joined(separator: " ")) was still running after \(Int(timeout)) s; it said: "
                + String(decoding: outputs.flatMap(\.bytes).suffix(2000), as: UTF8.self)])
        }
        var watched = open.sorted().map { pollfd(fd: outputs[$0].descriptor, events: Int16(POLLIN), revents: 0) }
        guard poll(&watched, nfds_t(watched.count), 100) > 0 else { continue }
        for (slot, index) in open.sorted().enumerated() where watched[slot].revents != 0 {
            let count = read(outputs[index].descriptor, &buffer, buffer.count)
            if count > 0 { outputs[index].bytes += buffer[..<count] } else if count == 0 || errno != EINTR { open.remove(index) }
        }
    }
    child.waitUntilExit()
    return (child.terminationStatus, String(decoding: outputs[0].bytes, as: UTF8.self), String(decoding: outputs[1].bytes, as: UTF8.self))
}

/// Every entry under a folder with its type, mode, size, link target and content digest: two equal
/// snapshots mean the tree is byte-for-byte the same.
public func snapshot(_ root: String) throws -> [String] {
    guard FileManager.default.fileExists(atPath: root) else { return ["<absent>"] }
    var lines: [String] = []
    func walk(_ path: String, _ relative: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        let mode = String(info.st_mode, radix: 8)
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            lines.append("\(relative)/ \(mode)")
            for name in try FileManager.default.contentsOfDirectory(atPath: path).sorted() {
                try walk(path + "/" + name, relative + "/" + name)
            }
        case S_IFREG:
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            lines.append("\(relative) \(mode) \(data.count) \(SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined())")
        case S_IFLNK:
            lines.append("\(relative) -> \((try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?")")
        default:
            lines.append("\(relative) special \(mode)")
        }
    }
    try walk(root, "")
    return lines
}

public func inode(_ path: String) -> UInt64 {
    var info = stat()
    return lstat(path, &info) == 0 ? UInt64(info.st_ino) : 0
}

public func mode(_ path: String) -> mode_t {
    var info = stat()
    return lstat(path, &info) == 0 ? info.st_mode & 0o7777 : 0
}

/// A store in a temporary folder, with shortcuts for the common steps.
public struct TestStore: Sendable {
    public let root: String
    public var store: Store { Store(root: root, lockTimeout: 5) }
    public var catalog: ReleaseCatalog { ReleaseCatalog(store) }
    public var channels: Channels { Channels(store: store) }

    public init(in folder: String) {
        root = folder + "/store"
    }

    @discardableResult
    public func publish(_ source: String, label: String? = nil, includeEverything: Bool = false) throws -> PublishReport {
        try publish(PublishRequest(source: source, label: label, includeEverything: includeEverything))
    }

    @discardableResult
    public func publish(_ request: PublishRequest) throws -> PublishReport {
        try Publisher(store: store).publish(request)
    }

    /// Publishes `count` small distinct sites labelled r1, r2, …; returns their ids, oldest first.
    /// They share `shared.js`; `index.html` and `unique-N.js` are each release's own content.
    public func publishNumberedReleases(_ count: Int, sitesIn folder: String) throws -> [String] {
        try (1...count).map { number in
            let site = try makeSite(in: folder, name: "site\(number)", files: [
                "index.html": "release \(number)", "shared.js": "shared()", "unique-\(number).js": String(repeating: "u\(number)", count: 500),
            ])
            return try publish(site, label: "r\(number)").manifest.id
        }
    }

    public func publishFixture(_ name: String, label: String? = nil, variants: VariantSettings = .standard) throws -> String {
        var request = PublishRequest(source: fixtures + "/" + name, label: label)
        request.variants = variants
        return try publish(request).manifest.id
    }
}

/// A tiny distinct site, for tests that need many releases.
public func makeSite(in folder: String, name: String, files: [String: String]) throws -> String {
    let root = folder + "/" + name
    for (path, content) in files {
        try write(content, to: root + "/" + path)
    }
    return root
}

/// The `strata` binary built beside the test bundle (the test targets depend on it, so it is built).
public let strataExecutable: String = {
    let testBinary = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
    let besideTests = URL(fileURLWithPath: testBinary).deletingLastPathComponent().appendingPathComponent("strata").path
    if FileManager.default.isExecutableFile(atPath: besideTests) { return besideTests }
    return URL(fileURLWithPath: fixtures).deletingLastPathComponent().appendingPathComponent(".build/debug/strata").path
}()

/// Runs `strata` with `arguments`; the environment is the test's plus `environment`.
@discardableResult
public func strata(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
    let merged = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    return try run(strataExecutable, arguments, environment: merged)
}

/// Builds an archive at `path` with Python's tarfile/zipfile, an independent implementation of the
/// formats. `script` runs after this prelude, with `out` set to `path`:
/// - `tar(entries, mode="w:gz", format=tarfile.PAX_FORMAT)`: entries are `(name, kind, value)`
///   with kind `file` (value: str or bytes), `dir`, `symlink`/`hardlink` (value: target), `chr`,
///   `blk`, `fifo`. Names may carry raw bytes as surrogate escapes (`"caf\udce9"`).
/// - `zip(entries)`: entries are `(name, data)` or `(name, data, unix_mode)`.
/// - `site(folder)`: the entries of a folder on disk, sorted, for `tar()`.
public func makeArchive(at path: String, _ script: String) throws {
    let prelude = #"""
    import io, os, sys, tarfile, zipfile
    out = sys.argv[1]
    def tar(entries, mode="w:gz", format=tarfile.PAX_FORMAT):
        with tarfile.open(out, mode, format=format, encoding="utf-8", errors="surrogateescape") as t:
            for name, kind, value in entries:
                info = tarfile.TarInfo(name)
                info.mtime = 1700000000
                data = None
                if kind == "file":
                    data = value.encode() if isinstance(value, str) else value
                    info.size = len(data)
                elif kind == "dir": info.type = tarfile.DIRTYPE
                elif kind == "symlink": info.type, info.linkname = tarfile.SYMTYPE, value
                elif kind == "hardlink": info.type, info.linkname = tarfile.LNKTYPE, value
                elif kind == "chr": info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
                elif kind == "blk": info.type, info.devmajor, info.devminor = tarfile.BLKTYPE, 8, 0
                elif kind == "fifo": info.type = tarfile.FIFOTYPE
                t.addfile(info, io.BytesIO(data) if data is not None else None)
    def zip(entries):
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for entry in entries:
                info = zipfile.ZipInfo(entry[0], date_time=(2024, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                if len(entry) > 2: info.external_attr = entry[2] << 16
                data = entry[1].encode() if isinstance(entry[1], str) else entry[1]
                z.writestr(info, data)
    def site(folder):
        entries = []
        for base, dirs, files in os.walk(folder):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(base, name)
                with open(full, "rb") as f:
                    entries.append((os.path.relpath(full, folder), "file", f.read()))
        return entries

    """#
    let result = try run("/usr/bin/env", ["python3", "-c", prelude + script, path])
    guard result.status == 0 else {
        throw StrataError(.io, "python3 could not build the test archive: \(result.stderr)")
    }
}

/// SHA-256 of `bytes` as lowercase hex.
public func sha256Hex(_ bytes: [UInt8]) -> String {
    SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
}

/// What a child process writes up to its first newline (or until it closes the pipe, or for at most
/// `seconds`): the line servers and proxies announce themselves with.
public func firstLine(of output: FileHandle, seconds: Double = 30) -> String {
    var line: [UInt8] = []
    let deadline = Date().addingTimeInterval(seconds)
    var byte: UInt8 = 0
    while !line.contains(UInt8(ascii: "\n")) && Date() < deadline {
        var watched = pollfd(fd: output.fileDescriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&watched, 1, 100) > 0 else { continue }
        guard read(output.fileDescriptor, &byte, 1) == 1 else { break }
        line.append(byte)
    }
    return String(decoding: line, as: UTF8.self)
}

extension VariantSettings {
    /// gzip, brotli and zstd (the default leaves zstd out), at the default levels.
    public static let everyEncoding = VariantSettings(encodings: ContentEncoding.allCases, levels: .standard)
}

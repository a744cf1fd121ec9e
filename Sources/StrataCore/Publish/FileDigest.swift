import Crypto
import SystemPackage

/// Size and SHA-256 of one file's content.
public struct FileDigest: Sendable, Equatable {
    public let size: Int64
    public let sha256: String

    public init(size: Int64, sha256: String) {
        self.size = size
        self.sha256 = sha256
    }
}

/// Streams files through SHA-256 (swift-crypto, which uses the CPU's SHA instructions when present).
enum Hashing {
    static let chunkSize = Parallel.bufferSize

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func sha256(of bytes: [UInt8]) -> String {
        hex(SHA256.hash(data: bytes))
    }

    /// Hashes the file at `path`, reading it once through `buffer`.
    static func digest(ofFile path: FilePath, buffer: UnsafeMutableRawBufferPointer) throws -> FileDigest {
        let file = try FileSystem.open(path, .readOnly, purpose: "read")
        file.adviseSequentialRead()
        return try digest(of: file, buffer: buffer)
    }

    /// Hashes what `source` yields, to its end.
    static func digest(of source: any ByteSource, buffer: UnsafeMutableRawBufferPointer) throws -> FileDigest {
        var hasher = SHA256()
        var size: Int64 = 0
        while true {
            let count = try source.read(into: buffer)
            if count == 0 { break }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer.prefix(count)))
            size += Int64(count)
        }
        return FileDigest(size: size, sha256: hex(hasher.finalize()))
    }

    /// Copies `source` to a new file `destination` (mode 0444), hashing as it goes, and fsyncs it
    /// unless the caller syncs the whole file system later (`sync: false`).
    static func copy(from source: FilePath, to destination: FilePath, buffer: UnsafeMutableRawBufferPointer,
                     sync: Bool = true) throws -> FileDigest {
        let input = try FileSystem.open(source, .readOnly, purpose: "read")
        input.adviseSequentialRead()
        let output = try FileSystem.open(destination, .writeOnly, options: [.create, .exclusiveCreate], permissions: .readOnlyFile,
                                         purpose: "create")
        var hasher = SHA256()
        var size: Int64 = 0
        while true {
            let count = try input.read(into: buffer)
            if count == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer.prefix(count))
            hasher.update(bufferPointer: chunk)
            try output.writeAll(chunk)
            size += Int64(count)
        }
        if sync { try output.sync() }
        try output.close()
        return FileDigest(size: size, sha256: hex(hasher.finalize()))
    }

    /// Hashes many files on all cores. Results come back in the order of `paths`.
    static func digests(ofFiles paths: [FilePath], progress: ProgressCounter? = nil) throws -> [FileDigest] {
        try Parallel.map(count: paths.count) { index, buffer in
            let digest = try digest(ofFile: paths[index], buffer: buffer)
            progress?.add(bytes: digest.size)
            return digest
        }
    }
}

import Crypto
#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Synchronization

/// Size and SHA-256 of one file's content.
public struct FileDigest: Sendable, Equatable {
    public let size: Int64
    public let sha256: String
}

/// Streams files through SHA-256 (swift-crypto, which uses the CPU's SHA instructions when present).
enum Hashing {
    static let chunkSize = 256 * 1024

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
    static func digest(ofFile path: String, buffer: UnsafeMutableRawBufferPointer) throws -> FileDigest {
        let file = try FileSystem.open(path, O_RDONLY, purpose: "read")
        _ = posix_fadvise(file.raw, 0, 0, POSIX_FADV_SEQUENTIAL)
        var hasher = SHA256()
        var size: Int64 = 0
        while true {
            let count = try file.read(into: buffer)
            if count == 0 { break }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer.prefix(count)))
            size += Int64(count)
        }
        return FileDigest(size: size, sha256: hex(hasher.finalize()))
    }

    /// Copies `source` to a new file `destination` (mode 0444), hashing as it goes, and fsyncs it.
    static func copy(from source: String, to destination: String, buffer: UnsafeMutableRawBufferPointer) throws -> FileDigest {
        let input = try FileSystem.open(source, O_RDONLY, purpose: "read")
        _ = posix_fadvise(input.raw, 0, 0, POSIX_FADV_SEQUENTIAL)
        let output = try FileSystem.open(destination, O_WRONLY | O_CREAT | O_EXCL, mode: 0o444, purpose: "create")
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
        try output.sync()
        try output.close()
        return FileDigest(size: size, sha256: hex(hasher.finalize()))
    }

    /// Hashes many files on all cores. Results come back in the order of `paths`.
    static func digests(ofFiles paths: [String]) throws -> [FileDigest] {
        let results = ResultSlots<FileDigest>(count: paths.count)
        let next = Atomic<Int>(0)
        let workers = min(max(1, ProcessInfoLite.activeProcessorCount), max(1, paths.count))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 64)
            defer { buffer.deallocate() }
            while true {
                let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard index < paths.count, !results.hasFailure else { return }
                results.store(Result { try digest(ofFile: paths[index], buffer: buffer) }, at: index)
            }
        }
        return try results.collect()
    }
}

/// One slot per task, each written by exactly one worker; read only after all workers finish.
final class ResultSlots<Value: Sendable>: @unchecked Sendable {
    private var slots: UnsafeMutableBufferPointer<Result<Value, Error>?>
    private let failed = Atomic<Bool>(false)

    init(count: Int) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: nil)
    }

    deinit {
        slots.deinitialize()
        slots.deallocate()
    }

    var hasFailure: Bool { failed.load(ordering: .relaxed) }

    func store(_ result: Result<Value, Error>, at index: Int) {
        if case .failure = result { failed.store(true, ordering: .relaxed) }
        slots[index] = result
    }

    /// The values in order, or the first error in order.
    func collect() throws -> [Value] {
        var values: [Value] = []
        values.reserveCapacity(slots.count)
        for slot in slots {
            if case .failure(let error)? = slot { throw error }
        }
        for slot in slots {
            guard case .success(let value)? = slot else { throw StrataError(.io, "a file was not processed") }
            values.append(value)
        }
        return values
    }
}

enum ProcessInfoLite {
    static var activeProcessorCount: Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
}

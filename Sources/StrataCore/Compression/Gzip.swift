import CZlib

/// Streaming gzip compression over zlib's `deflate`, with a fixed header: no file name, no time,
/// "Unix" as the operating system. The same input and level give the same bytes on every machine.
final class GzipCompressor {
    private let stream: UnsafeMutablePointer<z_stream>
    private let header: UnsafeMutablePointer<gz_header>
    private let output: UnsafeMutableRawBufferPointer
    /// True once `deflateInit2` succeeded, so `deinit` knows to end the stream.
    private var isStarted = false

    /// `level` 1 (fast) … 9 (small). zlib's own default is 6.
    ///
    /// Memory is freed in `deinit` only, which Swift runs even when this initializer throws (every
    /// stored property is set by then): freeing it here too would free it twice.
    init(level: Int32) throws {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        header = .allocate(capacity: 1)
        header.initialize(to: gz_header())
        header.pointee.os = 3  // zlib would write the build machine's OS code; pin it
        output = .allocate(byteCount: 64 * 1024, alignment: 16)
        // windowBits 15 + 16 asks for a gzip wrapper instead of a zlib one.
        let status = CZlib_deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY)
        guard status == Z_OK else {
            throw StrataError(.io, "cannot start gzip compression (zlib status \(status))")
        }
        isStarted = true
        let headerStatus = deflateSetHeader(stream, header)
        guard headerStatus == Z_OK else {
            throw StrataError(.io, "cannot start gzip compression (zlib status \(headerStatus))")
        }
    }

    deinit {
        if isStarted { deflateEnd(stream) }
        stream.deallocate()
        header.deallocate()
        output.deallocate()
    }

    /// Compresses `input`; compressed bytes go to `sink` as they become available.
    func compress(_ input: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        try run(input, flush: Z_NO_FLUSH, sink: sink)
    }

    /// Ends the stream (trailer with CRC-32 and size).
    func finish(sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        try run(UnsafeRawBufferPointer(start: nil, count: 0), flush: Z_FINISH, sink: sink)
    }

    private func run(_ input: UnsafeRawBufferPointer, flush: Int32, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        while true {
            stream.pointee.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(output.count)
            let status = deflate(stream, flush)
            guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                throw StrataError(.io, "gzip compression failed (zlib status \(status))")
            }
            let produced = output.count - Int(stream.pointee.avail_out)
            if produced > 0 { try sink(UnsafeRawBufferPointer(rebasing: output.prefix(produced))) }
            if flush == Z_FINISH {
                if status == Z_STREAM_END { return }
            } else if stream.pointee.avail_in == 0 && stream.pointee.avail_out != 0 {
                return
            }
        }
    }
}

/// Streaming gzip decompression over zlib's `inflate`, for checking variants.
final class GzipDecompressor {
    private let stream: UnsafeMutablePointer<z_stream>
    private let output: UnsafeMutableRawBufferPointer
    /// True once `inflateInit2` succeeded, so `deinit` knows to end the stream.
    private var isStarted = false
    private(set) var isFinished = false

    /// `windowBits` 15 + 16 reads a gzip wrapper only. Memory is freed in `deinit` only (see
    /// `GzipCompressor.init`).
    init(windowBits: Int32 = 15 + 16) throws {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        output = .allocate(byteCount: 64 * 1024, alignment: 16)
        let status = CZlib_inflateInit2(stream, windowBits)
        guard status == Z_OK else {
            throw StrataError(.io, "cannot start gzip decompression (zlib status \(status))")
        }
        isStarted = true
    }

    deinit {
        if isStarted { inflateEnd(stream) }
        stream.deallocate()
        output.deallocate()
    }

    /// Decompresses `input`; plain bytes go to `sink`. Throws on corrupt data or bytes past the end.
    func decompress(_ input: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard input.count > 0 else { return }
        guard !isFinished else { throw StrataError(.corrupt, "data after the end of the gzip stream") }
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        while stream.pointee.avail_in > 0 || stream.pointee.avail_out == 0 {
            stream.pointee.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(output.count)
            let status = inflate(stream, Z_NO_FLUSH)
            guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                throw StrataError(.corrupt, "gzip data is corrupt (zlib status \(status))")
            }
            let produced = output.count - Int(stream.pointee.avail_out)
            if produced > 0 { try sink(UnsafeRawBufferPointer(rebasing: output.prefix(produced))) }
            if status == Z_STREAM_END {
                isFinished = true
                guard stream.pointee.avail_in == 0 else { throw StrataError(.corrupt, "data after the end of the gzip stream") }
                return
            }
            if status == Z_BUF_ERROR { return }
        }
    }
}

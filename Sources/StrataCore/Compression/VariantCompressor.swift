import CBrotli
import CDeflate
import CZstd

/// How hard each encoder works on a publish's variants: libdeflate 1 … 12 (12 is smaller than
/// zlib's 9, and slower), brotli quality 0 … 11, zstd 1 … 22. The defaults were chosen by measuring
/// bytes and time on the benchmark site (docs/benchmarks.md, "Choosing the variant levels"): brotli 8
/// is the knee of its curve; zstd, made only when asked for, is worth a file beside the brotli one
/// only from level 19 (at 12 it is smaller for 7% of the text files, by 11 KB in all).
public typealias VariantLevels = EncodingTable<Int32>

extension VariantLevels {
    public static var standard: VariantLevels { VariantLevels(gzip: 6, br: 8, zstd: 19) }
    public static var ranges: EncodingTable<ClosedRange<Int32>> { EncodingTable<ClosedRange<Int32>>(gzip: 1...12, br: 0...11, zstd: 1...22) }

    /// Refuses a level its encoder does not have, in one line.
    public func validated() throws -> VariantLevels {
        for encoding in ContentEncoding.allCases {
            let range = Self.ranges[encoding]
            guard range.contains(self[encoding]) else {
                throw StrataError(.invalidInput, "\(encoding.token) level \(self[encoding]) is out of range (\(range.lowerBound) to \(range.upperBound))")
            }
        }
        return self
    }
}

/// Whole-file compression into one of the variant encodings. Each call is independent (its own
/// encoder state), so it runs on every core at once. The same input and level give the same bytes
/// on every machine: libdeflate writes no name and no time into the gzip header.
public enum VariantCompressor {
    /// The largest window a browser decodes in `zstd` content (RFC 8878 §3.1.1.1.2 caps HTTP's at
    /// 8 MiB); levels above 19 would pick a larger one.
    static let zstdWindowLog: Int32 = 23
    /// brotli's largest standard window (16 MiB); the "large window" extension is not one browsers decode.
    static let brotliWindowLog: Int32 = 24

    /// The smallest brotli window that holds the whole input, as the `brotli` tool picks it: the
    /// same matches are found, the encoder sets up smaller tables (8% less CPU on the bench
    /// site's text files, the bytes within 0.1%), and a browser decoding it needs less memory.
    static func brotliWindowLog(for count: Int) -> Int32 {
        var log = brotliWindowLog
        // A window of 2^log holds 2^log - 16 bytes (RFC 7932 §9.1).
        while log > 10 && (1 << (log - 1)) - 16 >= count { log -= 1 }
        return log
    }

    /// `input` compressed with `encoding` at `level`; `isText` tunes brotli for UTF-8.
    public static func compress(_ input: UnsafeRawBufferPointer, as encoding: ContentEncoding, level: Int32, isText: Bool) throws -> [UInt8] {
        switch encoding {
        case .gzip: try gzip(input, level: level)
        case .br: try brotli(input, level: level, isText: isText)
        case .zstd: try zstd(input, level: level)
        }
    }

    private static func gzip(_ input: UnsafeRawBufferPointer, level: Int32) throws -> [UInt8] {
        guard let compressor = libdeflate_alloc_compressor(level) else {
            throw StrataError(.io, "cannot start gzip compression at level \(level)")
        }
        defer { libdeflate_free_compressor(compressor) }
        let bound = libdeflate_gzip_compress_bound(compressor, input.count)
        return try [UInt8](unsafeUninitializedCapacity: bound) { output, count in
            count = libdeflate_gzip_compress(compressor, input.baseAddress, input.count, output.baseAddress, bound)
            guard count > 0 else { throw StrataError(.io, "gzip compression failed") }
        }
    }

    private static func brotli(_ input: UnsafeRawBufferPointer, level: Int32, isText: Bool) throws -> [UInt8] {
        let bound = BrotliEncoderMaxCompressedSize(input.count)
        guard bound > 0 else { throw StrataError(.io, "a file of \(input.count) bytes is too large for brotli") }
        return try [UInt8](unsafeUninitializedCapacity: bound) { output, count in
            var size = bound
            let ok = BrotliEncoderCompress(level, brotliWindowLog(for: input.count), isText ? BROTLI_MODE_TEXT : BROTLI_MODE_GENERIC, input.count,
                                           input.baseAddress?.assumingMemoryBound(to: UInt8.self), &size, output.baseAddress)
            guard ok == BROTLI_TRUE else { throw StrataError(.io, "brotli compression failed") }
            count = size
        }
    }

    private static func zstd(_ input: UnsafeRawBufferPointer, level: Int32) throws -> [UInt8] {
        guard let context = ZSTD_createCCtx() else { throw StrataError(.io, "cannot start zstd compression") }
        defer { ZSTD_freeCCtx(context) }
        func set(_ parameter: ZSTD_cParameter, _ value: Int32) throws {
            let status = ZSTD_CCtx_setParameter(context, parameter, value)
            if ZSTD_isError(status) != 0 {
                throw StrataError(.io, "zstd refused a setting: \(String(cString: ZSTD_getErrorName(status)))")
            }
        }
        try set(ZSTD_c_compressionLevel, level)
        if level >= 19 { try set(ZSTD_c_enableLongDistanceMatching, 1) }
        // Long matching and the ultra levels widen the window past what browsers accept: cap it.
        if level >= 19 { try set(ZSTD_c_windowLog, zstdWindowLog) }
        let bound = ZSTD_compressBound(input.count)
        return try [UInt8](unsafeUninitializedCapacity: bound) { output, count in
            let written = ZSTD_compress2(context, output.baseAddress, bound, input.baseAddress, input.count)
            guard ZSTD_isError(written) == 0 else {
                throw StrataError(.io, "zstd compression failed: \(String(cString: ZSTD_getErrorName(written)))")
            }
            count = written
        }
    }
}

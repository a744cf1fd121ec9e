import CBrotli
import CZstd

/// Streaming decompression of a variant, for checking that it holds the file's bytes.
protocol VariantDecompressor: AnyObject {
    /// True once the stream's end was read (a variant that stops before it is truncated).
    var isFinished: Bool { get }
    /// Decompresses `input`; plain bytes go to `sink`. Throws `.corrupt` on bad data or bytes past the end.
    func decompress(_ input: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) throws -> Void) throws
}

extension GzipDecompressor: VariantDecompressor {}

extension ContentEncoding {
    func makeDecompressor() throws -> any VariantDecompressor {
        switch self {
        case .gzip: try GzipDecompressor()
        case .br: try BrotliDecompressor()
        case .zstd: try ZstdDecompressor()
        }
    }
}

final class BrotliDecompressor: VariantDecompressor {
    private let state: OpaquePointer
    private let output: UnsafeMutableRawBufferPointer
    private(set) var isFinished = false

    init() throws {
        guard let state = BrotliDecoderCreateInstance(nil, nil, nil) else {
            throw StrataError(.io, "cannot start brotli decompression")
        }
        self.state = state
        output = .allocate(byteCount: 64 * 1024, alignment: 16)
    }

    deinit {
        BrotliDecoderDestroyInstance(state)
        output.deallocate()
    }

    func decompress(_ input: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard input.count > 0 else { return }
        guard !isFinished else { throw StrataError(.corrupt, "data after the end of the brotli stream") }
        var availableIn = input.count
        var nextIn: UnsafePointer<UInt8>? = input.baseAddress!.assumingMemoryBound(to: UInt8.self)
        while true {
            var availableOut = output.count
            var nextOut: UnsafeMutablePointer<UInt8>? = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
            let result = BrotliDecoderDecompressStream(state, &availableIn, &nextIn, &availableOut, &nextOut, nil)
            let produced = output.count - availableOut
            if produced > 0 { try sink(UnsafeRawBufferPointer(rebasing: output.prefix(produced))) }
            switch result {
            case BROTLI_DECODER_RESULT_SUCCESS:
                isFinished = true
                guard availableIn == 0 else { throw StrataError(.corrupt, "data after the end of the brotli stream") }
                return
            case BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT:
                return
            case BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT:
                continue
            default:
                let code = BrotliDecoderGetErrorCode(state)
                throw StrataError(.corrupt, "brotli data is corrupt (\(String(cString: BrotliDecoderErrorString(code))))")
            }
        }
    }
}

final class ZstdDecompressor: VariantDecompressor {
    private let context: OpaquePointer
    private let output: UnsafeMutableRawBufferPointer
    private(set) var isFinished = false

    init() throws {
        guard let context = ZSTD_createDCtx() else { throw StrataError(.io, "cannot start zstd decompression") }
        self.context = context
        output = .allocate(byteCount: 64 * 1024, alignment: 16)
        // A browser refuses windows past 8 MiB: so does this check.
        ZSTD_DCtx_setParameter(context, ZSTD_d_windowLogMax, VariantCompressor.zstdWindowLog)
    }

    deinit {
        ZSTD_freeDCtx(context)
        output.deallocate()
    }

    func decompress(_ input: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard input.count > 0 else { return }
        guard !isFinished else { throw StrataError(.corrupt, "data after the end of the zstd frame") }
        var source = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        while true {
            var destination = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
            let status = ZSTD_decompressStream(context, &destination, &source)
            if ZSTD_isError(status) != 0 {
                throw StrataError(.corrupt, "zstd data is corrupt (\(String(cString: ZSTD_getErrorName(status))))")
            }
            if destination.pos > 0 { try sink(UnsafeRawBufferPointer(rebasing: output.prefix(destination.pos))) }
            if status == 0 {
                isFinished = true
                guard source.pos == source.size else { throw StrataError(.corrupt, "data after the end of the zstd frame") }
                return
            }
            // Input used up and the output not full: the decoder wants more input.
            if source.pos == source.size && destination.pos < destination.size { return }
        }
    }
}

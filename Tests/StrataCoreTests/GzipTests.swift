@testable import StrataCore
import Testing

/// zlib streams whose start fails must free their memory exactly once (a double free aborts the
/// process, so these tests fail by crashing the test runner).
@Suite struct GzipTests {
    @Test func aCompressorWithAnInvalidLevelThrowsAndFreesOnce() {
        for level: Int32 in [42, -7, 10] {
            let error = #expect(throws: StrataError.self) { _ = try GzipCompressor(level: level) }
            #expect(error?.message.hasPrefix("cannot start gzip compression") == true)
        }
    }

    @Test func aDecompressorWithInvalidWindowBitsThrowsAndFreesOnce() {
        for bits: Int32 in [3, 99] {
            let error = #expect(throws: StrataError.self) { _ = try GzipDecompressor(windowBits: bits) }
            #expect(error?.message.hasPrefix("cannot start gzip decompression") == true)
        }
    }

    @Test func aValidCompressorStillRoundTrips() throws {
        let compressor = try GzipCompressor(level: 9)
        let decompressor = try GzipDecompressor()
        let text = Array(String(repeating: "strata ", count: 1000).utf8)
        var compressed: [UInt8] = []
        try text.withUnsafeBytes { input in try compressor.compress(input) { compressed += $0 } }
        try compressor.finish { compressed += $0 }
        var plain: [UInt8] = []
        try compressed.withUnsafeBytes { input in try decompressor.decompress(input) { plain += $0 } }
        #expect(plain == text && decompressor.isFinished && compressed.count < text.count / 10)
    }
}

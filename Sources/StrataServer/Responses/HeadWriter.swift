import NIOCore

/// Writes one response head into memory reserved for all of it at once: each line is one copy,
/// without the checks of capacity and uniqueness a `ByteBuffer` makes on every write.
struct HeadWriter {
    private let memory: UnsafeMutableRawBufferPointer
    private(set) var written = 0

    fileprivate init(_ memory: UnsafeMutableRawBufferPointer) {
        self.memory = memory
    }

    mutating func write(_ bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count <= memory.count - written, "a response head outgrew the room reserved for it")
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        (memory.baseAddress! + written).copyMemory(from: source, byteCount: bytes.count)
        written += bytes.count
    }

    mutating func write(_ text: StaticString) {
        write(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    mutating func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { write($0) }
    }

    /// For the rare lines formatted per request (`Content-Range`, a canary's cookie).
    mutating func write(formatted string: String) {
        var string = string
        string.withUTF8 { write(UnsafeRawBufferPointer($0)) }
    }
}

extension ByteBuffer {
    /// Appends a head of at most `bound` bytes, which `body` writes.
    mutating func writeHead(atMost bound: Int, _ body: (inout HeadWriter) -> Void) {
        writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { memory in
            var writer = HeadWriter(memory)
            body(&writer)
            return writer.written
        }
    }
}

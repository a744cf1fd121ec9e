import Crypto

/// SHA-256 and size of bytes seen in pieces.
struct ContentHasher {
    private var hasher = SHA256()
    private(set) var size: Int64 = 0

    mutating func update(_ bytes: [UInt8]) {
        hasher.update(data: bytes)
        size += Int64(bytes.count)
    }

    func hex() -> String {
        hasher.finalize().map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()
    }
}

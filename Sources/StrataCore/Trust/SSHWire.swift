import Foundation

/// The SSH wire encoding (RFC 4251 §5) that OpenSSH keys and signatures are made of: `string` is a
/// 32-bit big-endian length and the bytes, `uint32` is four big-endian bytes.
struct SSHWriter {
    private(set) var bytes: [UInt8] = []

    mutating func uint32(_ value: UInt32) {
        bytes += [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    mutating func string(_ value: [UInt8]) {
        uint32(UInt32(value.count))
        bytes += value
    }

    mutating func string(_ value: String) { string(Array(value.utf8)) }

    mutating func raw(_ value: [UInt8]) { bytes += value }
}

/// Reads what `SSHWriter` writes; every read is bounds-checked (a signature or key file is input).
struct SSHReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset == bytes.count }

    mutating func uint32() throws -> UInt32 {
        guard bytes.count - offset >= 4 else { throw SSHReader.truncated }
        defer { offset += 4 }
        return bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func string() throws -> [UInt8] {
        let count = Int(try uint32())
        guard bytes.count - offset >= count else { throw SSHReader.truncated }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    mutating func text() throws -> String { String(decoding: try string(), as: UTF8.self) }

    mutating func raw(_ count: Int) throws -> [UInt8] {
        guard bytes.count - offset >= count else { throw SSHReader.truncated }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    static let truncated = StrataError(.invalidInput, "truncated SSH data")
}

/// `-----BEGIN …-----` armour around base64, as OpenSSH writes keys and signatures.
enum SSHArmor {
    static func wrap(_ bytes: [UInt8], label: String, width: Int) -> String {
        let text = Data(bytes).base64EncodedString()
        var lines = ["-----BEGIN \(label)-----"]
        var index = text.startIndex
        while index < text.endIndex {
            let end = text.index(index, offsetBy: width, limitedBy: text.endIndex) ?? text.endIndex
            lines.append(String(text[index..<end]))
            index = end
        }
        lines.append("-----END \(label)-----")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The bytes inside the armour, or nil when `text` is not armoured as `label`.
    static func unwrap(_ text: String, label: String) -> [UInt8]? {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let begin = lines.firstIndex(of: "-----BEGIN \(label)-----"),
              let end = lines.firstIndex(of: "-----END \(label)-----"), begin < end else { return nil }
        return Data(base64Encoded: lines[(begin + 1)..<end].joined()).map(Array.init)
    }
}

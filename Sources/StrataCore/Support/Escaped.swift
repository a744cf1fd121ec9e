/// Shows untrusted names safely on one line: control characters and invalid bytes become `\xNN`.
public enum Escaped {
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (scalar.value >= 0x7F && scalar.value < 0xA0)
    }

    public static func bytes(_ raw: [UInt8]) -> String {
        var result = ""
        var index = 0
        while index < raw.count {
            // Take the longest valid UTF-8 sequence starting here (1 to 4 bytes).
            var decoded: String?
            var length = 1
            for candidate in 1...min(4, raw.count - index) {
                if let text = String(validating: raw[index..<index + candidate], as: UTF8.self) {
                    decoded = text
                    length = candidate
                    break
                }
            }
            if let text = decoded {
                result += path(text)
            } else {
                result += hex(raw[index])
            }
            index += length
        }
        return result
    }

    public static func path(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            if isControl(scalar) {
                result += scalar.value <= 0xFF ? hex(UInt8(scalar.value)) : "\\u{\(String(scalar.value, radix: 16))}"
            } else if scalar == "\\" {
                result += "\\\\"
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return "\\x" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0xF)])
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The path of a request, decoded once and checked, or the reason it is refused with 400.
///
/// Percent-escapes are decoded exactly once. Refused: anything but an origin-form target, bad
/// escapes, NUL and other control characters, `.` and `..` segments (literal or encoded), backslashes
/// (literal or encoded), encoded slashes, invalid UTF-8. What remains can only name a manifest entry.
///
/// The usual path (no escapes, no empty segments) is a view of the request's own bytes: nothing
/// is allocated to parse it, and it lives only as long as the head's bytes are borrowed.
struct RequestTarget {
    /// The segments joined by single slashes, without leading or trailing slash ("" for `/`).
    enum Path {
        case raw(Slice<UnsafeRawBufferPointer>)
        case decoded(ArraySlice<UInt8>)
    }

    let path: Path
    /// The path ended with `/` (or was `/`): a folder, whose `index.html` is meant.
    let isFolder: Bool
    /// A segment starts with `.` (other than a leading `.well-known`): never served.
    let isHidden: Bool

    struct Refusal: Error, Equatable {
        let reason: String
        init(_ reason: String) { self.reason = reason }
    }

    /// `target` is the request target as received; a raw path keeps borrowing its bytes.
    static func parse(_ target: Slice<UnsafeRawBufferPointer>) throws(Refusal) -> RequestTarget {
        let bytes = UnsafeRawBufferPointer(rebasing: target)
        guard bytes.first == UInt8(ascii: "/") else { throw Refusal("the request target must be a path starting with /") }
        // One pass: where the path ends (at `?` or `#`), and whether it has escapes or empty segments.
        var end = bytes.count
        var needsDecoding = false
        var previous = UInt8(ascii: "/")
        var index = 1
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "?") || byte == UInt8(ascii: "#") {
                end = index
                break
            }
            if byte == UInt8(ascii: "%") || (byte == UInt8(ascii: "/") && previous == UInt8(ascii: "/")) { needsDecoding = true }
            previous = byte
            index += 1
        }
        let isFolder = bytes[end - 1] == UInt8(ascii: "/")
        if !needsDecoding {
            let trimmedEnd = isFolder && end > 1 ? end - 1 : end
            let path = target[(target.startIndex + 1)..<(target.startIndex + trimmedEnd)]
            return RequestTarget(path: .raw(path), isFolder: isFolder, isHidden: try check(UnsafeRawBufferPointer(rebasing: path)))
        }
        let decoded = try decode(target[(target.startIndex + 1)..<(target.startIndex + end)])
        let checked = decoded.withUnsafeBytes { path in Result { () throws(Refusal) in try check(path) } }
        return RequestTarget(path: .decoded(decoded[...]), isFolder: isFolder, isHidden: try checked.get())
    }

    /// Checks every segment of a slash-joined path; returns whether one is hidden.
    private static func check(_ path: UnsafeRawBufferPointer) throws(Refusal) -> Bool {
        var isHidden = false
        var segmentStart = 0
        var dots = 0
        var index = 0
        while true {
            let atEnd = index == path.count
            let byte = atEnd ? UInt8(ascii: "/") : path[index]
            if byte == UInt8(ascii: "/") {
                let length = index - segmentStart
                if length > 0 && dots == length && dots <= 2 { throw Refusal("'.' or '..' segment in the path") }
                if length > 0 && path[segmentStart] == UInt8(ascii: ".") {
                    let isWellKnown = segmentStart == 0 && length == wellKnown.utf8CodeUnitCount
                        && memcmp(path.baseAddress!, wellKnown.utf8Start, length) == 0
                    if !isWellKnown { isHidden = true }
                }
                if atEnd { return isHidden }
                segmentStart = index + 1
                dots = 0
            } else {
                if byte < 0x20 || byte == 0x7F { throw Refusal("control character in the path") }
                if byte == UInt8(ascii: "\\") { throw Refusal("backslash in the path") }
                if byte == UInt8(ascii: ".") { dots += 1 }
            }
            index += 1
        }
    }

    private static let wellKnown: StaticString = ".well-known"

    /// Decodes escapes and drops empty segments: `a//b%20c/` → `a/b c`.
    private static func decode(_ raw: Slice<UnsafeRawBufferPointer>) throws(Refusal) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(raw.count)
        var index = raw.startIndex
        while index < raw.endIndex {
            var byte = raw[index]
            if byte == UInt8(ascii: "%") {
                let first = raw.index(after: index)
                guard first < raw.endIndex, raw.index(after: first) < raw.endIndex,
                      let high = hexValue(raw[first]), let low = hexValue(raw[raw.index(after: first)]) else {
                    throw Refusal("bad percent-escape in the path")
                }
                byte = high << 4 | low
                if byte == UInt8(ascii: "/") { throw Refusal("encoded slash in the path") }
                if byte == 0 { throw Refusal("control character in the path") }
                index = raw.index(index, offsetBy: 3)
            } else {
                index = raw.index(after: index)
                if byte == UInt8(ascii: "/") && (bytes.isEmpty || bytes.last == UInt8(ascii: "/")) { continue }
            }
            bytes.append(byte)
        }
        if bytes.last == UInt8(ascii: "/") { bytes.removeLast() }
        guard String(validating: bytes, as: UTF8.self) != nil else { throw Refusal("the path is not valid UTF-8") }
        return bytes
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

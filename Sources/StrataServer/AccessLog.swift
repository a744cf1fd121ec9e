import Foundation
import NIOHTTP1

/// One line per request in the combined log format, plus the release that answered:
/// `127.0.0.1 - - [21/Nov/2026:18:30:00 +0000] "GET /app.js HTTP/1.1" 200 1234 "-" "curl/8" ffc3289866153ca2`
/// Lines are written by one background queue, in order, so requests never wait on the disk.
final class AccessLog: Sendable {
    private let handle: FileHandle
    private let queue = DispatchQueue(label: "strata.access-log")

    /// `destination` is a file path (appended to) or "-" for standard output.
    init(destination: String) throws {
        if destination == "-" {
            handle = FileHandle.standardOutput
        } else {
            if !FileManager.default.fileExists(atPath: destination) {
                guard FileManager.default.createFile(atPath: destination, contents: nil) else {
                    throw ServerError("cannot create access log '\(destination)'")
                }
            }
            guard let file = FileHandle(forWritingAtPath: destination) else { throw ServerError("cannot open access log '\(destination)'") }
            file.seekToEndOfFile()
            handle = file
        }
    }

    func record(client: String, head: HTTPRequestHead, status: Int, bytes: Int64, release: String?) {
        let time = Self.timestamp()
        let line = "\(client) - - [\(time)] \"\(head.method.rawValue) \(Self.clean(head.uri)) HTTP/\(head.version.major).\(head.version.minor)\" "
            + "\(status) \(bytes) \"\(Self.clean(head.headers.first(name: "Referer") ?? "-"))\" "
            + "\"\(Self.clean(head.headers.first(name: "User-Agent") ?? "-"))\" \(release ?? "-")\n"
        queue.async { [handle] in handle.write(Data(line.utf8)) }
    }

    /// Waits until every line recorded so far is written.
    func flush() {
        queue.sync {}
    }

    /// Quotes and control characters from clients must not forge log lines.
    private static func clean(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F || scalar == "\"" || scalar == "\\" {
                result += "\\x" + String(scalar.value, radix: 16)
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    private static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%d/%b/%Y:%H:%M:%S +0000", &parts)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

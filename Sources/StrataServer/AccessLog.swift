import Foundation
import NIOHTTP1

/// How `--access-log` lines are written.
public enum AccessLogFormat: String, Sendable, CaseIterable {
    /// nginx's `combined`, byte for byte (times in UTC), so log tools read it as they read nginx's:
    /// `127.0.0.1 - - [21/Nov/2026:18:30:00 +0000] "GET /app.js HTTP/1.1" 200 1234 "-" "curl/8"`
    case combined
    /// One JSON object per line, with the release that answered, for log pipelines.
    case json
}

/// One line per request. Lines are written by one background queue, in order, so requests never
/// wait on the disk.
final class AccessLog: @unchecked Sendable {
    /// Touched only on `queue`.
    private var handle: FileHandle
    private let destination: String
    private let format: AccessLogFormat
    private let queue = DispatchQueue(label: "strata.access-log")

    /// `destination` is a file path (appended to) or "-" for standard output.
    init(destination: String, format: AccessLogFormat = .combined) throws {
        self.format = format
        self.destination = destination
        handle = try Self.open(destination)
    }

    /// O_APPEND: every line goes to the end of the file as it is now, so a log truncated in place
    /// (logrotate's `copytruncate`) goes on at its start, with no hole.
    private static func open(_ destination: String) throws -> FileHandle {
        if destination == "-" { return FileHandle.standardOutput }
        let descriptor = Glibc.open(destination, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw ServerError("cannot open access log '\(destination)': \(String(cString: strerror(errno)))")
        }
        return FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
    }

    /// Opens the file by its name again (after logrotate moved it away: SIGHUP). If that fails the
    /// old file is kept, and the failure is returned to be said.
    func reopen() -> String? {
        guard destination != "-" else { return nil }
        return queue.sync {
            do {
                handle = try Self.open(destination)
                return nil
            } catch {
                return "\(error)"
            }
        }
    }

    func record(client: String, head: HTTPRequestHead, status: Int, bytes: Int64, release: String?) {
        let now = time(nil)
        let line: String
        switch format {
        case .combined:
            // nginx: $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"
            line = "\(client) - - [\(Self.timestamp(now, "%d/%b/%Y:%H:%M:%S +0000"))] "
                + "\"\(Self.escaped("\(head.method.rawValue) \(head.uri) HTTP/\(head.version.major).\(head.version.minor)"))\" "
                + "\(status) \(bytes) \"\(Self.escaped(head.headers.first(name: "Referer") ?? "-"))\" "
                + "\"\(Self.escaped(head.headers.first(name: "User-Agent") ?? "-"))\"\n"
        case .json:
            line = "{\"time\":\"\(Self.timestamp(now, "%Y-%m-%dT%H:%M:%SZ"))\",\"client\":\(Self.json(client)),"
                + "\"method\":\(Self.json(head.method.rawValue)),\"uri\":\(Self.json(head.uri)),"
                + "\"protocol\":\"HTTP/\(head.version.major).\(head.version.minor)\",\"status\":\(status),\"bytes\":\(bytes),"
                + "\"referer\":\(Self.json(head.headers.first(name: "Referer"))),"
                + "\"user_agent\":\(Self.json(head.headers.first(name: "User-Agent"))),\"release\":\(Self.json(release))}\n"
        }
        queue.async { [handle] in handle.write(Data(line.utf8)) }
    }

    /// Waits until every line recorded so far is written.
    func flush() {
        queue.sync {}
    }

    /// As nginx escapes variables: `"`, `\\`, bytes below 32 and above 126 become `\xXX`, so a
    /// client cannot forge a line or a field.
    static func escaped(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if byte < 0x20 || byte > 0x7E || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                bytes += [UInt8(ascii: "\\"), UInt8(ascii: "x"), hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A JSON string (or `null`): quotes, backslashes and control characters escaped.
    static func json(_ text: String?) -> String {
        guard let text else { return "null" }
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F || scalar.value == 0x2028 || scalar.value == 0x2029:
                result += String(format: "\\u%04x", scalar.value)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    private static func timestamp(_ now: time_t, _ pattern: String) -> String {
        var now = now
        var parts = tm()
        gmtime_r(&now, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, pattern, &parts)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

import Foundation
import NIOHTTP1
import StrataCore

/// One line per request, `combined` (nginx's format, byte for byte, times in UTC:
/// `127.0.0.1 - - [21/Nov/2026:18:30:00 +0000] "GET /app.js HTTP/1.1" 200 1234 "-" "curl/8"`) or
/// `json` (with the release that answered). Lines are written by one background queue, in order,
/// so requests never wait on the disk.
final class AccessLog: @unchecked Sendable {
    /// Touched only on `queue`.
    private var handle: FileHandle
    private let destination: String
    private let format: LogFormat
    private let queue = DispatchQueue(label: "strata.access-log")

    /// `destination` is a file path (appended to) or "-" for standard output.
    init(destination: String, format: LogFormat = .combined) throws {
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

    func record(client: String, head: RequestHead, status: Int, bytes: Int64, release: String?) {
        let now = time(nil)
        let line: String
        switch format {
        case .combined:
            // nginx: $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"
            line = "\(client) - - [\(LogText.utc(now, "%d/%b/%Y:%H:%M:%S +0000"))] "
                + "\"\(Self.escaped("\(head.methodName) \(head.uri) HTTP/1.\(head.minorVersion)"))\" "
                + "\(status) \(bytes) \"\(Self.escaped(head.string(head.fields.referer) ?? "-"))\" "
                + "\"\(Self.escaped(head.string(head.fields.userAgent) ?? "-"))\"\n"
        case .json:
            line = "{\"time\":\"\(LogText.utc(now, "%Y-%m-%dT%H:%M:%SZ"))\",\"client\":\(LogText.json(client)),"
                + "\"method\":\(LogText.json(head.methodName)),\"uri\":\(LogText.json(head.uri)),"
                + "\"protocol\":\"HTTP/1.\(head.minorVersion)\",\"status\":\(status),\"bytes\":\(bytes),"
                + "\"referer\":\(LogText.json(head.string(head.fields.referer))),"
                + "\"user_agent\":\(LogText.json(head.string(head.fields.userAgent))),\"release\":\(LogText.json(release))}\n"
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
}

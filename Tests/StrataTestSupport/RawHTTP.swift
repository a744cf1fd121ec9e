import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A response as a client sees it on the wire.
public struct WireResponse: Sendable {
    public let status: Int
    public let headers: [(name: String, value: String)]
    public let body: [UInt8]

    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// A blocking HTTP/1.1 client over a plain socket: it sends exactly the bytes it is given, so tests
/// can send what no well-behaved client would.
public final class RawConnection {
    public let descriptor: Int32
    private var pending: [UInt8] = []

    public init(port: Int, timeoutSeconds: Int = 10) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { close(descriptor); throw POSIXError(.ECONNREFUSED) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        close(descriptor)
    }

    public func send(_ text: String) throws {
        try send(Array(text.utf8))
    }

    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { socketSend(descriptor, $0.baseAddress, $0.count) }
            guard sent > 0 else { throw POSIXError(.EPIPE) }
            offset += sent
        }
    }

    /// Reads up to `count` more bytes; empty when the server closed the connection.
    public func receive(_ count: Int = 65536) throws -> [UInt8] {
        if !pending.isEmpty {
            let chunk = Array(pending.prefix(count))
            pending.removeFirst(chunk.count)
            return chunk
        }
        var buffer = [UInt8](repeating: 0, count: count)
        let received = recv(descriptor, &buffer, count, 0)
        if received < 0 { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        return Array(buffer.prefix(received))
    }

    /// True when the server has closed the connection (a read returns end of file).
    public func isClosedByServer() -> Bool {
        (try? receive(1).isEmpty) ?? false
    }

    /// Reads one response. `bodyless` for HEAD requests and 304s, whose Content-Length describes no body.
    public func readResponse(bodyless: Bool = false, pauseEvery: Int? = nil) throws -> WireResponse {
        var data: [UInt8] = []
        let separator: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int?
        while headEnd == nil {
            let chunk = try receive()
            guard !chunk.isEmpty else { throw POSIXError(.ECONNRESET) }
            data += chunk
            headEnd = data.indices.dropLast(3).first { Array(data[$0..<$0 + 4]) == separator }
        }
        let head = String(decoding: data[..<headEnd!], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = head[0].split(separator: " ")
        let status = statusParts.count > 1 ? Int(statusParts[1]) ?? 0 : 0
        let headers = head.dropFirst().compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        var body = Array(data[(headEnd! + 4)...])
        let length = headers.first { $0.name.lowercased() == "content-length" }.flatMap { Int($0.value) } ?? 0
        let expected = bodyless || status == 304 ? 0 : length
        while body.count < expected {
            let chunk = try receive(min(65536, expected - body.count))
            guard !chunk.isEmpty else { throw POSIXError(.ECONNRESET) }
            body += chunk
            if let pauseEvery, body.count % pauseEvery < chunk.count { usleep(20_000) }
        }
        if body.count > expected {
            pending = Array(body[expected...]) + pending
            body = Array(body.prefix(expected))
        }
        return WireResponse(status: status, headers: headers, body: body)
    }
}

/// One request on a fresh connection.
public func request(_ port: Int, _ path: String, method: String = "GET", headers: [String: String] = [:]) throws -> WireResponse {
    let connection = try RawConnection(port: port)
    var text = "\(method) \(path) HTTP/1.1\r\nHost: \(headers["Host"] ?? "localhost")\r\nConnection: close\r\n"
    for (name, value) in headers.sorted(by: { $0.key < $1.key }) where name != "Host" { text += "\(name): \(value)\r\n" }
    try connection.send(text + "\r\n")
    return try connection.readResponse(bodyless: method == "HEAD")
}

/// Sends exactly `raw` and reads the response.
public func rawRequest(_ port: Int, _ raw: String) throws -> WireResponse {
    let connection = try RawConnection(port: port)
    try connection.send(raw)
    return try connection.readResponse()
}

/// `send(2)` without SIGPIPE when the server has closed: a flag on Linux, a socket option on Darwin.
private func socketSend(_ descriptor: Int32, _ bytes: UnsafeRawPointer?, _ count: Int) -> Int {
    #if os(Linux)
    return send(descriptor, bytes, count, Int32(MSG_NOSIGNAL))
    #else
    var on: Int32 = 1
    setsockopt(descriptor, SOL_SOCKET, SO_NOSIGPIPE, &on, socklen_t(MemoryLayout<Int32>.size))
    return send(descriptor, bytes, count, 0)
    #endif
}

/// A TCP socket bound to a free port of 127.0.0.1, listening if asked; nil if that fails.
public func loopbackSocket(listening: Bool) -> (descriptor: Int32, port: Int)? {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
            bind(descriptor, raw, length) == 0 && (!listening || listen(descriptor, 1) == 0) && getsockname(descriptor, raw, &length) == 0
        }
    }
    guard bound else {
        close(descriptor)
        return nil
    }
    return (descriptor, Int(UInt16(bigEndian: address.sin_port)))
}

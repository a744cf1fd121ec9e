import Dispatch
import Foundation
import NIOCore
@testable import StrataServer
import StrataTestSupport
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Random and mutated requests, from a fixed seed (`CacheRandom(seed:)`) so a failure can be replayed: the reader must
/// read each the same fed whole or in random pieces, and the server must answer or close.
@Suite struct RequestFuzzTests {
    static let corpus: [String] = [
        "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "GET /docs/?q=1 HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip, br;q=0.5\r\nIf-None-Match: \"a\", W/\"b\"\r\nConnection: close\r\n\r\n",
        "HEAD /app.js HTTP/1.1\r\nHost: x\r\nRange: bytes=0-99\r\nIf-Range: \"t\"\r\nCookie: strata-bucket=00ff\r\n\r\n",
        "GET /robots.txt HTTP/1.0\r\nConnection: keep-alive\r\nUser-Agent: fuzz/1\r\nReferer: http://x/\r\n\r\n",
        "POST /_strata/beacon HTTP/1.1\r\nHost: x\r\nContent-Length: 37\r\n\r\nrelease=0123456789abcdef&errors=3\r\n\r\n",
        "POST /_strata/beacon HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n7;e=1\r\nrelease\r\n3\r\n=ab\r\n0\r\nT: v\r\n\r\n",
        "POST /_strata/beacon HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nab=c",
        "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /_v/0123456789abcdef/%41b%2e HTTP/1.1\r\nHost: x\r\nAuthorization: Basic dTpw\r\n\r\n",
    ]

    static let interesting: [UInt8] = [0x00, 0x09, 0x0A, 0x0D, 0x20, 0x7F, 0x80, 0xFF] + Array(":,;09afF-/?%.HTP".utf8)

    static func mutated(_ generator: inout CacheRandom) -> [UInt8] {
        var bytes = Array(corpus.randomElement(using: &generator)!.utf8)
        for _ in 0..<Int.random(in: 1...4, using: &generator) {
            guard !bytes.isEmpty else { break }
            let at = Int.random(in: 0..<bytes.count, using: &generator)
            switch Int.random(in: 0..<8, using: &generator) {
            case 0: bytes[at] = interesting.randomElement(using: &generator)!
            case 1: bytes.insert(interesting.randomElement(using: &generator)!, at: at)
            case 2: bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...8, using: &generator)))
            case 3:
                let end = min(bytes.count, at + Int.random(in: 1...40, using: &generator))
                bytes.insert(contentsOf: bytes[at..<end], at: end)
            case 4: bytes.removeSubrange(at...)
            case 5: bytes[at] = UInt8.random(in: 0...255, using: &generator)
            case 6:  // a line ending changed: CRLF to LF, LF to CR
                if let newline = bytes[at...].firstIndex(of: 0x0A) {
                    if newline > 0 && bytes[newline - 1] == 0x0D { bytes.remove(at: newline - 1) } else { bytes[newline] = 0x0D }
                }
            default: bytes.append(contentsOf: (0..<Int.random(in: 1...16, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) })
            }
        }
        return bytes
    }

    /// What the reader made of `bytes`: the parts (checked to come in a possible order) and the
    /// refusal, if any.
    static func summary(_ bytes: [UInt8], pieces: [Int]) -> String {
        var reader = RequestReader(maxHeadBytes: 4096, maxFields: 20)
        var lines: [String] = []
        var inRequest = false
        var bodyBytes = 0
        var offset = 0
        for piece in pieces + [bytes.count] where offset < bytes.count {
            let end = min(bytes.count, offset + piece)
            var buffer = ByteBuffer(bytes: bytes[offset..<end])
            offset = end
            reader.append(&buffer)
            do {
                while let part = try reader.next() {
                    switch part {
                    case .head(let head):
                        precondition(!inRequest, "a head inside a request")
                        inRequest = true
                        lines.append("head \(head.methodName) \(head.uri) \(head.minorVersion) \(head.keepAlive) \(head.framing)")
                    case .body(let body):
                        precondition(inRequest, "a body outside a request")
                        bodyBytes += body.readableBytes
                        precondition(bodyBytes <= bytes.count, "more body than bytes received")
                        if case .some(let last) = lines.last, last.hasPrefix("body ") { lines.removeLast() }
                        lines.append("body \(bodyBytes)")
                    case .end:
                        precondition(inRequest, "an end outside a request")
                        inRequest = false
                        bodyBytes = 0
                        lines.append("end")
                    }
                }
            } catch {
                lines.append("refused \(error.status.code) \(error.reason)")
                break
            }
        }
        return lines.joined(separator: "\n")
    }

    @Test func threeHundredThousandMutatedRequestsReadTheSameWholeAndInPieces() {
        var generator = CacheRandom(seed: 20261201)
        var refused = 0
        for number in 0..<300_000 {
            let bytes = Self.mutated(&generator)
            let pieces = (0..<4).map { _ in Int.random(in: 1...max(1, bytes.count / 2), using: &generator) }
            let whole = Self.summary(bytes, pieces: [])
            let split = Self.summary(bytes, pieces: pieces)
            if whole != split {
                Issue.record("request \(number) \(String(decoding: bytes, as: UTF8.self).debugDescription) in pieces \(pieces):\n\(whole)\n---\n\(split)")
                return
            }
            if whole.contains("refused") { refused += 1 }
        }
        // The mutations must reach both sides of the reader, or the run proves little.
        #expect(refused > 30_000 && refused < 270_000, "\(refused) of 300,000 refused")
    }

    @Test func theServerAnswersOrClosesForEveryMutatedRequestAndKeepsServing() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            try withServer(served.store) { port, _ throws in
                let count = 10_000
                let problems = Mutex<[String]>([])
                let answered = Mutex(0)
                DispatchQueue.concurrentPerform(iterations: 4) { lane in
                    var generator = CacheRandom(seed: 1_000 + UInt64(lane))
                    for _ in 0..<(count / 4) {
                        let bytes = Self.mutated(&generator)
                        do {
                            let reply = try Self.sendAndShut(port, bytes)
                            if reply.isEmpty { continue }  // closed without an answer: an incomplete head
                            guard reply.starts(with: Array("HTTP/1.1 ".utf8)) else {
                                problems.withLock { $0.append("\(String(decoding: bytes, as: UTF8.self).debugDescription) got \(String(decoding: reply.prefix(80), as: UTF8.self).debugDescription)") }
                                continue
                            }
                            answered.withLock { $0 += 1 }
                        } catch {
                            problems.withLock { $0.append("\(String(decoding: bytes, as: UTF8.self).debugDescription): \(error)") }
                        }
                    }
                }
                #expect(problems.withLock { $0 }.isEmpty, "\(problems.withLock { $0.prefix(5) })")
                #expect(answered.withLock { $0 } > count / 2)
                #expect(try request(port, "/robots.txt").status == 200)
            }
        }
    }

    /// Sends the bytes, shuts the write side (so an incomplete head is final), reads to the close.
    static func sendAndShut(_ port: Int, _ bytes: [UInt8]) throws -> [UInt8] {
        let connection = try RawConnection(port: port, timeoutSeconds: 15)
        try connection.send(bytes)
        _ = shutdown(connection.descriptor, Int32(SHUT_WR))
        var reply: [UInt8] = []
        while true {
            let chunk = try connection.receive()
            if chunk.isEmpty { return reply }
            reply += chunk
        }
    }
}

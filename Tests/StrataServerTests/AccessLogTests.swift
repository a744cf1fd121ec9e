import Foundation
import StrataCore
import StrataServer
import StrataTestSupport
import Testing

/// `--log-format`: nginx's combined byte for byte (read back by goaccess), and JSON lines.
@Suite struct AccessLogTests {
    /// Requests with every kind of answer; returns how many were sent and the expected statuses.
    func sendMix(_ port: Int, _ served: ServedStore) throws -> [Int] {
        var statuses: [Int] = []
        for path in ["/", "/robots.txt", "/assets/vendor.a1d646b7.js", "/nope", "/_v/\(served.v2)/", "/docs", "/_strata/health"] {
            statuses.append(try request(port, path, headers: ["User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
                                                              "Referer": "https://example.com/page"]).status)
        }
        statuses.append(try request(port, "/", method: "HEAD").status)
        statuses.append(try request(port, "/", method: "POST").status)
        return statuses
    }

    @Test func combinedIsNginxsFormatByteForByte() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            let log = folder + "/access.log"
            var statuses: [Int] = []
            try withServer(served.store, { $0.accessLog = log }) { port, _ in
                statuses = try sendMix(port, served)
                _ = try request(port, "/caf%C3%A9?q=1", headers: ["User-Agent": "evil\"agent\\\u{e9}"])
            }
            let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.last == "" && lines.count == statuses.count + 2)
            // $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"
            let shape = #/^127\.0\.0\.1 - - \[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "[A-Z]+ \S+ HTTP/1\.1" \d{3} \d+ "[^"]*" "[^"]*"$/#
            for line in lines.dropLast() { #expect(line.wholeMatch(of: shape) != nil, "\(line)") }
            let first = String(lines[0])
            let index = try fixtureBytes("aurora-v1", "index.html")
            #expect(first.hasSuffix("] \"GET / HTTP/1.1\" 200 \(index.count) \"https://example.com/page\" \"Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0\""))
            #expect(lines[statuses.count - 2].contains("\"HEAD / HTTP/1.1\" 200 0 "))  // no body sent
            // nginx's escaping: ", \, and bytes outside 32–126 as \xXX.
            let notFoundPage = try fixtureBytes("aurora-v1", "404.html").count
            #expect(lines[statuses.count].hasSuffix("\"GET /caf%C3%A9?q=1 HTTP/1.1\" 404 \(notFoundPage) \"-\" \"evil\\x22agent\\x5C\\xC3\\xA9\""),
                    "\(lines[statuses.count])")
        }
    }

    @Test func goaccessReadsTheCombinedLog() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            let log = folder + "/access.log"
            var statuses: [Int] = []
            try withServer(served.store, { $0.accessLog = log }) { port, _ in
                for _ in 0..<3 { statuses += try sendMix(port, served) }
            }
            let report = folder + "/report.json"
            let result = try run("/usr/bin/goaccess", [log, "--log-format=COMBINED", "--no-global-config", "-o", report])
            #expect(result.status == 0, "\(result.stderr)")
            let read = try GoaccessReport(path: report)
            #expect(read.total == statuses.count && read.valid == statuses.count && read.failed == 0, "\(read)")
            var expected: [String: Int] = [:]
            for status in statuses { expected[String(status), default: 0] += 1 }
            #expect(read.statuses == expected)
        }
    }

    @Test func jsonLinesCarryTheReleaseAndEscapeWhatClientsSend() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            let log = folder + "/access.log"
            try withServer(served.store, { $0.accessLog = log; $0.accessLogFormat = .json }) { port, _ in
                _ = try request(port, "/robots.txt", headers: ["User-Agent": "a \"quoted\"\tagent"])
                _ = try request(port, "/nope")
            }
            let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
            #expect(lines.count == 2)
            let first = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
            #expect(first["method"] as? String == "GET" && first["uri"] as? String == "/robots.txt")
            #expect(first["status"] as? Int == 200 && first["release"] as? String == served.v1)
            #expect(first["user_agent"] as? String == "a \"quoted\"\tagent")
            #expect(first["referer"] is NSNull && first["client"] as? String == "127.0.0.1")
            #expect(first["protocol"] as? String == "HTTP/1.1")
            #expect((first["time"] as? String)?.wholeMatch(of: #/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z/#) != nil)
            let second = try #require(try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])
            #expect(second["status"] as? Int == 404)
        }
    }
}

/// What goaccess's JSON report says: request totals and hits per status code.
struct GoaccessReport: CustomStringConvertible {
    var total = -1, valid = -1, failed = -1
    var statuses: [String: Int] = [:]

    init(path: String) throws {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
        guard let json = object as? [String: Any], let general = json["general"] as? [String: Any] else { return }
        total = general["total_requests"] as? Int ?? -1
        valid = general["valid_requests"] as? Int ?? -1
        failed = general["failed_requests"] as? Int ?? -1
        let panel = json["status_codes"] as? [String: Any]
        let groups = panel?["data"] as? [[String: Any]] ?? []
        for group in groups {
            let items = group["items"] as? [[String: Any]] ?? []
            for item in items {
                let code = String((item["data"] as? String ?? "").prefix(3))
                let hits = item["hits"] as? [String: Any]
                statuses[code, default: 0] += hits?["count"] as? Int ?? 0
            }
        }
    }

    var description: String { "total \(total), valid \(valid), failed \(failed), statuses \(statuses)" }
}

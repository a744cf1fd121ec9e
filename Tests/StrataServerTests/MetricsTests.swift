import Foundation
import StrataCore
import StrataServer
import StrataTestSupport
import Testing

/// Prometheus metrics: the text a scrape gets, promtool's verdict, and a real Prometheus reading it.
@Suite struct MetricsTests {
    /// Counts reach the registry once a second.
    static let flushWait = 1.5

    func metricsText(_ port: Int, path: String = "/_strata/metrics") throws -> String {
        let reply = try request(port, path)
        #expect(reply.status == 200)
        #expect(reply.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
        return reply.text
    }

    /// The value of one series, by its exact name and labels as exposed.
    func value(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    @Test func requestsBytesLatencyCacheAndLiveReleasesAreCounted() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            try withServer(served.store) { port, _ in
                for _ in 0..<5 { _ = try request(port, "/robots.txt") }
                for _ in 0..<3 { _ = try request(port, "/missing") }
                _ = try request(port, "/", method: "POST")
                Thread.sleep(forTimeInterval: Self.flushWait)
                let text = try metricsText(port)
                #expect(value(text, #"strata_http_requests_total{channel="current",status_class="2xx"}"#) == 5, "\(text)")
                #expect(value(text, #"strata_http_requests_total{channel="current",status_class="4xx"}"#) == 4)
                let robots = try fixtureBytes("aurora-v1", "robots.txt").count
                #expect((value(text, #"strata_http_response_bytes_total{channel="current"}"#) ?? 0) >= Double(5 * robots))
                #expect(value(text, "strata_http_request_duration_seconds_count") == 9)
                #expect(value(text, #"strata_http_request_duration_seconds_bucket{le="+Inf"}"#) == 9)
                // robots.txt five times, 404.html three times; each event loop keeps its own memory cache.
                let hits = value(text, "strata_body_cache_hits_total") ?? -1
                let misses = value(text, "strata_body_cache_misses_total") ?? -1
                #expect(hits + misses == 8 && (2...4).contains(misses), "hits \(hits), misses \(misses)")
                #expect(value(text, #"strata_live_release{channel="current",release="\#(served.v1)"}"#) == 1)
                #expect(value(text, "strata_open_connections") != nil)

                _ = try served.store.channels.activate(served.v2, channel: "current")
                Thread.sleep(forTimeInterval: Self.flushWait)
                let after = try metricsText(port)
                #expect(value(after, #"strata_flips_observed_total{channel="current"}"#) == 1, "\(after)")
                #expect(value(after, #"strata_live_release{channel="current",release="\#(served.v2)"}"#) == 1)
                #expect(value(after, #"strata_live_release{channel="current",release="\#(served.v1)"}"#) == 0)

                // promtool, Prometheus's own linter, accepts the exposition.
                let checked = try run("/bin/sh", ["-c", "printf '%s' \"$0\" | /usr/bin/promtool check metrics", after])
                #expect(checked.status == 0, "\(checked.stdout)\(checked.stderr)")
            }
        }
    }

    @Test func metricsCanLiveOnTheirOwnAddressOnly() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            try withServer(served.store, { $0.metricsListen = "127.0.0.1:0" }) { port, server in
                #expect(try request(port, "/_strata/metrics").status == 404)
                let metricsPort = try #require(server.metricsPort)
                #expect(try metricsText(metricsPort, path: "/metrics").contains("strata_live_release"))
                #expect(try request(metricsPort, "/other").status == 404)
            }
        }
    }

    @Test func aRealPrometheusScrapesTheServer() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            try withServer(served.store, { $0.metricsListen = "127.0.0.1:0" }) { port, server in
                for _ in 0..<7 { _ = try request(port, "/robots.txt") }
                let metricsPort = try #require(server.metricsPort)
                let prometheus = try PrometheusProcess(folder: folder, targets: ["127.0.0.1:\(metricsPort)"], metricsPath: "/metrics")
                defer { prometheus.stop() }
                #expect(try run("/usr/bin/promtool", ["check", "config", prometheus.configPath]).status == 0)
                let prometheusPort = prometheus.port

                // Read the series back through Prometheus's HTTP API once it has scraped twice.
                let query = #"strata_http_requests_total{channel="current",status_class="2xx"}"#
                let encoded = query.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
                var found: Double?
                let deadline = Date().addingTimeInterval(40)
                while found != 7 && Date() < deadline {
                    Thread.sleep(forTimeInterval: 0.5)
                    guard let reply = try? request(prometheusPort, "/api/v1/query?query=\(encoded)"), reply.status == 200,
                          let json = try? JSONSerialization.jsonObject(with: Data(reply.body)) as? [String: Any],
                          let data = json["data"] as? [String: Any], let results = data["result"] as? [[String: Any]],
                          let sample = results.first?["value"] as? [Any], let text = sample.last as? String else { continue }
                    found = Double(text)
                }
                #expect(found == 7, "Prometheus read \(String(describing: found)) for \(query)")
            }
        }
    }
}

import Foundation
import StrataCore
import StrataObjectStore
import StrataTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A rollout across serve nodes: three nodes following one bucket on moto, a real Prometheus
/// scraping them, and `strata rollout --prometheus` judging the canary from what it scraped.
@Suite struct RolloutNodesTests {
    @Test func aRolloutAcrossThreeServeNodesJudgedByPrometheusCompletes() throws {
        let bucket = try TestBucket.make()
        func publish(_ site: String) throws -> String {
            let result = try strataS3(["publish", site, "--root", bucket.root])
            #expect(result.status == 0, "\(result.stderr)")
            return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let stable = try publish(fixtures + "/aurora-v1")
        let canary = try publish(fixtures + "/aurora-v2")
        #expect(try strataS3(["activate", stable, "--root", bucket.root]).status == 0)
        try withTemporaryDirectory { folder in
            let nodes = try (1...3).map { number in
                try ServeNodeTests.Node(["--root", bucket.root, "--cache", folder + "/cache\(number)", "--poll", "200ms"])
            }
            let prometheus = try PrometheusProcess(folder: folder, targets: nodes.map { "127.0.0.1:\($0.port)" }, metricsPath: "/_strata/metrics")
            defer { prometheus.stop() }
            let prometheusPort = prometheus.port
            // Prometheus answers and has scraped every node once.
            let ready = Date().addingTimeInterval(30)
            while Date() < ready {
                if let reply = try? request(prometheusPort, "/api/v1/query?query=up"), reply.text.components(separatedBy: "\"up\"").count == 4,
                   !reply.text.contains("\"0\"") { break }
                usleep(200_000)
            }

            let traffic = Traffic(ports: nodes.map(\.port), paths: ["/", "/docs/getting-started/", "/robots.txt"])
            defer { traffic.stop() }
            let result = try strataS3(["rollout", canary, "--root", bucket.root, "--steps", "20,60,100", "--every", "3s",
                                       "--prometheus", "http://127.0.0.1:\(prometheusPort)", "--min-requests", "15"])
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            #expect(result.stdout.components(separatedBy: "healthy: ").count == 3, "each canary step was judged: \(result.stdout)")
            let history = try strataS3(["history", "--root", bucket.root]).stdout
            #expect(history.contains("canary 20%") && history.contains("canary 60%"), "\(history)")
            // Every node follows the last flip.
            // Until then a node may still split (a visitor without a cookie lands on either side):
            // its health says when the canary has become the release, with no split left.
            for node in nodes {
                let deadline = Date().addingTimeInterval(20)
                var health = try node.get("/_strata/health").body
                while !(health.hasPrefix("ok \(canary)\n") && !health.contains("canary ")) && Date() < deadline {
                    usleep(100_000)
                    health = try node.get("/_strata/health").body
                }
                #expect(health.hasPrefix("ok \(canary)\n") && !health.contains("canary "), "node on \(node.port): \(health)")
                #expect(try node.release() == canary)
            }
        }
    }
}

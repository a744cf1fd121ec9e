import Foundation

/// A real Prometheus (Debian's `/usr/bin/prometheus`) scraping `targets` every second, on a free
/// port of 127.0.0.1, its configuration and data in `folder`. Stopped by `stop()`.
public final class PrometheusProcess {
    public let port: Int
    /// The configuration it was started with (for `promtool check config`).
    public let configPath: String
    private let process: ChildProcess

    public init(folder: String, targets: [String], metricsPath: String) throws {
        port = try MotoServer.freePort()
        configPath = folder + "/prometheus.yml"
        try write("""
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: strata
                metrics_path: \(metricsPath)
                static_configs:
                  - targets: [\(targets.map { "\"\($0)\"" }.joined(separator: ", "))]
            """, to: configPath)
        process = try ChildProcess("/usr/bin/prometheus", ["--config.file=\(configPath)", "--storage.tsdb.path=\(folder)/tsdb",
                                                           "--web.listen-address=127.0.0.1:\(port)"])
    }

    public func stop() {
        process.signal(SIGTERM)
        process.waitUntilExit()
    }
}

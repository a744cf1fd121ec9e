import AsyncHTTPClient
import Foundation
import NIOCore
import StrataCore

/// `strata rollout --watch URL`: the counters of each serve node, read from its own metrics
/// (`/_strata/metrics`, or the `--metrics-listen` address), summed over every node.
public struct ServerMetricsSource: HealthSource {
    public let urls: [String]
    private let transport: S3Transport

    /// `http://host:port` alone means that server's `/_strata/metrics`.
    public init(urls: [String], transport: S3Transport) throws {
        self.urls = try urls.map { url in
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
                throw StrataError(.invalidInput, "--watch wants a server's metrics URL, like http://node1:8080/_strata/metrics; '\(Escaped.path(url))' is not one")
            }
            return parsed.path.isEmpty || parsed.path == "/" ? url.trimmingSuffix("/") + "/_strata/metrics" : url
        }
        self.transport = transport
    }

    public func sample(channel: String) -> HealthSample {
        var sample = HealthSample()
        for url in urls {
            do {
                let reply = try transport.execute(HTTPClientRequest(url: url), timeout: .seconds(5))
                guard reply.status == 200 else { throw StrataError(.io, "HTTP \(reply.status)") }
                for series in PrometheusText.parse(String(decoding: reply.body, as: UTF8.self)) {
                    sample.add(source: url, name: series.name, labels: series.labels, value: series.value, channel: channel)
                }
            } catch {
                sample.unreadable.append("\(url): \(HealthSources.reason(error))")
            }
        }
        return sample
    }
}

/// `strata rollout --prometheus URL`: the same counters from a Prometheus that scrapes the nodes
/// (its HTTP API, `/api/v1/query`), each node's series apart so a restart reads as a reset.
public struct PrometheusSource: HealthSource {
    public let base: String
    private let transport: S3Transport

    public init(url: String, transport: S3Transport) throws {
        guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
            throw StrataError(.invalidInput, "--prometheus wants Prometheus's address, like http://prometheus:9090; '\(Escaped.path(url))' is not one")
        }
        base = url.trimmingSuffix("/")
        self.transport = transport
    }

    static let names = ["strata_release_responses_total", "strata_page_views_total", "strata_beacon_errors_total"]

    public func sample(channel: String) -> HealthSample {
        var sample = HealthSample()
        let selector = "{__name__=~\"\(Self.names.joined(separator: "|"))\",channel=\"\(channel)\"}"
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let url = base + "/api/v1/query?query=" + (selector.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")
        do {
            let reply = try transport.execute(HTTPClientRequest(url: url), timeout: .seconds(5))
            guard reply.status == 200 else { throw StrataError(.io, "HTTP \(reply.status)") }
            struct Answer: Decodable {
                struct Data: Decodable { let result: [Series] }
                struct Series: Decodable {
                    let metric: [String: String]
                    let value: [Value]
                }
                /// `[1712345678.9, "42"]`: a number, then a string.
                enum Value: Decodable {
                    case number(Double), text(String)
                    init(from decoder: Decoder) throws {
                        let container = try decoder.singleValueContainer()
                        if let number = try? container.decode(Double.self) { self = .number(number) } else { self = .text(try container.decode(String.self)) }
                    }
                }
                let status: String
                let data: Data
            }
            let answer = try JSONDecoder().decode(Answer.self, from: Data(reply.body))
            guard answer.status == "success" else { throw StrataError(.io, "query failed") }
            for series in answer.data.result {
                guard let name = series.metric["__name__"], case .text(let text)? = series.value.last, let value = Double(text) else { continue }
                var labels = series.metric
                labels["__name__"] = nil
                sample.add(source: base, name: name, labels: labels, value: value, channel: channel)
            }
        } catch {
            sample.unreadable.append("\(base): \(HealthSources.reason(error))")
        }
        return sample
    }
}

enum HealthSources {
    static func reason(_ error: Error) -> String {
        if let error = error as? StrataError { return error.message }
        if error is DecodingError { return "not a Prometheus query answer" }
        return "\(error)"
    }
}

/// The Prometheus text exposition, as far as a rollout reads it: `name{label="value",…} value`.
enum PrometheusText {
    struct Series: Equatable {
        let name: String
        let labels: [String: String]
        let value: Double
    }

    static func parse(_ text: String) -> [Series] {
        text.split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#") else { return nil }
            return parseLine(line)
        }
    }

    static func parseLine(_ line: Substring) -> Series? {
        var rest = line[...]
        let name = rest.prefix { $0 != "{" && $0 != " " }
        rest = rest.dropFirst(name.count)
        var labels: [String: String] = [:]
        if rest.first == "{" {
            rest = rest.dropFirst()
            while let equals = rest.firstIndex(of: "=") {
                let key = rest[..<equals].trimmingCharacters(in: CharacterSet(charactersIn: ", "))
                rest = rest[rest.index(after: equals)...]
                guard rest.first == "\"" else { return nil }
                rest = rest.dropFirst()
                var value = ""
                var escaped = false
                while let character = rest.first {
                    rest = rest.dropFirst()
                    if escaped {
                        value.append(character == "n" ? "\n" : character)
                        escaped = false
                    } else if character == "\\" {
                        escaped = true
                    } else if character == "\"" {
                        break
                    } else {
                        value.append(character)
                    }
                }
                labels[key] = value
                rest = rest.drop { $0 == "," || $0 == " " }
                if rest.first == "}" { break }
            }
            guard rest.first == "}" else { return nil }
            rest = rest.dropFirst()
        }
        let fields = rest.split(separator: " ")
        guard !name.isEmpty, let first = fields.first, let value = Double(first) else { return nil }
        return Series(name: String(name), labels: labels, value: value)
    }
}

private extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        var text = self
        while text.hasSuffix(suffix) { text.removeLast(suffix.count) }
        return text
    }
}

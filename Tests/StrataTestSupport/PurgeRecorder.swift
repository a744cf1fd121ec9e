import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `purge-recorder.py` as a child process: a purge endpoint that writes down what it was sent.
public final class PurgeRecorder: @unchecked Sendable {
    public struct Request: Sendable {
        public let method: String
        public let path: String
        public let headers: [String: String]
        public let body: String
    }

    public let port: Int
    private let process: ChildProcess
    private let record: String

    /// `arguments`: `["--fail", "2"]` answers the first two requests 500; `["--always-fail"]` all.
    public init(recordIn folder: String, _ arguments: [String] = []) throws {
        record = folder + "/purges-\(UUID().uuidString).jsonl"
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("purge-recorder.py").path
        process = try ChildProcess("/usr/bin/env", ["python3", script, record] + arguments, standardOutput: .pipe)
        let line = firstLine(of: process.standardOutput!)
        guard let port = Int(line.split(separator: " ").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") else {
            process.signal(SIGKILL)
            throw POSIXError(.EIO, userInfo: [NSLocalizedDescriptionKey: "purge-recorder did not start: \(line)"])
        }
        self.port = port
    }

    deinit {
        process.signal(SIGKILL)
        process.waitUntilExit()
    }

    public var url: String { "http://127.0.0.1:\(port)" }

    /// What it was sent so far, oldest first.
    public func requests() -> [Request] {
        guard let text = try? String(contentsOfFile: record, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return Request(method: object["method"] as? String ?? "", path: object["path"] as? String ?? "",
                           headers: object["headers"] as? [String: String] ?? [:], body: object["body"] as? String ?? "")
        }
    }

    /// Waits up to `seconds` until it has `count` requests; returns them.
    public func wait(for count: Int, seconds: Double = 5) -> [Request] {
        let deadline = Date().addingTimeInterval(seconds)
        var got = requests()
        while got.count < count && Date() < deadline {
            usleep(20_000)
            got = requests()
        }
        return got
    }
}

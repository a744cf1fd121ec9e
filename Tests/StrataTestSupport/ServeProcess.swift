import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `strata serve --port 0 …` as a child process: the port it announced, and its stderr — read as it
/// comes, so the server never blocks on a full pipe, and kept for tests to read its events.
public final class ServeProcess: Sendable {
    public let process: ChildProcess
    public let port: Int
    /// The line that announced the port.
    public let listening: String
    private let said = Transcript()

    /// `launcher` runs before the binary (`setpriv …`, `sh -c 'ulimit …; exec "$0" "$@"'`).
    public init(_ arguments: [String], launcher: [String] = [], environment: [String: String] = [:]) throws {
        let command = launcher + [strataExecutable, "serve", "--port", "0"] + arguments
        let process = try ChildProcess(command[0], Array(command.dropFirst()),
                                       environment: ProcessInfo.processInfo.environment.merging(environment) { _, new in new },
                                       standardError: .pipe)
        let said = self.said
        process.standardError!.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil }
            said.text.withLock { $0 += String(decoding: data, as: UTF8.self) }
        }
        self.process = process
        let deadline = Date().addingTimeInterval(30)
        var announced: Substring?
        while announced == nil && process.isRunning && Date() < deadline {
            announced = said.text.withLock { text in text.split(separator: "\n").first { $0.contains("http://127.0.0.1:") } }
            if announced == nil { usleep(10_000) }
        }
        guard let line = announced, let address = line.range(of: "http://127.0.0.1:"),
              let port = Int(line[address.upperBound...].prefix { $0.isNumber }) else {
            process.signal(SIGKILL)
            process.waitUntilExit()
            throw POSIXError(.EIO, userInfo: [NSLocalizedDescriptionKey: "serve did not start: \(said.text.withLock { $0 })"])
        }
        listening = String(line)
        self.port = port
    }

    /// Everything written to stderr so far.
    public var stderr: String { said.text.withLock { $0 } }

    /// Stderr lines containing `text`.
    public func lines(containing text: String) -> [Substring] {
        stderr.split(separator: "\n").filter { $0.contains(text) }
    }

    /// Waits up to `seconds` for a stderr line containing `text`.
    public func waitForLine(containing text: String, seconds: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if !lines(containing: text).isEmpty { return true }
            usleep(20_000)
        }
        return false
    }

    /// SIGTERM, then waits; the exit status.
    @discardableResult
    public func stop() -> Int32 {
        process.signal(SIGTERM)
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// User and system CPU seconds the server has used so far (Linux: /proc/PID/stat).
    public func cpuSeconds() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
              let end = text.lastIndex(of: ")") else { return 0 }
        let fields = text[text.index(after: end)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    deinit {
        process.signal(SIGKILL)
        process.waitUntilExit(seconds: 5)  // reaped, not left a zombie
    }
}

/// What a child wrote, appended by the pipe's reader thread.
private final class Transcript: Sendable {
    let text = Mutex("")
}

import Foundation
import Synchronization

/// How a log line is written: `combined` is what nginx writes (its access-log format, and its
/// error-log style for events), `json` one object per line for log pipelines.
public enum LogFormat: String, Sendable, CaseIterable {
    case combined
    case json
}

/// A long-running command's events — listening, a flip seen, a release loaded, errors, shutdown —
/// one line each on stderr:
///
///     2026/11/22 08:15:02 [notice] serving channel 'production' of /srv/site on http://127.0.0.1:8080/
///     {"time":"2026-11-22T08:15:02Z","level":"notice","event":"listening","message":"serving …","url":"http://…"}
///
/// Conditions that can repeat thousands of times a second (descriptors exhausted, an unreadable
/// store) go through `sayAtMostEverySecond`, which counts what it held back.
public final class EventLog: Sendable {
    public enum Level: String, Sendable {
        case info, notice, warn, error
    }

    private let format: LogFormat
    private let sink: @Sendable (String) -> Void
    private let lastSaid = Mutex<[String: (at: ContinuousClock.Instant, heldBack: Int)]>([:])

    /// `sink` receives whole lines, newline included; by default they go to stderr in one write
    /// each, so lines from several threads never interleave.
    public init(format: LogFormat = .combined, sink: @escaping @Sendable (String) -> Void = EventLog.standardError) {
        self.format = format
        self.sink = sink
    }

    public static let standardError: @Sendable (String) -> Void = { line in
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(STDERR_FILENO, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return }
                offset += written
            }
        }
    }

    /// `event` names the kind of event (a stable word for JSON consumers); `fields` add detail to
    /// the JSON object (the text line has only the message, like nginx's error log).
    public func say(_ level: Level, _ event: String, _ message: String, _ fields: [(String, String?)] = []) {
        sink(line(level, event, message, fields))
    }

    /// As `say`, but at most once a second for `event`; the next line says how many were held back.
    public func sayAtMostEverySecond(_ level: Level, _ event: String, _ message: String, _ fields: [(String, String?)] = []) {
        let now = ContinuousClock.now
        let heldBack: Int? = lastSaid.withLock { said in
            if let last = said[event], now - last.at < .seconds(1) {
                said[event]!.heldBack += 1
                return nil
            }
            defer { said[event] = (now, 0) }
            return said[event]?.heldBack ?? 0
        }
        guard let heldBack else { return }
        let suffix = heldBack > 0 ? " (\(heldBack) more like it in the last second)" : ""
        say(level, event, message + suffix, fields + (heldBack > 0 ? [("held_back", String(heldBack))] : []))
    }

    private func line(_ level: Level, _ event: String, _ message: String, _ fields: [(String, String?)]) -> String {
        let now = time(nil)
        switch format {
        case .combined:
            return "\(LogText.utc(now, "%Y/%m/%d %H:%M:%S")) [\(level.rawValue)] \(message)\n"
        case .json:
            var line = "{\"time\":\"\(LogText.utc(now, "%Y-%m-%dT%H:%M:%SZ"))\",\"level\":\"\(level.rawValue)\","
                + "\"event\":\(LogText.json(event)),\"message\":\(LogText.json(message))"
            for (name, value) in fields { line += ",\(LogText.json(name)):\(LogText.json(value))" }
            return line + "}\n"
        }
    }
}

/// Pieces of log lines both the access log and the event log write.
public enum LogText {
    /// A JSON string (or `null`): quotes, backslashes and control characters escaped.
    public static func json(_ text: String?) -> String {
        guard let text else { return "null" }
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F || scalar.value == 0x2028 || scalar.value == 0x2029:
                result += String(format: "\\u%04x", scalar.value)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    /// `now` in UTC, by a strftime pattern.
    public static func utc(_ now: time_t, _ pattern: String) -> String {
        var now = now
        var parts = tm()
        gmtime_r(&now, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, pattern, &parts)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

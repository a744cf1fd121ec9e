import Foundation
import StrataCore

/// Draws a `ProgressCounter` on standard error, five times a second, when standard error is a
/// terminal — and does nothing at all otherwise (CI logs, pipes, files stay clean). Never touches
/// standard output, which carries the command's result.
///
///     hashing: 1,234/5,000 files, 45.1/150.0 MiB, 38.2 MiB/s, ETA 3s
final class TerminalProgress: @unchecked Sendable {
    let counter = ProgressCounter()
    private let timer: DispatchSourceTimer
    private let lock = NSLock()
    private var drawn = false

    /// Nil unless standard error is a terminal.
    static func start() -> TerminalProgress? {
        isatty(STDERR_FILENO) == 1 ? TerminalProgress() : nil
    }

    private init() {
        timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + .milliseconds(200), repeating: .milliseconds(200))
        timer.setEventHandler { [weak self] in self?.draw() }
        timer.resume()
    }

    /// Clears the line, so what the command prints next starts clean.
    func finish() {
        timer.cancel()
        lock.withLock {
            if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            drawn = false
        }
    }

    private func draw() {
        let line = Self.line(counter.snapshot, now: .now)
        guard !line.isEmpty else { return }
        lock.withLock {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
            drawn = true
        }
    }

    static func line(_ progress: ProgressCounter.Snapshot, now: ContinuousClock.Instant) -> String {
        guard !progress.phase.isEmpty else { return "" }
        let seconds = max(Double((now - progress.started).components.attoseconds) / 1e18 + Double((now - progress.started).components.seconds), 0.001)
        let rate = Double(progress.bytes) / seconds
        var parts = [progress.totalFiles.map { "\(count(progress.files))/\(count($0)) files" } ?? "\(count(progress.files)) files"]
        parts.append(progress.totalBytes.map { "\(mebibytes(progress.bytes))/\(mebibytes($0)) MiB" } ?? "\(mebibytes(progress.bytes)) MiB")
        parts.append("\(mebibytes(Int64(rate))) MiB/s")
        if let total = progress.totalBytes, rate > 0, progress.bytes < total {
            parts.append("ETA \(Int((Double(total - progress.bytes) / rate).rounded(.up)))s")
        }
        return progress.phase + ": " + parts.joined(separator: ", ")
    }

    private static func count(_ number: Int) -> String {
        let formatter = NumberFormatter()
        formatter.numberStyle = .decimal
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.groupingSeparator = ","
        formatter.usesGroupingSeparator = true
        return formatter.string(from: NSNumber(value: number)) ?? String(number)
    }

    private static func mebibytes(_ bytes: Int64) -> String {
        String(format: "%.1f", Double(bytes) / 1_048_576)
    }
}

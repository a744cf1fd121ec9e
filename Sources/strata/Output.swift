import Foundation
import StrataCore

/// Printing: JSON for scripts, short aligned text for people, errors as one line on stderr.
enum Output {
    static func json<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }

    static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    /// Progress and summaries, kept off stdout so `id=$(strata publish dist)` works.
    static func note(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    static func error(_ text: String) {
        note("error: " + text)
    }

    /// Columns padded to their widest cell; the last column is not padded.
    static func table(_ header: [String], _ rows: [[String]]) {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        for row in all {
            let cells = row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }
            line(cells.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
    }

    static func bytes(_ count: Int64) -> String {
        ByteCount.describe(count)
    }

    /// `3f2a9c1b7e4d5a60 (v2)`, or the id alone.
    static func release(_ id: String, label: String?) -> String {
        label.map { "\(id) (\($0))" } ?? id
    }

    /// The time now as `17:45:03` (UTC), for lines of a long-running command.
    static func clock() -> String {
        String(Timestamp.now().dropFirst(11).prefix(8))
    }

    /// `2026-11-21T17:45:03.125Z` as `2026-11-21 17:45:03`.
    static func time(_ stamp: String) -> String {
        String(stamp.prefix(19)).replacingOccurrences(of: "T", with: " ")
    }
}

import Foundation

/// One flip of a channel's pointer.
public struct HistoryEntry: Codable, Sendable, Equatable {
    public enum Action: String, Codable, Sendable {
        case activate
        case rollback
    }

    public var time: String
    public var action: Action
    /// The release the channel served before; nil for its first activation.
    public var from: String?
    public var to: String
    /// Who flipped it (`user@host`).
    public var by: String
}

/// The append-only log of a channel's flips: `history/<channel>.jsonl`, one JSON object a line.
struct ChannelHistory {
    let layout: StoreLayout

    func entries(_ channel: String) throws -> [HistoryEntry] {
        guard let bytes = try FileSystem.readFile(layout.history(channel)) else { return [] }
        let decoder = JSONDecoder()
        // A line torn by a crash mid-append cannot decode; it is skipped rather than blocking rollbacks.
        return bytes.split(separator: 0x0A).compactMap { line in
            try? decoder.decode(HistoryEntry.self, from: Data(line))
        }
    }

    func append(_ entry: HistoryEntry, to channel: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var line = Array(try encoder.encode(entry))
        line.append(0x0A)
        try FileSystem.appendDurably(layout.history(channel), line)
    }

    /// The releases this channel went live with, oldest first, as rollbacks unwind them: an
    /// activation pushes its release, a rollback pops back to its target. The top is the live one.
    /// `current` (the pointer) wins over the log if a crash came between a flip and its log line.
    static func liveStack(_ entries: [HistoryEntry], current: String?) -> [String] {
        var stack: [String] = []
        for entry in entries {
            switch entry.action {
            case .activate:
                if stack.last != entry.to { stack.append(entry.to) }
            case .rollback:
                if let index = stack.lastIndex(of: entry.to) {
                    stack.removeSubrange((index + 1)...)
                } else {
                    stack.append(entry.to)
                }
            }
        }
        if let current, stack.last != current { stack.append(current) }
        return stack
    }
}

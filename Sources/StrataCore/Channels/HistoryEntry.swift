import Foundation

/// One flip of a channel's pointer.
public struct HistoryEntry: Codable, Sendable, Equatable {
    public enum Action: String, Codable, Sendable {
        case activate
        case rollback
        /// `strata promote`: the release another channel served (`source` names that channel).
        case promote
        /// Config history only: `strata config set` / `config unset` made a new version.
        case set
        case unset
        /// A canary started or changed its percent: `from` is the stable release, `to` the canary.
        case canary
        /// A canary ended with everyone back on the stable release: `from` is the canary, `to` the
        /// stable release, `reason` why (a rollout's health check and its figures, or a rollback).
        case abort
        /// `strata channel delete`: the channel ends (its pointer now says it expired).
        case delete
    }

    public var time: String
    public var action: Action
    /// The release the channel served before; nil for its first activation.
    public var from: String?
    public var to: String
    /// Who flipped it (`user@host`).
    public var by: String
    /// For a promotion, the channel the release was promoted from.
    public var source: String?
    /// For a canary flip, the share of visitors it now gets.
    public var percent: Int?
    /// For an abort, why.
    public var reason: String?
    /// When the flip set the channel to expire (`--expires`), that time; for a `delete`, now.
    public var expires: String?

    public init(time: String, action: Action, from: String?, to: String, by: String, source: String? = nil,
                percent: Int? = nil, reason: String? = nil) {
        self.time = time
        self.action = action
        self.from = from
        self.to = to
        self.by = by
        self.source = source
        self.percent = percent
        self.reason = reason
    }

    /// The entry that records `move` made over `current`.
    init(_ move: Pointer.Move, from current: PointerValue?, time: String, by: String, source: String?) {
        switch move.action {
        case .canary:
            self.init(time: time, action: .canary, from: move.value.id, to: move.value.canary?.release ?? move.value.id, by: by,
                      percent: move.value.canary?.percent)
        case .abort:
            self.init(time: time, action: .abort, from: current?.canary?.release ?? current?.id, to: move.value.id, by: by,
                      reason: move.reason)
        default:
            self.init(time: time, action: move.action, from: current?.id, to: move.value.id, by: by, source: source, reason: move.reason)
        }
    }
}

extension HistoryEntry {
    /// A history log (`history/<channel>.jsonl`: one JSON object a line), oldest first. A line torn by
    /// a crash mid-append cannot decode; it is skipped rather than blocking rollbacks. So is a line
    /// whose ids are not ids (a history read from a bucket is untrusted input): rollback and prune
    /// only ever see release or version ids.
    static func decodeLines(_ bytes: [UInt8]) -> [HistoryEntry] {
        let decoder = JSONDecoder()
        return bytes.split(separator: 0x0A).compactMap { line in
            guard let entry = try? decoder.decode(HistoryEntry.self, from: Data(line)),
                  Fingerprint.isReleaseID(entry.to), entry.from.map(Fingerprint.isReleaseID) ?? true,
                  entry.source.map({ (try? Names.validateChannel($0)) != nil }) ?? true,
                  entry.percent.map(Canary.percents.contains) ?? true else { return nil }
            return entry
        }
    }

    /// This entry as one log line, keys sorted, newline-terminated.
    func encodedLine() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(self)) + [0x0A]
    }

    /// The values this pointer went live with, oldest first, as rollbacks unwind them: an
    /// activation pushes its value, a rollback pops back to its target. The top is the live one.
    /// `current` (the pointer) wins over the log if a crash came between a flip and its log line.
    static func liveStack(_ entries: [HistoryEntry], current: String?) -> [String] {
        var stack: [String] = []
        for entry in entries {
            switch entry.action {
            case .canary, .abort, .delete:
                continue  // the stable release, what everyone goes back to, stays as it was
            case .activate, .promote, .set, .unset:
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

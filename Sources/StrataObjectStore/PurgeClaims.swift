import Foundation
import StrataCore

/// Which serve node tells the caches of a flip, so they get one purge per flip and not one per node.
///
/// Every node sees the flip in the bucket; the first to switch creates `purges/<channel>/<flip>`
/// with `If-None-Match: *` (the flip is the pointer object's ETag, the same for every node) and
/// sends the purge after `settle`, the time the other nodes need to switch too: a purge before a
/// node switched would let the caches fetch the old page from it again. A node that loses the
/// claim sends nothing, unless it switched only after the winner's purge went out (it was slow to
/// mirror the release): then it purges once more, so no cache keeps a page it served late. A
/// bucket that cannot be asked means a purge (two purges are harmless, none is not).
public struct PurgeClaims: Sendable {
    let client: S3Client
    let layout: S3Layout
    /// How long after claiming the winner purges.
    public let settle: TimeInterval
    private let node: String

    public enum Outcome: Sendable, Equatable {
        case send(after: TimeInterval)
        case skip(String)
    }

    init(client: S3Client, layout: S3Layout, settle: TimeInterval) {
        self.client = client
        self.layout = layout
        self.settle = settle
        node = ProcessIdentity.actor() + ":\(getpid())"
    }

    /// `flip` names the flip (letters, digits, dashes).
    public func claim(channel: String, flip: String) -> Outcome {
        let folder = layout.purgeClaims(of: channel)
        let key = folder + flip
        let now = Date().timeIntervalSince1970
        do {
            switch try client.putObject(key, Array("\(Int64(now * 1000)) \(node)\n".utf8), condition: .absent, contentType: "text/plain") {
            case .written:
                forgetEarlierClaims(in: folder, keeping: key)
                return .send(after: settle)
            case .conflict:
                return .skip("another node is claiming the purge of this flip")
            case .preconditionFailed:
                guard let body = try client.getObject(key)?.body,
                      let millis = String(decoding: body, as: UTF8.self).split(separator: " ").first.flatMap({ Int64($0) }) else {
                    return .send(after: 0)
                }
                let purgedAt = Double(millis) / 1000 + settle
                if now > purgedAt { return .send(after: 0) }  // switched after the winner's purge: purge again
                return .skip("another node sends the purge of this flip")
            }
        } catch {
            return .send(after: 0)
        }
    }

    /// Claims of older flips are no longer asked for; the newest few stay for slow nodes.
    private func forgetEarlierClaims(in folder: String, keeping key: String) {
        guard let listed = try? client.listAll(prefix: folder).objects, listed.count > Self.claimsKept else { return }
        for object in listed.sorted(by: { $0.lastModified < $1.lastModified }).dropLast(Self.claimsKept) where object.key != key {
            try? client.deleteObject(object.key)
        }
    }

    static let claimsKept = 4
}

import Foundation
import StrataCore

/// Pointers as objects: `<folder><name>` holds `<id>\n` followed by the channel's history, one JSON
/// line per flip, oldest first. A flip rewrites the object whole with one conditional PUT
/// (`If-Match` on the ETag it read; `If-None-Match: *` to create), so the move and its history
/// line land together or not at all, and two writers can never both win.
///
/// The history lives in the pointer because an object store offers no append and no multi-object
/// transaction: a separate log object could lose or invent an entry whenever a writer died or lost a
/// race between its two writes.
struct S3PointerStorage: PointerStorage {
    let client: S3Client
    /// The key prefix of this family's pointers, with its trailing slash.
    let folder: String

    private func key(_ name: String) -> String { folder + name }

    func names() throws -> [String] {
        try client.listAll(prefix: folder, delimiter: "/").objects.map { String($0.key.dropFirst(folder.count)) }
            .filter { !$0.isEmpty }
    }

    /// The whole object and its ETag.
    private func object(_ name: String) throws -> (body: [UInt8], tag: String)? {
        guard let reply = try client.getObject(key(name)) else { return nil }
        return (reply.body, reply.entityTag ?? "")
    }

    func read(_ name: String) throws -> (bytes: [UInt8], stamp: PointerStamp)? {
        guard let (body, tag) = try object(name) else { return nil }
        return (Self.split(body).value, .entityTag(tag))
    }

    func stamper(_ name: String) -> @Sendable () -> PointerStamp? {
        let client = client, key = key(name)
        return { (try? client.headObject(key))?.flatMap { $0.entityTag }.map(PointerStamp.entityTag) }
    }

    func historyStamper(_ name: String) -> @Sendable () -> PointerStamp? {
        stamper(name)  // the history changes exactly when the pointer does
    }

    /// One conditional GET: a 304 costs no body.
    func readIfChanged(_ name: String, from known: PointerStamp?) throws -> PointerChange {
        let tag: String?
        switch known {
        case .entityTag(let value)?: tag = value
        default: tag = nil
        }
        switch try client.getObject(key(name), ifChangedFrom: tag) {
        case .unchanged: return .unchanged
        case .absent: return .absent
        case .changed(let reply): return .changed(bytes: Self.split(reply.body).value, stamp: .entityTag(reply.entityTag ?? ""))
        }
    }

    func history(_ name: String) throws -> [UInt8]? {
        guard let (body, _) = try object(name) else { return nil }
        let history = Self.split(body).history
        return history.isEmpty ? nil : history
    }

    func replace(_ name: String, with bytes: [UInt8], logging line: [UInt8], ifStamp expected: PointerStamp?) throws -> Bool {
        let body: [UInt8]
        let condition: S3Client.WriteCondition
        switch expected {
        case nil:
            body = bytes + line
            condition = .absent
        case .entityTag(let tag)?:
            guard let (current, currentTag) = try object(name), currentTag == tag else { return false }
            body = bytes + Self.split(current).history + line
            condition = .matches(tag)
        case .file?:
            return false
        }
        for attempt in 0..<8 {
            switch try client.putObject(key(name), body, condition: condition, contentType: "text/plain; charset=utf-8") {
            case .written:
                return true
            case .preconditionFailed:
                // A retried PUT whose first attempt landed sees its own write; anything else moved it.
                return try object(name)?.body == body
            case .conflict:
                // Another conditional write to this key is in flight: back off, then try once more.
                Thread.sleep(forTimeInterval: Double.random(in: 0.05...0.2) * Double(attempt + 1))
            }
        }
        throw StrataError(.conflict, "pointer \(client.describe(key(name))) stayed busy (409) through 8 attempts; nothing changed, try again")
    }

    /// The pointer's value (its first line, and a canary's line after it) and the history lines
    /// after that. History lines are JSON objects, so the value ends at the first line that starts
    /// with `{`. (A node that predates canaries reads the first line alone: the stable release.)
    static func split(_ body: [UInt8]) -> (value: [UInt8], history: [UInt8]) {
        var end = body.startIndex
        while end < body.endIndex, body[end] != UInt8(ascii: "{") {
            guard let newline = body[end...].firstIndex(of: 0x0A) else { return (body, []) }
            end = newline + 1
        }
        return (Array(body[..<end]), Array(body[end...]))
    }
}

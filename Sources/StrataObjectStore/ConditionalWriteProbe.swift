import Foundation
import StrataCore
import Synchronization

/// Proves, before a process first writes to a bucket, that the service enforces conditional PUTs.
///
/// Every guarantee of an object store rests on them: a flip is one `If-Match` write, content and
/// releases are created with `If-None-Match: *`, and the write lock is a lease taken the same way.
/// Several S3-compatible services accept those headers and ignore them; there two concurrent flips
/// would both "succeed" and one would vanish from the history without a trace. So a probe object
/// is created with `If-None-Match: *`, created again (must be 412), replaced with a wrong `If-Match`
/// (must be 412), and removed. The answer is kept for the process only, never in the bucket: a
/// proxy put in front of the service later can change it.
enum ConditionalWriteProbe {
    private static let answers = Mutex<[String: Bool]>([:])

    /// Throws, naming the service, unless it enforces both conditions. Runs the probe once per
    /// endpoint and bucket in this process.
    static func require(_ store: S3Store) throws {
        let service = "\(store.client.endpoint) bucket \(store.address.bucket)"
        let known = answers.withLock { $0[service] }
        let enforced = try known ?? probe(store)
        answers.withLock { $0[service] = enforced }
        guard enforced else {
            throw StrataError(.invalidInput, "\(store.location) (\(service)) does not enforce If-None-Match/If-Match on PUT, "
                              + "so flips could be lost; Strata will not write there")
        }
    }

    /// Runs the three writes; true when both conditions were enforced.
    static func probe(_ store: S3Store) throws -> Bool {
        let client = store.client
        let key = store.layout.probe(UUID().uuidString.lowercased())
        let body = Array("{\"probe\":\"conditional writes\"}\n".utf8)
        guard case .written = try putRetryingConflicts(client, key, body, .absent) else {
            throw StrataError(.io, "cannot probe \(store.location): creating a new object with If-None-Match: * was refused")
        }
        defer { try? client.deleteObject(key) }
        let created = try putRetryingConflicts(client, key, body, .absent)
        let wrongTag = "\"00000000000000000000000000000000\""
        let replaced = try putRetryingConflicts(client, key, body, .matches(wrongTag))
        return created == .preconditionFailed && replaced == .preconditionFailed
    }

    /// A 409 says another conditional write to the key is in flight: the service enforces
    /// something, but not an answer yet; ask again.
    private static func putRetryingConflicts(_ client: S3Client, _ key: String, _ body: [UInt8],
                                             _ condition: S3Client.WriteCondition) throws -> S3Client.WriteOutcome {
        for _ in 0..<5 {
            let outcome = try client.putObject(key, body, condition: condition, contentType: "application/json")
            if outcome != .conflict { return outcome }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return .conflict
    }
}

import NIOHTTP1
import StrataCore

/// The object operations Strata uses, with S3's answers turned into outcomes or errors.
extension S3Client {
    /// The object, or nil when there is no such key.
    public func getObject(_ key: String) throws -> Reply? {
        let reply = try send(.GET, key: key)
        if reply.status == 404, S3XML.error(reply.body)?.code != "NoSuchBucket" { return nil }
        guard reply.status == 200 else { throw failure(reply, "read \(describe(key))") }
        return reply
    }

    public enum ConditionalRead: Sendable {
        case unchanged
        case absent
        case changed(Reply)
    }

    /// A GET with `If-None-Match: <etag>`: 304 when the object is still that version.
    public func getObject(_ key: String, ifChangedFrom tag: String?) throws -> ConditionalRead {
        let reply = try send(.GET, key: key, headers: tag.map { [("If-None-Match", $0)] } ?? [])
        switch reply.status {
        case 304: return .unchanged
        case 404 where S3XML.error(reply.body)?.code != "NoSuchBucket": return .absent
        case 200: return .changed(reply)
        default: throw failure(reply, "read \(describe(key))")
        }
    }

    /// The object's headers, or nil when there is no such key.
    public func headObject(_ key: String) throws -> Reply? {
        let reply = try send(.HEAD, key: key)
        switch reply.status {
        case 200: return reply
        case 404: return nil
        default: throw failure(reply, "read \(describe(key))")
        }
    }

    public enum WriteOutcome: Sendable, Equatable {
        case written(entityTag: String?)
        /// The condition did not hold (412): the key exists, or moved.
        case preconditionFailed
        /// A concurrent conditional write to the same key is in progress (409): try again later.
        case conflict
    }

    /// Writes an object whole. `payloadHash` is the body's SHA-256 when the caller knows it already.
    public func putObject(_ key: String, _ body: [UInt8], payloadHash: String? = nil, condition: WriteCondition = .none,
                          contentType: String = "application/octet-stream") throws -> WriteOutcome {
        let reply = try send(.PUT, key: key, headers: [("Content-Type", contentType)] + condition.headers, body: body,
                             payloadHash: payloadHash)
        switch reply.status {
        case 200: return .written(entityTag: reply.entityTag)
        case 412: return .preconditionFailed
        case 409: return .conflict
        default: throw failure(reply, "write \(describe(key))")
        }
    }

    /// Deletes a key; deleting what is not there is not an error (S3 says 204 either way).
    public func deleteObject(_ key: String) throws {
        let reply = try send(.DELETE, key: key)
        guard reply.isSuccess || reply.status == 404 else { throw failure(reply, "delete \(describe(key))") }
    }

    /// One page of a listing (up to 1,000 keys).
    func listPage(prefix: String, delimiter: String? = nil, token: String? = nil) throws -> S3XML.ListPage {
        var query = [("list-type", "2"), ("prefix", prefix)]
        if let delimiter { query.append(("delimiter", delimiter)) }
        if let token { query.append(("continuation-token", token)) }
        let reply = try send(.GET, key: nil, query: query)
        guard reply.status == 200 else { throw failure(reply, "list \(describe(prefix))") }
        guard let page = S3XML.listPage(reply.body) else {
            throw StrataError(.io, "cannot list \(describe(prefix)): the answer is not a listing")
        }
        return page
    }

    /// Every key under `prefix` (and common prefixes, with a delimiter), all pages.
    func listAll(prefix: String, delimiter: String? = nil) throws -> S3XML.ListPage {
        var all = S3XML.ListPage()
        var token: String?
        repeat {
            let page = try listPage(prefix: prefix, delimiter: delimiter, token: token)
            all.objects += page.objects
            all.prefixes += page.prefixes
            token = page.nextToken
        } while token != nil
        return all
    }
}

extension S3Client {
    /// Every key of the bucket, sorted (for checks and tests).
    public func allKeys(prefix: String = "") throws -> [String] {
        try listAll(prefix: prefix).objects.map(\.key).sorted()
    }
}

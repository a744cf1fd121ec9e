import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import StrataCore
import Synchronization

/// A blocking S3 client for one bucket: each call signs one request (SigV4), sends it on its
/// `S3Transport` (async-http-client's async API), and waits. Callers run on their own threads (the
/// command line's, the publish workers', a serve node's follower), never on an event loop.
///
/// Network failures and answers that say "try again" (500, 502, 503, 504, 429 SlowDown) are retried
/// with growing pauses, so a blip does not fail a publish; anything else is the caller's to read.
/// Nothing this type throws or prints contains a secret or a signature.
public final class S3Client: Sendable {
    public let settings: S3Settings
    public let bucket: String
    let signer: SignatureV4
    /// Set once a query with a `/` was refused as signed by AWS's rule and accepted as signed with
    /// the `/` left alone (moto 5.2 does this); every later query is then signed that way.
    private let slashesInQuery = Atomic<Bool>(false)

    /// Attempts per request (the first included) when the network or the service fails transiently.
    static let attempts = 3
    /// The HTTP client: its connections are pooled across the threads using this client.
    public let transport: S3Transport

    public init(settings: S3Settings, bucket: String, transport: S3Transport = S3Transport()) {
        self.settings = settings
        self.bucket = bucket
        self.transport = transport
        signer = SignatureV4(credentials: settings.credentials, region: settings.region)
    }

    /// What came back: status, headers, and the body (error documents, small objects, listings).
    public struct Reply: Sendable {
        public let status: Int
        public let headers: HTTPHeaders
        public let body: [UInt8]

        /// The ETag, as the service sent it (quotes included: it goes back verbatim in `If-Match`).
        public var entityTag: String? { headers.first(name: "ETag") }
        public var isSuccess: Bool { (200..<300).contains(status) }
    }

    /// A condition on a write.
    public enum WriteCondition: Sendable {
        case none
        /// Only if the key does not exist (`If-None-Match: *`).
        case absent
        /// Only if the object is still this version (`If-Match: <etag>`).
        case matches(String)

        var headers: [(String, String)] {
            switch self {
            case .none: return []
            case .absent: return [("If-None-Match", "*")]
            case .matches(let tag): return [("If-Match", tag)]
            }
        }
    }

    // MARK: - Requests

    /// Sends one signed request to `key` (nil: the bucket itself) and returns the reply, whatever its
    /// status; retries transient failures.
    public func send(_ method: HTTPMethod, key: String?, query: [(String, String)] = [], headers extra: [(String, String)] = [],
                     body: [UInt8] = [], payloadHash: String? = nil) throws -> Reply {
        var lastError: Error?
        for attempt in 0..<Self.attempts {
            if attempt > 0 { Thread.sleep(forTimeInterval: 0.1 * pow(4, Double(attempt - 1))) }
            do {
                var reply = try sendOnce(method, key: key, query: query, headers: extra, body: body, payloadHash: payloadHash)
                if reply.status == 403, !slashesInQuery.load(ordering: .relaxed), query.contains(where: { $0.1.contains("/") }),
                   S3XML.error(reply.body)?.code == "SignatureDoesNotMatch" {
                    slashesInQuery.store(true, ordering: .relaxed)
                    reply = try sendOnce(method, key: key, query: query, headers: extra, body: body, payloadHash: payloadHash)
                    if reply.status == 403 { slashesInQuery.store(false, ordering: .relaxed) }  // the credentials, then
                }
                if Self.isTransient(reply.status) && attempt + 1 < Self.attempts { continue }
                return reply
            } catch let error as StrataError {
                lastError = error
            }
        }
        throw lastError ?? StrataError(.io, "\(describe(key)): no answer")
    }

    private func sendOnce(_ method: HTTPMethod, key: String?, query: [(String, String)], headers extra: [(String, String)],
                          body: [UInt8], payloadHash: String?) throws -> Reply {
        let request = try signedRequest(method, key: key, query: query, headers: extra, body: body, payloadHash: payloadHash)
        do {
            return try transport.execute(request, timeout: .seconds(600))
        } catch {
            throw unreachable(error)
        }
    }

    /// Streams an object's body into `sink` (a file being written), hashing it as it goes; the
    /// reply's body is empty unless the status is an error (then it holds the error document).
    public func download(_ key: String, into sink: @escaping @Sendable (UnsafeRawBufferPointer) throws -> Void) throws
        -> (reply: Reply, size: Int64, sha256: String) {
        var lastError: Error?
        for attempt in 0..<Self.attempts {
            if attempt > 0 { Thread.sleep(forTimeInterval: 0.1 * pow(4, Double(attempt - 1))) }
            let request = try signedRequest(.GET, key: key, query: [], headers: [], body: [], payloadHash: nil)
            let delivered = DeliveredBytes()
            do {
                let result = try transport.download(request, timeout: .seconds(3600), delivered: delivered, into: sink)
                if Self.isTransient(result.reply.status) && attempt + 1 < Self.attempts { continue }
                return result
            } catch let error as StrataError {
                throw error  // the sink failed: a local problem, not worth retrying
            } catch {
                lastError = unreachable(error)
                if delivered.count.load(ordering: .relaxed) > 0 { break }  // the sink already holds part of the body
            }
        }
        throw lastError ?? StrataError(.io, "\(describe(key)): no answer")
    }

    private func signedRequest(_ method: HTTPMethod, key: String?, query: [(String, String)], headers extra: [(String, String)],
                               body: [UInt8], payloadHash: String?) throws -> HTTPClientRequest {
        let authority = settings.port.map { "\(hostName):\($0)" } ?? hostName
        var path = settings.pathStyle ? "/" + bucket : ""
        if let key { path += "/" + key } else if path.isEmpty { path = "/" }
        let hash = payloadHash ?? (body.isEmpty ? SignatureV4.emptyPayloadHash : Self.sha256Hex(body))
        var headers = [("Host", authority)] + extra
        if !body.isEmpty || method == .PUT || method == .POST { headers.append(("Content-Length", String(body.count))) }
        let signed = signer.headers(method: method.rawValue, path: path, query: query, headers: headers, payloadHash: hash, date: Date(),
                                    slashesInQuery: slashesInQuery.load(ordering: .relaxed))
        var url = "\(settings.scheme)://\(authority)\(SignatureV4.encode(path, keepingSlashes: true))"
        if !query.isEmpty { url += "?" + Self.queryForURL(SignatureV4.canonicalQuery(query)) }
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers + signed where name != "Content-Length" { request.headers.add(name: name, value: value) }
        if !body.isEmpty || method == .PUT || method == .POST { request.body = .bytes(ByteBuffer(bytes: body)) }
        return request
    }

    /// The query as it must appear in the URL handed to the HTTP client for the canonical query to
    /// reach the wire unchanged. Foundation on Linux hands the client a percent-decoded query
    /// (`%2F` goes out as `/`, `%26` as `&`), so there every `%` is escaped once more; checked, not
    /// assumed, so a Foundation that keeps the encoding gets the query as it is.
    static func queryForURL(_ canonical: String) -> String {
        queryIsDecoded ? canonical.replacingOccurrences(of: "%", with: "%25") : canonical
    }

    private static let queryIsDecoded = URL(string: "http://probe/?a=%2F")?.query == "a=/"

    private var hostName: String { settings.pathStyle ? settings.host : "\(bucket).\(settings.host)" }

    static func isTransient(_ status: Int) -> Bool { [500, 502, 503, 504, 429].contains(status) }

    /// A network failure as one line naming the endpoint, never the request's headers.
    private func unreachable(_ error: Error) -> StrataError {
        let reason: String
        switch error {
        case let error as HTTPClientError where error == .connectTimeout: reason = "connection timed out"
        case let error as HTTPClientError where error == .readTimeout: reason = "no answer in time"
        case let error as HTTPClientError where error == .deadlineExceeded: reason = "no answer in time"
        case let error as HTTPClientError where error == .remoteConnectionClosed: reason = "the connection was closed"
        default:
            let text = String(describing: error)
            if text.contains("Connection refused") {
                reason = "connection refused"
            } else if text.contains("timed out") || text.contains("Timeout") {
                reason = "connection timed out"
            } else {
                reason = text.split(separator: "\n").first.map(String.init) ?? "unknown error"
            }
        }
        return StrataError(.io, "cannot reach \(endpoint) for s3://\(bucket): \(reason)")
    }

    func describe(_ key: String?) -> String { "s3://\(bucket)/\(key ?? "")" }

    /// The service's address, for messages: `https://host[:port]`.
    var endpoint: String { "\(settings.scheme)://\(settings.host)\(settings.port.map { ":\($0)" } ?? "")" }

    static func sha256Hex<Bytes: DataProtocol>(_ bytes: Bytes) -> String {
        SHA256.hash(data: bytes).map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()
    }

    // MARK: - Errors

    /// The reply as an error for `what` (`"read s3://…/key"`): S3's code and message when it sent
    /// them, else the status. The message is S3's `<Message>` only, which never holds the signature.
    public func failure(_ reply: Reply, _ what: String) -> StrataError {
        let document = S3XML.error(reply.body)
        let code = document?.code
        switch (reply.status, code) {
        case (403, "SignatureDoesNotMatch"), (403, "InvalidAccessKeyId"), (403, "InvalidClientTokenId"), (403, "ExpiredToken"):
            return StrataError(.invalidInput, "cannot \(what): the credentials were refused (\(code!)); check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_PROFILE")
        case (403, _):
            // A HEAD's refusal has no body to say why: bad credentials look like a missing permission.
            return StrataError(.invalidInput, "cannot \(what): refused (\(code ?? "403 Forbidden")); check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the bucket's policy")
        case (404, "NoSuchBucket"):
            return StrataError(.notFound, "cannot \(what): bucket '\(bucket)' does not exist")
        default:
            let detail = document.map { "\($0.code)\($0.message.isEmpty ? "" : ": " + $0.message)" } ?? "HTTP \(reply.status)"
            let kind: StrataError.Kind = reply.status == 412 || reply.status == 409 ? .conflict : reply.status == 404 ? .notFound : .io
            return StrataError(kind, "cannot \(what): \(detail)")
        }
    }
}

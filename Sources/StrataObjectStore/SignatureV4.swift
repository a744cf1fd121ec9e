import Crypto
import Foundation

/// AWS Signature Version 4 for S3 requests, in headers (`Authorization`), with the payload's
/// SHA-256 signed too (`x-amz-content-sha256`). Follows AWS's "Signature Version 4 signing
/// process"; the tests check it against AWS's documented S3 example and botocore's signer.
public struct SignatureV4: Sendable {
    public let credentials: Credentials
    public let region: String
    public let service: String

    public init(credentials: Credentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// An access key and its secret. Printing one never shows the secret or the session token.
    public struct Credentials: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
        public let accessKeyID: String
        let secretAccessKey: String
        let sessionToken: String?

        public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
            self.accessKeyID = accessKeyID
            self.secretAccessKey = secretAccessKey
            self.sessionToken = sessionToken
        }

        public var description: String { "credentials of access key \(accessKeyID)" }
        public var debugDescription: String { description }
        /// `dump` and debuggers see the key id only.
        public var customMirror: Mirror { Mirror(self, children: ["accessKeyID": accessKeyID]) }
    }

    /// SHA-256 of an empty payload, in hex.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// The headers to add to a request so S3 accepts it: `x-amz-date`, `x-amz-content-sha256`,
    /// `x-amz-security-token` (with a session token) and `Authorization`. `path` is the decoded
    /// object path (`/bucket/key` or `/key`); `query` the decoded parameters; `headers` every other
    /// header the request sends (`Host` included), which are all signed.
    ///
    /// `slashesInQuery` leaves `/` unencoded in the canonical query: not AWS's rule, but what moto
    /// 5.2 checks against (it canonicalizes the decoded query), so a client can fall back to it.
    public func headers(method: String, path: String, query: [(String, String)] = [], headers: [(String, String)],
                        payloadHash: String, date: Date, slashesInQuery: Bool = false) -> [(String, String)] {
        let (amzDate, day) = Self.timestamps(date)
        var added = [("x-amz-date", amzDate), ("x-amz-content-sha256", payloadHash)]
        if let token = credentials.sessionToken { added.append(("x-amz-security-token", token)) }
        let signed = Self.canonicalHeaders(headers + added)
        let canonicalRequest = [
            method,
            Self.encode(path, keepingSlashes: true),
            Self.canonicalQuery(query, keepingSlashes: slashesInQuery),
            signed.map { "\($0.name):\($0.value)\n" }.joined(),
            signed.map(\.name).joined(separator: ";"),
            payloadHash,
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = "AWS4-HMAC-SHA256\n\(amzDate)\n\(scope)\n\(Self.hex(SHA256.hash(data: Data(canonicalRequest.utf8))))"
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: signingKey(day: day)))
        let authorization = "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), "
            + "SignedHeaders=\(signed.map(\.name).joined(separator: ";")), Signature=\(signature)"
        return added + [("Authorization", authorization)]
    }

    private func signingKey(day: String) -> SymmetricKey {
        var key = SymmetricKey(data: Data("AWS4\(credentials.secretAccessKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return key
    }

    /// Lower-case names, values trimmed with inner runs of spaces made one, sorted by name;
    /// repeated names joined with commas.
    static func canonicalHeaders(_ headers: [(String, String)]) -> [(name: String, value: String)] {
        var byName: [String: [String]] = [:]
        for (name, value) in headers {
            let squeezed = value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            byName[name.lowercased(), default: []].append(squeezed.trimmingCharacters(in: .whitespaces))
        }
        return byName.keys.sorted().map { (name: $0, value: byName[$0]!.joined(separator: ",")) }
    }

    /// Names and values encoded, then sorted by name (and value), as `name=value&…`.
    static func canonicalQuery(_ query: [(String, String)], keepingSlashes: Bool = false) -> String {
        let encoded: [(name: String, value: String)] = query.map { pair in
            (name: encode(pair.0, keepingSlashes: keepingSlashes), value: encode(pair.1, keepingSlashes: keepingSlashes))
        }
        let sorted = encoded.sorted { lhs, rhs in lhs.name == rhs.name ? lhs.value < rhs.value : lhs.name < rhs.name }
        return sorted.map { pair in pair.name + "=" + pair.value }.joined(separator: "&")
    }

    /// RFC 3986 percent-encoding of everything but unreserved characters (and `/` in paths).
    static func encode(_ text: String, keepingSlashes: Bool) -> String {
        var encoded = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "/") where keepingSlashes:
                encoded.append("/")
            default:
                encoded += "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 0xF, radix: 16, uppercase: true)
            }
        }
        return encoded
    }

    /// `20130524T000000Z` and `20130524`, in UTC.
    static func timestamps(_ date: Date) -> (String, String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ number: Int?) -> String { String(format: "%02d", number ?? 0) }
        let day = String(format: "%04d", parts.year ?? 0) + two(parts.month) + two(parts.day)
        return (day + "T" + two(parts.hour) + two(parts.minute) + two(parts.second) + "Z", day)
    }

    private static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }
}

import Foundation
import StrataCore

/// Where the bucket is served and as whom, resolved the way the AWS SDKs and CLI do.
///
/// Credentials: `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`), else the
/// profile `AWS_PROFILE` (default `default`) of `AWS_SHARED_CREDENTIALS_FILE` (default
/// `~/.aws/credentials`). Region: `AWS_REGION`, else `AWS_DEFAULT_REGION`, else `us-east-1`.
/// Endpoint: `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`, else AWS's own; a custom endpoint is
/// addressed path-style (`http://host:port/bucket/key`), AWS virtual-hosted style.
public struct S3Settings: Sendable {
    public var credentials: SignatureV4.Credentials
    public var region: String
    /// `http` or `https`.
    public var scheme: String
    /// Host and port of the service, without the bucket.
    public var host: String
    public var port: Int?
    public var pathStyle: Bool

    public init(credentials: SignatureV4.Credentials, region: String, endpoint: String?) throws {
        self.credentials = credentials
        self.region = region
        if let endpoint {
            guard let url = URLComponents(string: endpoint), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
                  let host = url.host, !host.isEmpty, url.path.isEmpty || url.path == "/", url.query == nil else {
                throw StrataError(.invalidInput, "endpoint '\(endpoint)' is not an http(s)://host[:port] address")
            }
            self.scheme = scheme
            self.host = host
            self.port = url.port
            pathStyle = true
        } else {
            scheme = "https"
            host = "s3.\(region).amazonaws.com"
            port = nil
            pathStyle = false
        }
    }

    /// Settings from the environment (and the shared credentials file it may name).
    public static func fromEnvironment(_ environment: [String: String]) throws -> S3Settings {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        let region = value("AWS_REGION") ?? value("AWS_DEFAULT_REGION") ?? "us-east-1"
        let endpoint = value("AWS_ENDPOINT_URL_S3") ?? value("AWS_ENDPOINT_URL")
        return try S3Settings(credentials: try credentials(environment), region: region, endpoint: endpoint)
    }

    static func credentials(_ environment: [String: String]) throws -> SignatureV4.Credentials {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        if let key = value("AWS_ACCESS_KEY_ID") {
            guard let secret = value("AWS_SECRET_ACCESS_KEY") else {
                throw StrataError(.invalidInput, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
            }
            return SignatureV4.Credentials(accessKeyID: key, secretAccessKey: secret, sessionToken: value("AWS_SESSION_TOKEN"))
        }
        let profile = value("AWS_PROFILE") ?? "default"
        let file = value("AWS_SHARED_CREDENTIALS_FILE") ?? ((value("HOME") ?? NSHomeDirectory()) + "/.aws/credentials")
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw StrataError(.invalidInput, "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or write profile '\(profile)' in \(file)")
        }
        let section = CredentialsFile.section(profile, in: text)
        guard let key = section["aws_access_key_id"], let secret = section["aws_secret_access_key"] else {
            throw StrataError(.invalidInput, "profile '\(profile)' in \(file) has no aws_access_key_id and aws_secret_access_key")
        }
        return SignatureV4.Credentials(accessKeyID: key, secretAccessKey: secret, sessionToken: section["aws_session_token"])
    }
}

/// The INI format of `~/.aws/credentials`: `[profile]` headers, `key = value` lines, `#`/`;` comments.
enum CredentialsFile {
    static func section(_ wanted: String, in text: String) -> [String: String] {
        var current: String?
        var values: [String: String] = [:]
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                current = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                continue
            }
            guard current == wanted, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            values[key] = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        }
        return values
    }
}

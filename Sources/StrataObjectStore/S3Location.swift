import StrataCore

/// `s3://BUCKET/PREFIX`: a bucket and the key prefix under which one store lives.
public struct S3Location: Sendable, Equatable, CustomStringConvertible {
    public let bucket: String
    /// Without leading or trailing slashes; empty for a store at the bucket's top.
    public let prefix: String

    public static func isObjectStore(_ root: String) -> Bool { root.hasPrefix("s3://") }

    public init(_ text: String) throws {
        guard Self.isObjectStore(text) else {
            throw StrataError(.invalidInput, "'\(text)' is not an s3://BUCKET/PREFIX address")
        }
        let rest = text.dropFirst("s3://".count)
        let bucket = rest.prefix { $0 != "/" }
        guard Self.isValidBucket(bucket) else {
            throw StrataError(.invalidInput, "'\(text)': '\(bucket)' is not a bucket name (3-63 lower-case letters, digits, '.' and '-')")
        }
        let prefix = rest.dropFirst(bucket.count).split(separator: "/", omittingEmptySubsequences: true)
        guard !prefix.contains(where: { $0 == "." || $0 == ".." }) else {
            throw StrataError(.invalidInput, "'\(text)': the prefix may not contain '.' or '..' segments")
        }
        self.bucket = String(bucket)
        self.prefix = prefix.joined(separator: "/")
    }

    /// The object key of `name` inside the store (`name` is relative, `/`-separated).
    func key(_ name: String) -> String {
        prefix.isEmpty ? name : prefix + "/" + name
    }

    public var description: String { prefix.isEmpty ? "s3://\(bucket)" : "s3://\(bucket)/\(prefix)" }

    private static func isValidBucket(_ name: Substring) -> Bool {
        (3...63).contains(name.count) && name.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
        }
    }
}

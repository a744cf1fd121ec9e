import Crypto
import Foundation
import SystemPackage

/// An Ed25519 key pair in OpenSSH's own formats: the secret key as an unencrypted
/// `-----BEGIN OPENSSH PRIVATE KEY-----` file (0600), the public key as one `ssh-ed25519 AAAA… comment`
/// line. So `ssh-keygen -Y sign` can use the same key, and `ssh-keygen -Y verify` checks what Strata signs.
public struct SigningKey: Sendable {
    let secret: Curve25519.Signing.PrivateKey
    public let comment: String

    public var publicKey: PublicSigningKey { PublicSigningKey(raw: Array(secret.publicKey.rawRepresentation), comment: comment) }

    public static func generate(comment: String) -> SigningKey {
        SigningKey(secret: Curve25519.Signing.PrivateKey(), comment: comment)
    }

    /// Writes the secret key to `path` (created 0600, never replacing a file) and the public key to
    /// `path.pub`. Neither is printed.
    public func write(to path: String) throws {
        for file in [path, path + ".pub"] where FileSystem.exists(FilePath(file)) {
            throw StrataError(.conflict, "'\(file)' exists; keys are never overwritten")
        }
        try Self.create(FilePath(path), Array(privateKeyFile().utf8), permissions: [.ownerRead, .ownerWrite])
        try Self.create(FilePath(path + ".pub"), Array((publicKey.line + "\n").utf8), permissions: [.ownerRead, .ownerWrite, .groupRead, .otherRead])
    }

    private static func create(_ path: FilePath, _ bytes: [UInt8], permissions: FilePermissions) throws {
        let file = try FileSystem.open(path, .writeOnly, options: [.create, .exclusiveCreate], permissions: permissions, purpose: "create")
        try file.writeAll(bytes)
        try file.sync()
        try file.close()
    }

    /// Reads an unencrypted OpenSSH Ed25519 secret key (as `strata keygen` or `ssh-keygen -t ed25519 -N ''` write).
    public static func load(_ path: String) throws -> SigningKey {
        guard let bytes = try FileSystem.readFile(FilePath(path)) else {
            throw StrataError(.notFound, "signing key '\(path)' does not exist")
        }
        func refuse(_ why: String) -> StrataError { StrataError(.invalidInput, "signing key '\(path)' \(why)") }
        guard let blob = SSHArmor.unwrap(String(decoding: bytes, as: UTF8.self), label: "OPENSSH PRIVATE KEY") else {
            throw refuse("is not an OpenSSH private key")
        }
        do {
            let magic = Array("openssh-key-v1\0".utf8)
            var reader = SSHReader(blob)
            guard try reader.raw(magic.count) == magic else { throw refuse("is not an OpenSSH private key") }
            let cipher = try reader.text()
            _ = try reader.text()  // kdf
            _ = try reader.string()  // kdf options
            guard cipher == "none" else { throw refuse("is encrypted; Strata needs an unencrypted key (ssh-keygen -N '')") }
            guard try reader.uint32() == 1 else { throw refuse("holds more than one key") }
            _ = try reader.string()  // the public key, repeated in the private section
            var section = SSHReader(try reader.string())
            guard try section.uint32() == (try section.uint32()) else { throw refuse("is damaged (check bytes differ)") }
            guard try section.text() == "ssh-ed25519" else { throw refuse("is not an Ed25519 key") }
            _ = try section.string()
            let pair = try section.string()
            let comment = try section.text()
            guard pair.count == 64 else { throw refuse("is damaged (Ed25519 secret of \(pair.count) bytes)") }
            let secret = try Curve25519.Signing.PrivateKey(rawRepresentation: pair.prefix(32))
            guard Array(secret.publicKey.rawRepresentation) == Array(pair.suffix(32)) else { throw refuse("is damaged (public half differs)") }
            return SigningKey(secret: secret, comment: comment)
        } catch let error as StrataError where error == SSHReader.truncated {
            throw refuse("is truncated")
        }
    }

    /// The OpenSSH private key file (`PROTOCOL.key`), unencrypted.
    func privateKeyFile() -> String {
        let check = UInt32.random(in: .min ... .max)
        var section = SSHWriter()
        section.uint32(check)
        section.uint32(check)
        section.string("ssh-ed25519")
        section.string(publicKey.raw)
        section.string(Array(secret.rawRepresentation) + publicKey.raw)
        section.string(comment)
        var pad: UInt8 = 1
        while section.bytes.count % 8 != 0 { section.raw([pad]); pad += 1 }
        var file = SSHWriter()
        file.raw(Array("openssh-key-v1\0".utf8))
        file.string("none")
        file.string("none")
        file.string([])
        file.uint32(1)
        file.string(publicKey.blob)
        file.string(section.bytes)
        return SSHArmor.wrap(file.bytes, label: "OPENSSH PRIVATE KEY", width: 70)
    }

    func sign(_ data: [UInt8]) throws -> [UInt8] {
        Array(try secret.signature(for: data))
    }
}

/// An Ed25519 public key: the `ssh-ed25519 AAAA… comment` line of a `.pub` file.
public struct PublicSigningKey: Sendable, Hashable {
    /// The 32 key bytes.
    public let raw: [UInt8]
    public let comment: String

    /// The key as SSH encodes it: `string "ssh-ed25519", string key`.
    var blob: [UInt8] {
        var writer = SSHWriter()
        writer.string("ssh-ed25519")
        writer.string(raw)
        return writer.bytes
    }

    public var line: String { "ssh-ed25519 " + Data(blob).base64EncodedString() + (comment.isEmpty ? "" : " " + comment) }

    /// `SHA256:…`, as `ssh-keygen -l` shows keys: something to say in messages instead of the key.
    public var fingerprint: String {
        "SHA256:" + Data(SHA256.hash(data: blob)).base64EncodedString().replacingOccurrences(of: "=", with: "")
    }

    static func fromBlob(_ blob: [UInt8], comment: String = "") -> PublicSigningKey? {
        var reader = SSHReader(blob)
        guard (try? reader.text()) == "ssh-ed25519", let raw = try? reader.string(), raw.count == 32, reader.isAtEnd else { return nil }
        return PublicSigningKey(raw: raw, comment: comment)
    }

    /// Every `ssh-ed25519` key in a `.pub` or `authorized_keys`-style file (blank lines and `#` comments skipped).
    public static func loadAll(_ path: String) throws -> [PublicSigningKey] {
        guard let bytes = try FileSystem.readFile(FilePath(path)) else {
            throw StrataError(.notFound, "trusted key file '\(path)' does not exist")
        }
        var keys: [PublicSigningKey] = []
        for (number, line) in String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline).enumerated() {
            let fields = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
            if fields.isEmpty || fields[0].hasPrefix("#") { continue }
            guard fields.count >= 2, fields[0] == "ssh-ed25519", let blob = Data(base64Encoded: String(fields[1])),
                  let key = fromBlob(Array(blob), comment: fields.count > 2 ? String(fields[2]) : "") else {
                throw StrataError(.invalidInput, "trusted key file '\(path)' line \(number + 1) is not an ssh-ed25519 public key")
            }
            keys.append(key)
        }
        guard !keys.isEmpty else { throw StrataError(.invalidInput, "trusted key file '\(path)' holds no ssh-ed25519 key") }
        return keys
    }

    func verify(_ signature: [UInt8], of data: [UInt8]) -> Bool {
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else { return false }
        return key.isValidSignature(signature, for: data)
    }
}

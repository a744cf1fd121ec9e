import Crypto
import Foundation

/// A release's signature: an SSH signature (OpenSSH `PROTOCOL.sshsig`, namespace `strata-release`,
/// SHA-512) over the release's canonical listing, the `<sha256>  <path>` lines whose SHA-256 is its
/// fingerprint. It covers every file's path and content, so it covers the id.
///
/// SSH signatures because the standard tool is on nearly every machine already: with the listing
/// recomputed by coreutils, `ssh-keygen -Y verify -n strata-release` checks a release without Strata
/// (see README, "Signing"). Kept in the manifest as the armoured text `ssh-keygen -Y sign` writes.
public enum ReleaseSignature {
    public static let namespace = "strata-release"
    private static let magic = Array("SSHSIG".utf8)

    /// The bytes that are signed: the listing the fingerprint hashes.
    public static func message(_ manifest: Manifest) -> [UInt8] {
        var bytes: [UInt8] = []
        for entry in manifest.files { bytes += Array("\(entry.sha256)  \(entry.path)\n".utf8) }
        return bytes
    }

    /// The armoured signature of `manifest` by `key`.
    public static func sign(_ manifest: Manifest, with key: SigningKey) throws -> String {
        let signature = try key.sign(signedData(message(manifest)))
        var signatureBlob = SSHWriter()
        signatureBlob.string("ssh-ed25519")
        signatureBlob.string(signature)
        var blob = SSHWriter()
        blob.raw(magic)
        blob.uint32(1)
        blob.string(key.publicKey.blob)
        blob.string(namespace)
        blob.string([])
        blob.string("sha512")
        blob.string(signatureBlob.bytes)
        return SSHArmor.wrap(blob.bytes, label: "SSH SIGNATURE", width: 70)
    }

    /// What Ed25519 signs (`PROTOCOL.sshsig`): the magic, namespace, reserved, hash name, and the
    /// message's SHA-512.
    private static func signedData(_ message: [UInt8]) -> [UInt8] {
        var data = SSHWriter()
        data.raw(magic)
        data.string(namespace)
        data.string([])
        data.string("sha512")
        data.string(Array(SHA512.hash(data: message)))
        return data.bytes
    }

    /// Throws, naming the release, unless `manifest` carries a valid signature by one of `trusted`.
    public static func require(_ manifest: Manifest, signedBy trusted: [PublicSigningKey], origin: String) throws {
        func refuse(_ why: String) -> StrataError {
            StrataError(.invalidInput, "release \(manifest.id)\(origin.isEmpty ? "" : " in " + origin) \(why); refusing it")
        }
        guard let armoured = manifest.signature else { throw refuse("is not signed") }
        guard let blob = SSHArmor.unwrap(armoured, label: "SSH SIGNATURE") else { throw refuse("has a signature that is not an SSH signature") }
        var reader = SSHReader(blob)
        let parsed = try? (magic: reader.raw(6), version: reader.uint32(), key: reader.string(), namespace: reader.text(),
                           reserved: reader.string(), hash: reader.text(), signature: reader.string())
        guard let parsed, parsed.magic == magic, parsed.version == 1, reader.isAtEnd else {
            throw refuse("has a damaged signature")
        }
        guard parsed.namespace == namespace else { throw refuse("has a signature for '\(Escaped.path(parsed.namespace))', not \(namespace)") }
        guard parsed.hash == "sha512" || parsed.hash == "sha256" else { throw refuse("has a signature with an unknown hash") }
        guard let key = PublicSigningKey.fromBlob(parsed.key) else { throw refuse("is signed with a key that is not Ed25519") }
        guard trusted.contains(where: { $0.raw == key.raw }) else { throw refuse("is signed by \(key.fingerprint), which is not a trusted key") }
        var signatureReader = SSHReader(parsed.signature)
        guard (try? signatureReader.text()) == "ssh-ed25519", let signature = try? signatureReader.string() else {
            throw refuse("has a damaged signature")
        }
        var data = SSHWriter()
        data.raw(magic)
        data.string(namespace)
        data.string(parsed.reserved)
        data.string(parsed.hash)
        let listing = message(manifest)
        data.string(parsed.hash == "sha512" ? Array(SHA512.hash(data: listing)) : Array(SHA256.hash(data: listing)))
        guard key.verify(signature, of: data.bytes) else { throw refuse("has a signature that does not match its files") }
        // The signature covers names and content, not the manifest's media types: those must be the
        // ones the names give, or whoever can write the manifest could serve a signed file as HTML.
        if let entry = manifest.files.first(where: { $0.type != ContentType.forPath($0.path) }) {
            throw refuse("types '\(Escaped.path(entry.path))' as \(entry.type), not the \(ContentType.forPath(entry.path)) its name gives")
        }
    }
}

/// The keys a command trusts (`--trust FILE`, repeatable): nil-free, at least one key.
public struct TrustedKeys: Sendable {
    public let keys: [PublicSigningKey]

    public init(files: [String]) throws {
        keys = try files.flatMap(PublicSigningKey.loadAll)
    }

    /// Throws unless release `manifest` is signed by one of these keys.
    public func require(_ manifest: Manifest, origin: String) throws {
        try ReleaseSignature.require(manifest, signedBy: keys, origin: origin)
    }
}

import Crypto

/// The release fingerprint, as the product contract defines it.
///
/// For every file, the line `<sha256 hex>  <path>\n` (exactly `sha256sum` output), sorted by path
/// bytewise; the fingerprint is the SHA-256 of the concatenated lines and the release id is its first
/// 16 hex digits. Recompute it with coreutils:
/// `(cd release && find . -type f ! -path './.strata/*' -printf '%P\0' | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum`
public enum Fingerprint {
    public static let idLength = 16

    /// `entries` must be sorted by path bytewise.
    public static func compute<S: Sequence>(_ entries: S) -> String where S.Element == (path: String, sha256: String) {
        var hasher = SHA256()
        var line: [UInt8] = []  // reused: one line per file, `<sha256>  <path>\n`
        for entry in entries {
            line.removeAll(keepingCapacity: true)
            line += entry.sha256.utf8
            line += "  ".utf8
            line += entry.path.utf8
            line.append(0x0A)
            line.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        }
        return Hashing.hex(hasher.finalize())
    }

    public static func releaseID(of fingerprint: String) -> String {
        String(fingerprint.prefix(idLength))
    }

    /// True for a full release id: 16 lowercase hex digits.
    public static func isReleaseID(_ text: String) -> Bool {
        text.utf8.count == idLength && isLowercaseHex(text)
    }

    /// True for a whole fingerprint: 64 lowercase hex digits.
    public static func isFingerprint(_ text: String) -> Bool {
        text.utf8.count == 64 && isLowercaseHex(text)
    }

    public static func isLowercaseHex(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }
}

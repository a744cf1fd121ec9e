import Crypto
import CryptoExtras
import Foundation

/// A password kept as scrypt of it, in the PHC string form: `$scrypt$ln=15,r=8,p=1$<salt>$<key>`
/// (base64, no padding). scrypt is slow and memory-hard on purpose (about 32 MiB and tens of
/// milliseconds per check), so a stolen credentials file is costly to attack; the cost travels in
/// the string, so it can be raised later without breaking older entries.
public struct PasswordHash: Sendable, Equatable {
    public let logRounds: Int
    public let blockSize: Int
    public let parallelism: Int
    public let salt: [UInt8]
    public let key: [UInt8]

    public static let defaultLogRounds = 15

    /// Hashes `password` with a fresh random salt.
    public static func make(_ password: String, logRounds: Int = defaultLogRounds) throws -> PasswordHash {
        var generator = SystemRandomNumberGenerator()
        let salt = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let key = try derive(password, salt: salt, logRounds: logRounds, blockSize: 8, parallelism: 1)
        return PasswordHash(logRounds: logRounds, blockSize: 8, parallelism: 1, salt: salt, key: key)
    }

    /// Reads the PHC form; nil if it is not one this version can check.
    public init?(encoded: String) {
        let parts = encoded.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0].isEmpty, parts[1] == "scrypt" else { return nil }
        var values: [Substring: Int] = [:]
        for setting in parts[2].split(separator: ",") {
            let pair = setting.split(separator: "=")
            guard pair.count == 2, let value = Int(pair[1]) else { return nil }
            values[pair[0]] = value
        }
        guard let logRounds = values["ln"], (10...20).contains(logRounds), let blockSize = values["r"], (1...32).contains(blockSize),
              let parallelism = values["p"], (1...16).contains(parallelism),
              let salt = Self.decode(parts[3]), salt.count >= 8, let key = Self.decode(parts[4]), key.count >= 16 else { return nil }
        self.init(logRounds: logRounds, blockSize: blockSize, parallelism: parallelism, salt: salt, key: key)
    }

    init(logRounds: Int, blockSize: Int, parallelism: Int, salt: [UInt8], key: [UInt8]) {
        self.logRounds = logRounds
        self.blockSize = blockSize
        self.parallelism = parallelism
        self.salt = salt
        self.key = key
    }

    public var encoded: String {
        "$scrypt$ln=\(logRounds),r=\(blockSize),p=\(parallelism)$\(Self.encode(salt))$\(Self.encode(key))"
    }

    /// Whether `password` is the one hashed. The comparison takes the same time wherever the keys differ.
    public func verify<Password: DataProtocol>(_ password: Password) -> Bool {
        guard let derived = try? Self.derive(password, salt: salt, logRounds: logRounds, blockSize: blockSize, parallelism: parallelism,
                                             length: key.count) else { return false }
        var difference: UInt8 = 0
        for (left, right) in zip(derived, key) { difference |= left ^ right }
        return difference == 0 && derived.count == key.count
    }

    private static func derive<Password: DataProtocol>(_ password: Password, salt: [UInt8], logRounds: Int, blockSize: Int,
                                                       parallelism: Int, length: Int = 32) throws -> [UInt8] {
        let key = try KDF.Scrypt.deriveKey(from: password, salt: salt, outputByteCount: length, rounds: 1 << logRounds,
                                           blockSize: blockSize, parallelism: parallelism)
        return key.withUnsafeBytes { Array($0) }
    }

    private static func derive(_ password: String, salt: [UInt8], logRounds: Int, blockSize: Int, parallelism: Int) throws -> [UInt8] {
        try derive(Array(password.utf8), salt: salt, logRounds: logRounds, blockSize: blockSize, parallelism: parallelism)
    }

    private static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "=", with: "")
    }

    private static func decode(_ text: Substring) -> [UInt8]? {
        var padded = String(text)
        while padded.utf8.count % 4 != 0 { padded += "=" }
        return Data(base64Encoded: padded).map(Array.init)
    }
}

/// A credentials file: one `user:<PasswordHash>` per line, `#` comments. Written by
/// `strata password`, read by `strata serve --protect`.
public struct CredentialFile: Sendable, Equatable {
    public private(set) var users: [(name: String, hash: PasswordHash)]

    public static func == (left: CredentialFile, right: CredentialFile) -> Bool {
        left.users.map(\.name) == right.users.map(\.name) && left.users.map(\.hash) == right.users.map(\.hash)
    }

    public init() { users = [] }

    public static func parse(_ text: String, name: String) throws -> CredentialFile {
        var file = CredentialFile()
        for (offset, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingSpaces
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            guard let colon = trimmed.firstIndex(of: ":"), let hash = PasswordHash(encoded: String(trimmed[trimmed.index(after: colon)...])) else {
                throw StrataError(.invalidInput, "\(name):\(offset + 1): not 'user:$scrypt$…' (make entries with 'strata password')")
            }
            let user = String(trimmed[..<colon])
            try validateUser(user)
            file.users.removeAll { $0.name == user }
            file.users.append((user, hash))
        }
        return file
    }

    /// A user name as HTTP Basic can carry it: not empty, no `:`, no control characters.
    public static func validateUser(_ user: String) throws {
        guard !user.isEmpty, user.utf8.count <= 256, !user.contains(":"),
              !user.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw StrataError(.invalidInput, "user name '\(Escaped.path(user))' is not allowed (no ':' or control characters)")
        }
    }

    public func hash(of user: String) -> PasswordHash? {
        users.first { $0.name == user }?.hash
    }

    public mutating func set(_ user: String, _ hash: PasswordHash) {
        if let index = users.firstIndex(where: { $0.name == user }) { users[index].hash = hash } else { users.append((user, hash)) }
    }

    @discardableResult
    public mutating func remove(_ user: String) -> Bool {
        let before = users.count
        users.removeAll { $0.name == user }
        return users.count != before
    }

    public var rendered: String {
        users.map { "\($0.name):\($0.hash.encoded)\n" }.joined()
    }
}

import Crypto
import Foundation
import NIOCore
import NIOPosix
import StrataCore
import Synchronization
import SystemPackage

/// HTTP Basic authentication for protected channels (`serve --protect channel=FILE`), shared by
/// every event loop.
///
/// Passwords are kept as scrypt (`PasswordHash`), which takes tens of milliseconds by design, so
/// a check never runs on an event loop: the first request with a given `Authorization` value is
/// checked on the thread pool, and the answer is remembered by a SHA-256 of (channel, value) —
/// 10 minutes for a right one, 5 seconds for a wrong one — so a browser's later requests cost a
/// hash. A credentials file edited while serving is read again within a second, and forgets
/// every remembered answer for its channel.
final class BasicAuthentication: Sendable {
    let channels: Set<String>
    private let files: [String: FilePath]
    private let pool: NIOThreadPool
    private let state: Mutex<State>

    static let rememberRight = TimeAmount.minutes(10)
    static let rememberWrong = TimeAmount.seconds(5)
    static let rereadAfter = TimeAmount.seconds(1)
    /// Checks waiting at once; past this, a new one is answered 503 rather than queued behind them.
    static let mostPending = 64
    static let mostRemembered = 10_000

    enum Decision {
        case allowed
        /// 401: no credentials, or wrong ones (remembered).
        case challenge
        /// Not seen before: check it off the loop, then decide again.
        case verify(Attempt)
        /// Too many checks waiting.
        case busy
    }

    struct Attempt: Sendable {
        let channel: String
        let user: String
        let password: [UInt8]
        let key: SHA256Digest
    }

    private struct State {
        var credentials: [String: Loaded] = [:]
        var answers: [SHA256Digest: (right: Bool, until: NIODeadline)] = [:]
        var pending: [SHA256Digest: [EventLoopPromise<Void>]] = [:]
    }

    private struct Loaded {
        var file: CredentialFile
        var stamp: FileStamp
    }

    /// What tells an edited file from the one read: inode, size and modification time.
    private struct FileStamp: Equatable {
        let inode: UInt64
        let size: Int64
        let modified: Int64

        init?(_ path: FilePath) {
            var info = stat()
            guard stat(path.string, &info) == 0 else { return nil }
            inode = UInt64(info.st_ino)
            size = Int64(info.st_size)
            modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        }
    }

    /// Reads every file now: a server never starts with a protection it cannot enforce.
    init(files: [String: String], pool: NIOThreadPool) throws {
        self.files = files.mapValues { FilePath($0) }
        channels = Set(files.keys)
        self.pool = pool
        var state = State()
        for (channel, path) in self.files {
            let loaded = try Self.load(path)
            if loaded.file.users.isEmpty { throw ServerError("credentials file '\(path)' for channel '\(channel)' names no user") }
            state.credentials[channel] = loaded
        }
        self.state = Mutex(state)
    }

    private static func load(_ path: FilePath) throws -> Loaded {
        guard let stamp = FileStamp(path), let bytes = try? FileSystem.readFile(path), let text = String(validating: bytes, as: UTF8.self) else {
            throw ServerError("cannot read the credentials file '\(path)'")
        }
        do {
            return Loaded(file: try CredentialFile.parse(text, name: path.string), stamp: stamp)
        } catch let error as StrataError {
            throw ServerError(error.message)
        }
    }

    /// Whether a request for `channel` carrying this `Authorization` value may be answered.
    func decide(channel: String, authorization: String?) -> Decision {
        guard let authorization, let (user, password) = Self.basicCredentials(authorization) else { return .challenge }
        var hasher = SHA256()
        hasher.update(data: Array(channel.utf8) + [0] + Array(authorization.utf8))
        let key = hasher.finalize()
        let now = NIODeadline.now()
        return state.withLock { state in
            if let answer = state.answers[key], answer.until > now { return answer.right ? .allowed : .challenge }
            if state.pending[key] == nil && state.pending.count >= Self.mostPending { return .busy }
            return .verify(Attempt(channel: channel, user: user, password: password, key: key))
        }
    }

    /// Checks the password on the thread pool (once, however many requests carry it).
    func verify(_ attempt: Attempt, on loop: EventLoop) -> EventLoopFuture<Void> {
        let promise = loop.makePromise(of: Void.self)
        let first = state.withLock { state in
            let first = state.pending[attempt.key] == nil
            state.pending[attempt.key, default: []].append(promise)
            return first
        }
        guard first else { return promise.futureResult }
        pool.submit { _ in
            let hash = self.state.withLock { $0.credentials[attempt.channel]?.file.hash(of: attempt.user) }
            // An unknown user costs a check too, so timing does not tell which names exist.
            let right = (hash ?? Self.decoy).verify(attempt.password) && hash != nil
            let waiters = self.state.withLock { state in
                if state.answers.count >= Self.mostRemembered { state.answers.removeAll() }
                state.answers[attempt.key] = (right, .now() + (right ? Self.rememberRight : Self.rememberWrong))
                return state.pending.removeValue(forKey: attempt.key) ?? []
            }
            waiters.forEach { $0.succeed() }
        }
        return promise.futureResult
    }

    /// Reads again each credentials file that changed (by inode, size and time), off the event
    /// loops: the server runs it on a pool every `rereadAfter`. A file that cannot be read or
    /// parsed now keeps the last good one.
    func rereadChangedFiles() {
        for (channel, path) in files {
            let known = state.withLock { $0.credentials[channel]?.stamp }
            guard FileStamp(path) != known, let fresh = try? Self.load(path) else { continue }
            state.withLock { state in
                state.credentials[channel] = fresh
                state.answers.removeAll()
            }
        }
    }

    /// `Basic base64(user:password)` → (user, password bytes).
    static func basicCredentials(_ header: String) -> (String, [UInt8])? {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic", let data = Data(base64Encoded: String(parts[1].trimmingCharacters(in: .whitespaces))),
              let colon = data.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        guard let user = String(data: data[..<colon], encoding: .utf8) else { return nil }
        return (user, Array(data[data.index(after: colon)...]))
    }

    /// Checked against when the user is unknown; matches no password anyone can send.
    private static let decoy = PasswordHash(encoded: "$scrypt$ln=\(PasswordHash.defaultLogRounds),r=8,p=1$c3RyYXRhLWRlY295LXNhbHQ$"
        + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")!
}

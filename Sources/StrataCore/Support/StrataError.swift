import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An error a person can act on: a category, one line of explanation, and the OS error behind it if any.
///
/// Library code throws these; only the executable prints them.
public struct StrataError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable, Codable {
        /// The user named something that does not exist (release, channel, source).
        case notFound
        /// A name matched more than one thing.
        case ambiguous
        /// The input (source tree, argument, label) is not acceptable.
        case invalidInput
        /// The store is not in the state the request expected (compare-and-swap, duplicate label).
        case conflict
        /// Another writer holds the store lock.
        case locked
        /// A system call failed.
        case io
        /// Something in the store is damaged (unreadable manifest, bad pointer file).
        case corrupt
    }

    public let kind: Kind
    public let message: String
    /// The errno behind an `.io` error, if any.
    public let errno: Int32?

    public init(_ kind: Kind, _ message: String, errno: Int32? = nil) {
        self.kind = kind
        self.message = message
        self.errno = errno
    }

    /// An I/O error for `operation` on `path`, with the system's explanation of `code` (by default
    /// the calling thread's `errno`).
    static func system(_ operation: String, _ path: FilePath, errno code: Errno = .lastError) -> StrataError {
        let reason = String(cString: strerror(code.rawValue))
        return StrataError(.io, "cannot \(operation) '\(path)': \(reason)", errno: code.rawValue)
    }

    public var description: String { message }
}

extension Errno {
    /// The calling thread's `errno`, right after a failed system call.
    static var lastError: Errno { Errno(rawValue: errno) }
}

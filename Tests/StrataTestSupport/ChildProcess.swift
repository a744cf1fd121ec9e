import CLinux
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A child process that holds only the descriptors it is given: standard input, output and error.
///
/// Foundation's `Process` closes the parent's other descriptors by listing them before it spawns,
/// so one that another thread opens in between (another test's output pipe, the socket Foundation
/// itself uses to learn a child ended) leaks into the child. A long-lived child — the shared moto
/// server, a serve node — then keeps that other test waiting for an end of file or an exit that
/// never comes. Here every descriptor from 3 up is closed in the child as it is spawned, the
/// parent's pipe ends are close-on-exec, and the child is reaped by its own pid (no run loop).
public final class ChildProcess: @unchecked Sendable {
    public enum Stream: Sendable {
        case null, pipe, inherit
        /// Standard error only: wherever standard output goes.
        case output
    }

    public let processIdentifier: pid_t
    /// The parent's ends of the pipes asked for.
    public let standardInput: FileHandle?
    public let standardOutput: FileHandle?
    public let standardError: FileHandle?
    /// The raw `waitpid` status once reaped.
    private let reaped = Mutex<Int32?>(nil)

    /// `executable` is a path, or a name looked up on `PATH`. Without `environment` the child gets
    /// this process's. The child leads a process group of its own, with default signal handling
    /// (the test runner's ignored signals are not passed on).
    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                standardInput: Stream = .null, standardOutput: Stream = .null, standardError: Stream = .null) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var childEnds: [CInt] = []
        defer { for descriptor in childEnds { close(descriptor) } }

        /// The parent's end of a new pipe whose other end becomes `target` in the child.
        func plumb(_ stream: Stream, onto target: CInt, childReads: Bool) throws -> FileHandle? {
            switch stream {
            case .inherit:
                return nil
            case .null:
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_RDWR, 0)
                return nil
            case .output:
                posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, target)
                return nil
            case .pipe:
                var ends: [CInt] = [-1, -1]
                guard pipe2(&ends, O_CLOEXEC) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
                let (child, parent) = childReads ? (ends[0], ends[1]) : (ends[1], ends[0])
                childEnds.append(child)
                posix_spawn_file_actions_adddup2(&actions, child, target)  // dup2 clears close-on-exec
                return FileHandle(fileDescriptor: parent, closeOnDealloc: true)
            }
        }
        self.standardInput = try plumb(standardInput, onto: STDIN_FILENO, childReads: true)
        self.standardOutput = try plumb(standardOutput, onto: STDOUT_FILENO, childReads: false)
        self.standardError = try plumb(standardError, onto: STDERR_FILENO, childReads: false)
        posix_spawn_file_actions_addclosefrom_np(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigfillset(&defaults)
        sigdelset(&defaults, SIGKILL)
        sigdelset(&defaults, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let environment = environment ?? ProcessInfo.processInfo.environment
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid = pid_t()
        let failed = executable.contains("/")
            ? posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
            : posix_spawnp(&pid, executable, &actions, &attributes, argv, envp)
        guard failed == 0 else {
            throw POSIXError(POSIXErrorCode(rawValue: failed) ?? .EIO,
                             userInfo: [NSLocalizedDescriptionKey: "cannot run \(executable): \(String(cString: strerror(failed)))"])
        }
        processIdentifier = pid
    }

    deinit {
        _ = exitStatus()  // reap it if it has ended, so no zombie stays behind
    }

    /// The raw wait status once the child has ended (reaping it then), nil while it runs.
    private func exitStatus() -> Int32? {
        reaped.withLock { status in
            if status == nil {
                var raw: Int32 = 0
                let result = waitpid(processIdentifier, &raw, WNOHANG)
                if result == processIdentifier { status = raw } else if result < 0 && errno == ECHILD { status = 0 }
            }
            return status
        }
    }

    public var isRunning: Bool { exitStatus() == nil }

    /// Waits for the child to end.
    public func waitUntilExit() {
        _ = waitUntilExit(seconds: .infinity)
    }

    /// Waits up to `seconds` for the child to end; false if it is still running.
    @discardableResult
    public func waitUntilExit(seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        var pause: UInt32 = 1_000
        while isRunning {
            guard Date() < deadline else { return false }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
        return true
    }

    /// The exit code, or the number of the signal that ended it.
    public var terminationStatus: Int32 {
        let raw = exitStatus() ?? 0
        return Self.wasSignaled(raw) ? raw & 0x7f : (raw >> 8) & 0xff
    }

    /// True when a signal ended it.
    public var wasKilledBySignal: Bool {
        Self.wasSignaled(exitStatus() ?? 0)
    }

    private static func wasSignaled(_ raw: Int32) -> Bool {
        (raw & 0x7f) != 0 && (raw & 0x7f) != 0x7f
    }

    /// Sends `signal` (SIGKILL unless said) unless the child has already ended and been reaped.
    public func signal(_ signal: Int32 = SIGKILL) {
        if isRunning { kill(processIdentifier, signal) }
    }
}

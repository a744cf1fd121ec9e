import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real S3 protocol server for the tests: `moto_server` (PyPI `moto[server]`) on 127.0.0.1 with
/// signature checking on. One per test process, started on first use on a free port, and stopped
/// when the test process ends (a watcher shell kills it when its parent is gone).
///
/// moto lets the first `INITIAL_NO_AUTH_ACTION_COUNT` requests through unsigned; those three create
/// an IAM user, give it S3 rights, and make its access key. Every request after them must be signed
/// with that key, and a wrong secret gets 403.
public final class MotoServer: Sendable {
    public let endpoint: String
    public let accessKeyID: String
    public let secretAccessKey: String
    public let port: Int

    /// The server, started on first use. A missing moto is a failure, not a skip: `make test`
    /// installs it (`.build/s3-venv`), and a test that cannot run must not pass.
    public static let shared: MotoServer = {
        do {
            return try MotoServer()
        } catch {
            fatalError("cannot start moto_server: \(error). Run 'make test' (it installs moto into .build/s3-venv), or set STRATA_MOTO_SERVER")
        }
    }()

    /// The AWS environment a `strata` subprocess needs to use this server.
    public var environment: [String: String] {
        ["AWS_ACCESS_KEY_ID": accessKeyID, "AWS_SECRET_ACCESS_KEY": secretAccessKey, "AWS_REGION": "us-east-1",
         "AWS_ENDPOINT_URL_S3": endpoint, "AWS_SESSION_TOKEN": "", "AWS_PROFILE": ""]
    }

    private init() throws {
        let executable = try Self.findExecutable()
        port = try Self.freePort()
        endpoint = "http://127.0.0.1:\(port)"
        let log = NSTemporaryDirectory() + "/strata-moto-\(port).log"
        // A shell in a session of its own (so nothing that signals the test's process group reaches
        // it first) watches the test process and kills moto (KILL: at once) when the test process is
        // gone. Its output is not the test's (a test runner waits for every holder of its output to
        // close it).
        let starter = try ChildProcess("/usr/bin/setsid", ["/bin/sh", "-c", """
            INITIAL_NO_AUTH_ACTION_COUNT=3 "$0" -H 127.0.0.1 -p \(port) >"$1" 2>&1 & moto=$!
            while kill -0 \(getpid()) 2>/dev/null && kill -0 $moto 2>/dev/null; do sleep 0.5; done
            kill -9 $moto 2>/dev/null
            """, executable, log])
        starter.waitUntilExit(seconds: 5)  // setsid forks the shell off and ends
        try Self.waitForPort(port, seconds: 30)

        let python = URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("python3").path
        let interpreter = FileManager.default.isExecutableFile(atPath: python) ? python : "/usr/bin/env"
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("moto-user.py").path
        let arguments = (interpreter == python ? [] : ["python3"]) + [script, endpoint]
        let created = try run(interpreter, arguments)
        let parts = created.stdout.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        guard created.status == 0, parts.count == 2 else {
            throw POSIXError(.EIO, userInfo: [NSLocalizedDescriptionKey: "moto IAM setup failed: \(created.stderr)"])
        }
        accessKeyID = parts[0]
        secretAccessKey = parts[1]
    }

    /// `$STRATA_MOTO_SERVER`, else the venv `make test` builds, else `moto_server` on the PATH.
    private static func findExecutable() throws -> String {
        if let given = ProcessInfo.processInfo.environment["STRATA_MOTO_SERVER"], !given.isEmpty { return given }
        let venv = URL(fileURLWithPath: fixtures).deletingLastPathComponent().appendingPathComponent(".build/s3-venv/bin/moto_server").path
        if FileManager.default.isExecutableFile(atPath: venv) { return venv }
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let candidate = String(folder) + "/moto_server"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw POSIXError(.ENOENT, userInfo: [NSLocalizedDescriptionKey: "moto_server not found"])
    }

    /// A port nothing listens on right now.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private static func waitForPort(_ port: Int, seconds: Double) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = UInt16(port).bigEndian
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            close(fd)
            if connected == 0 { return }
            usleep(100_000)
        }
        throw POSIXError(.ETIMEDOUT, userInfo: [NSLocalizedDescriptionKey: "moto_server did not listen on \(port) within \(seconds) s"])
    }
}

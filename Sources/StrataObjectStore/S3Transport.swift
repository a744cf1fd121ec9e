import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import StrataCore
import Synchronization

/// The HTTP client under an `S3Client`: async-http-client's async API, on a client this object owns
/// and shuts down (`shutdown()`, or when the last client using it goes away).
///
/// The store API above is blocking (its callers are the command line's thread, publish workers,
/// a serve node's follower: never an event loop or a Swift concurrency task), so each request is
/// awaited by the calling thread; the waiting costs that thread, not a thread of the cooperative pool.
public final class S3Transport: Sendable {
    private let client: HTTPClient
    private let isShutDown = Atomic<Bool>(false)
    /// Bodies read whole (listings, manifests, pointers, error documents) are at most this big.
    static let maxBodyBytes = 512 << 20

    public init() {
        client = HTTPClient(
            eventLoopGroup: HTTPClient.defaultEventLoopGroup,
            configuration: HTTPClient.Configuration(
                timeout: .init(connect: .seconds(2), read: .seconds(30)),
                connectionPool: .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 32)))
    }

    deinit {
        guard !isShutDown.exchange(true, ordering: .relaxed) else { return }
        // The last reference may go on any thread, an event loop's included, where a blocking
        // shutdown is not allowed: shut down from a thread of its own.
        let client = client
        Thread.detachNewThread { try? client.syncShutdown() }
    }

    /// Closes the client's connections; requests after this fail.
    public func shutdown() {
        guard !isShutDown.exchange(true, ordering: .relaxed) else { return }
        try? client.syncShutdown()
    }

    /// Sends `request` and reads the whole answer.
    func execute(_ request: HTTPClientRequest, timeout: TimeAmount) throws -> S3Client.Reply {
        let client = client
        return try Self.wait {
            let response = try await client.execute(request, timeout: timeout)
            let body = try await response.body.collect(upTo: Self.maxBodyBytes)
            return S3Client.Reply(status: Int(response.status.code), headers: response.headers, body: Array(body.readableBytesView))
        }
    }

    /// Sends `request` and streams a 200's body into `sink`, hashing it; any other status's body is
    /// kept as the error document. Returns the bytes and SHA-256 delivered; `delivered` counts them
    /// as they arrive (a retry is only safe while it is 0).
    func download(_ request: HTTPClientRequest, timeout: TimeAmount, delivered: DeliveredBytes,
                  into sink: @escaping @Sendable (UnsafeRawBufferPointer) throws -> Void) throws -> (reply: S3Client.Reply, size: Int64, sha256: String) {
        let client = client
        return try Self.wait {
            let response = try await client.execute(request, timeout: timeout)
            guard response.status == .ok else {
                let body = try await response.body.collect(upTo: Self.maxBodyBytes)
                return (S3Client.Reply(status: Int(response.status.code), headers: response.headers, body: Array(body.readableBytesView)), 0, "")
            }
            var hasher = SHA256()
            for try await buffer in response.body {
                try buffer.withUnsafeReadableBytes { bytes in
                    hasher.update(bufferPointer: bytes)
                    try sink(bytes)
                }
                delivered.count.wrappingAdd(Int64(buffer.readableBytes), ordering: .relaxed)
            }
            let digest = hasher.finalize().map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()
            return (S3Client.Reply(status: 200, headers: response.headers, body: []), delivered.count.load(ordering: .relaxed), digest)
        }
    }

    /// Runs `operation` on the calling thread, which waits for it anyway, and returns its result.
    /// Not on Swift's cooperative pool: callers may themselves be blocking a thread of it (a
    /// synchronous test, say), and with a pool as small as the machine's cores the request could
    /// then never run.
    private static func wait<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) throws -> T {
        let executor = CallingThreadExecutor()
        let outcome = Mutex<Result<T, Error>?>(nil)
        Task(executorPreference: executor) {
            let result: Result<T, Error>
            do { result = .success(try await operation()) } catch { result = .failure(error) }
            outcome.withLock { $0 = result }
            executor.finish()
        }
        executor.runJobs()
        return try outcome.withLock { $0! }.get()
    }
}

/// A task executor that is one waiting thread: jobs enqueued from anywhere (an event loop resuming
/// a continuation) run on the thread that called `runJobs`, until `finish`.
final class CallingThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let queue = Mutex<(jobs: [UnownedJob], finished: Bool)>(([], false))
    private let ready = DispatchSemaphore(value: 0)

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.withLock { $0.jobs.append(job) }
        ready.signal()
    }

    func finish() {
        queue.withLock { $0.finished = true }
        ready.signal()
    }

    /// Runs jobs as they come until `finish` was called and none is left.
    func runJobs() {
        while true {
            ready.wait()
            let (job, finished) = queue.withLock { state -> (UnownedJob?, Bool) in
                (state.jobs.isEmpty ? nil : state.jobs.removeFirst(), state.finished)
            }
            if let job { job.runSynchronously(on: asUnownedTaskExecutor()) } else if finished { return }
        }
    }
}

/// Bytes of a download handed to its sink so far, shared with the task that delivers them.
final class DeliveredBytes: Sendable {
    let count = Atomic<Int64>(0)
}

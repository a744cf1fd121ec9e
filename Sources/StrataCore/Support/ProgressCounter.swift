import Synchronization

/// How far a long operation (publish, import, export) has come, counted by whatever threads do the
/// work and read by whoever shows it (`strata` draws it on a terminal). Counting costs one lock per
/// file; nothing is shown from here.
public final class ProgressCounter: Sendable {
    public struct Snapshot: Sendable {
        /// What is being done: "hashing", "writing", "unpacking", "exporting".
        public var phase = ""
        public var files = 0
        public var bytes: Int64 = 0
        /// Nil when not known ahead (an archive read as a stream).
        public var totalFiles: Int?
        public var totalBytes: Int64?
        /// When the phase began (`ContinuousClock`), for the rate.
        public var started = ContinuousClock.now
    }

    private let state = Mutex(Snapshot())

    public init() {}

    public func begin(_ phase: String, totalFiles: Int? = nil, totalBytes: Int64? = nil) {
        state.withLock { $0 = Snapshot(phase: phase, totalFiles: totalFiles, totalBytes: totalBytes) }
    }

    public func add(files: Int = 1, bytes: Int64) {
        state.withLock { state in
            state.files += files
            state.bytes += bytes
        }
    }

    public var snapshot: Snapshot { state.withLock { $0 } }
}

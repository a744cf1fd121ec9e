#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Synchronization

/// Runs independent file jobs (hashing, compressing) on every core.
enum Parallel {
    static let bufferSize = 256 * 1024

    static var processorCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// Calls `job` for every index in `0..<count`, one worker per core, each with its own I/O buffer
    /// of `bufferSize` bytes. Results come back in index order; the first failure (in index order)
    /// is thrown, and workers stop taking new jobs once anything has failed.
    static func map<Value: Sendable>(count: Int, _ job: @Sendable (Int, UnsafeMutableRawBufferPointer) throws -> Value) throws -> [Value] {
        let results = ResultSlots<Value>(count: count)
        let next = Atomic<Int>(0)
        let workers = min(processorCount, max(1, count))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 64)
            defer { buffer.deallocate() }
            while true {
                let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard index < count, !results.hasFailure else { return }
                results.store(Result { try job(index, buffer) }, at: index)
            }
        }
        return try results.collect()
    }
}

/// One slot per task, each written by exactly one worker; read only after all workers finish.
final class ResultSlots<Value: Sendable>: @unchecked Sendable {
    private var slots: UnsafeMutableBufferPointer<Result<Value, Error>?>
    private let failed = Atomic<Bool>(false)

    init(count: Int) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: nil)
    }

    deinit {
        slots.deinitialize()
        slots.deallocate()
    }

    var hasFailure: Bool { failed.load(ordering: .relaxed) }

    func store(_ result: Result<Value, Error>, at index: Int) {
        if case .failure = result { failed.store(true, ordering: .relaxed) }
        slots[index] = result
    }

    /// The values in order, or the first error in order.
    func collect() throws -> [Value] {
        var values: [Value] = []
        values.reserveCapacity(slots.count)
        for slot in slots {
            if case .failure(let error)? = slot { throw error }
        }
        for slot in slots {
            guard case .success(let value)? = slot else { throw StrataError(.io, "a file was not processed") }
            values.append(value)
        }
        return values
    }
}

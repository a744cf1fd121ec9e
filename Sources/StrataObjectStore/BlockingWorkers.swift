import Foundation
import Synchronization

/// Runs jobs that mostly wait on the network on a fixed number of threads (more than there are
/// cores: each spends its time waiting for an answer). The first error stops new jobs and is thrown.
enum BlockingWorkers {
    static func forEach(_ count: Int, width: Int, _ job: @escaping @Sendable (Int) throws -> Void) throws {
        guard count > 0 else { return }
        let next = Atomic<Int>(0)
        let failure = Mutex<Error?>(nil)
        let group = DispatchGroup()
        for _ in 0..<min(width, count) {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                while failure.withLock({ $0 == nil }) {
                    let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    guard index < count else { return }
                    do { try job(index) } catch { failure.withLock { if $0 == nil { $0 = error } } }
                }
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        group.wait()
        if let error = failure.withLock({ $0 }) { throw error }
    }
}

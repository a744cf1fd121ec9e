import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Visitors without cookies asking the servers at `ports` for `paths` in turn, one request after
/// another on a thread of its own, until stopped: traffic for a rollout to judge.
public final class Traffic: Sendable {
    private final class Flags: Sendable {
        let stopped = Atomic<Bool>(false)
        let finished = Atomic<Bool>(false)
    }

    private let flags = Flags()

    public init(ports: [Int], paths: [String]) {
        let flags = flags
        Thread {
            var number = 0
            while !flags.stopped.load(ordering: .relaxed) {
                _ = try? request(ports[number % ports.count], paths[(number / ports.count) % paths.count])
                number += 1
            }
            flags.finished.store(true, ordering: .relaxed)
        }.start()
    }

    public convenience init(port: Int, paths: [String]) {
        self.init(ports: [port], paths: paths)
    }

    public func stop() {
        flags.stopped.store(true, ordering: .relaxed)
        while !flags.finished.load(ordering: .relaxed) { usleep(10_000) }
    }
}

import Foundation
import StrataCore
import Synchronization

/// The writers' lock of an object store: a lease object (`locks/write`) that means what the flock
/// means locally, so the invariants that rest on "one writer at a time" (labels unique, pins
/// respected by prune, no pointer naming a removed release) hold on S3 too.
///
/// Taken with `If-None-Match: *`; renewed (an `If-Match` rewrite) every third of its lifetime while
/// held; released by deleting it once it is still ours. A holder that died leaves a lease nobody
/// renews: once older than its lifetime on the service's clock (`Last-Modified` against `Date`),
/// the next writer takes it over with `If-Match` on its ETag, so two waiters can never both win.
/// Flips stay conditional writes: the lock orders writers, it is not a substitute for CAS.
final class S3WriteLock: @unchecked Sendable {
    /// Seconds a lease lives without renewal: `$STRATA_S3_LOCK_LEASE`, default 30.
    static var lifetime: TimeInterval {
        ProcessInfo.processInfo.environment["STRATA_S3_LOCK_LEASE"].flatMap(Double.init).map { min(max($0, 1), 3600) } ?? 30
    }

    /// What the lease object holds: who, and for how long a silence means they are gone.
    struct Record: Codable {
        var owner: String
        var token: String
        var lease: Double
        var since: String
    }

    private let store: S3Store
    private let key: String
    private let record: Record
    private let body: [UInt8]
    /// The ETag of our lease as last written; nil once released.
    private let tag = Mutex<String?>(nil)
    private let stopped = Atomic<Bool>(false)
    private let wakeUp = NSCondition()

    private init(store: S3Store) {
        self.store = store
        key = store.layout.writeLock
        record = Record(owner: "pid \(getpid()) of \(ProcessIdentity.actor())", token: UUID().uuidString.lowercased(),
                        lease: Self.lifetime, since: Timestamp.now())
        body = Array((try? JSONEncoder().encode(record)) ?? Data()) + [0x0A]
    }

    /// Takes the lock, waiting up to `timeout` seconds for a live holder.
    static func acquire(_ store: S3Store, timeout: Double) throws -> S3WriteLock {
        let lock = S3WriteLock(store: store)
        try lock.take(timeout: timeout)
        lock.startRenewing()
        return lock
    }

    private func take(timeout: Double) throws {
        let client = store.client
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            switch try client.putObject(key, body, condition: .absent, contentType: "application/json") {
            case .written(let written):
                tag.withLock { $0 = written ?? "" }
                return
            case .conflict:
                break  // another writer's conditional PUT is in flight: wait our turn
            case .preconditionFailed:
                guard let held = try client.getObject(key) else { continue }  // released meanwhile: try again now
                let holder = try? JSONDecoder().decode(Record.self, from: Data(held.body))
                let lease = holder.map { min(max($0.lease, 1), 3600) } ?? Self.lifetime
                let silence = ServiceClock.age(of: held, now: ServiceClock.date(of: held)) ?? 0
                if silence > lease, let stale = held.entityTag {
                    // Its holder stopped renewing: take it over, unless another waiter did first.
                    if case .written(let written) = try client.putObject(key, body, condition: .matches(stale), contentType: "application/json") {
                        tag.withLock { $0 = written ?? "" }
                        return
                    }
                    continue
                }
                if Date() >= deadline {
                    let who = holder.map { "\(Escaped.path($0.owner)) since \(Escaped.path($0.since))" } ?? "another process"
                    throw StrataError(.locked, "the store \(store.location) is locked by \(who) (lease renewed \(Int(silence))s ago, "
                                      + "lasts \(Int(lease))s unrenewed); gave up after \(Int(timeout))s (STRATA_LOCK_TIMEOUT sets the wait)")
                }
            }
            Thread.sleep(forTimeInterval: Double.random(in: 0.1...0.3))
        }
    }

    /// Rewrites the lease every third of its lifetime until released, so a long prune never looks dead.
    private func startRenewing() {
        let thread = Thread { [self] in
            let interval = record.lease / 3
            while true {
                wakeUp.lock()
                if !stopped.load(ordering: .relaxed) { _ = wakeUp.wait(until: Date().addingTimeInterval(interval)) }
                wakeUp.unlock()
                if stopped.load(ordering: .relaxed) { return }
                renew()
            }
        }
        thread.name = "strata-s3-lock"
        thread.start()
    }

    private func renew() {
        guard let current = tag.withLock({ $0 }) else { return }
        if case .written(let written)? = try? store.client.putObject(key, body, condition: .matches(current), contentType: "application/json") {
            tag.withLock { if $0 != nil { $0 = written ?? "" } }
        }
    }

    /// Stops renewing and deletes the lease if it is still ours (a holder stalled past its lease may
    /// have been taken over; then the lease is the new holder's and stays).
    func release() {
        stopped.store(true, ordering: .relaxed)
        wakeUp.lock()
        wakeUp.broadcast()
        wakeUp.unlock()
        guard tag.withLock({ let had = $0; $0 = nil; return had }) != nil else { return }
        guard let held = try? store.client.getObject(key),
              (try? JSONDecoder().decode(Record.self, from: Data(held.body)))?.token == record.token else { return }
        try? store.client.deleteObject(key)
    }

    // MARK: - One lock per store and process

    /// Depth of `withWriteLock` calls per store and thread: a writer nested in another on the same
    /// thread (a flip inside a command that holds the lock) runs under the lease already held;
    /// another thread waits for the lease like another process would.
    private static let held = Mutex<[String: (depth: Int, lock: S3WriteLock)]>([:])

    static func withLock<T>(_ store: S3Store, timeout: Double, _ body: () throws -> T) throws -> T {
        let name = "\(store.location) \(pthread_self())"
        let nested = held.withLock { table -> Bool in
            guard let entry = table[name] else { return false }
            table[name] = (entry.depth + 1, entry.lock)
            return true
        }
        if !nested {
            let lock = try acquire(store, timeout: timeout)
            held.withLock { $0[name] = (1, lock) }
        }
        defer {
            let finished = held.withLock { table -> S3WriteLock? in
                guard let entry = table[name] else { return nil }
                if entry.depth > 1 {
                    table[name] = (entry.depth - 1, entry.lock)
                    return nil
                }
                table[name] = nil
                return entry.lock
            }
            finished?.release()
        }
        return try body()
    }
}

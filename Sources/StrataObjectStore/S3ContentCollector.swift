import Foundation
import StrataCore
import Synchronization

/// Frees content and variants no release names, without racing a concurrent publish: the classic dedupe-GC race
/// (a publish sees that the bucket has some content and skips the upload; prune deletes it because
/// no manifest names it yet; the publish writes a manifest naming deleted content).
///
/// Two objects make it safe, each side writing its own before reading the other's:
/// - a publish writes a lease (`leases/<uuid>`) and then waits while a prune lock exists;
/// - a prune writes the lock (`locks/prune`, `If-None-Match: *`) and then lists the leases, and
///   deletes no content while any fresh lease exists.
/// Whatever the interleaving, either the prune sees the lease or the publish sees the lock. Ages are
/// measured on the service's clock (`Last-Modified` against `Date`), never this machine's.
struct S3ContentCollector {
    /// A lease older than this belongs to a publish that died (live publishes renew theirs).
    static let leaseLifetime: TimeInterval = 3600
    /// A prune lock older than this belongs to a prune that died.
    static let lockLifetime: TimeInterval = 900

    let store: S3Store

    func collect() throws -> (files: Int, bytes: Int64) {
        let client = store.client, layout = store.layout
        let now = try takeLock()
        defer { try? client.deleteObject(layout.pruneLock) }

        var liveLeases = 0
        for lease in try client.listAll(prefix: layout.leasesFolder).objects {
            if let age = ServiceClock.age(of: lease.lastModified, now: now), age > Self.leaseLifetime {
                try client.deleteObject(lease.key)
            } else {
                liveLeases += 1
            }
        }
        guard liveLeases == 0 else { return (0, 0) }  // a publish is running: its content is not referenced yet

        let ids = try store.releaseIDs()
        let referenced = Mutex<Set<String>>([])
        try BlockingWorkers.forEach(ids.count, width: S3ReleaseDraft.uploadWidth) { index in
            guard let bytes = try store.manifestBytes(of: ids[index]) else { return }
            let manifest = try Manifest.decode(bytes, path: layout.manifest(ids[index]))
            referenced.withLock { set in
                for entry in manifest.files {
                    set.insert(layout.content(entry.sha256))
                    for encoding in entry.variantEncodings { set.insert(layout.variant(of: entry.sha256, encoding)) }
                }
            }
        }
        let names = referenced.withLock { $0 }
        let stored = try client.listAll(prefix: layout.contentFolder).objects + client.listAll(prefix: layout.variantsFolder).objects
        let garbage = stored.filter { !names.contains($0.key) }
        try BlockingWorkers.forEach(garbage.count, width: S3ReleaseDraft.uploadWidth) { index in
            try client.deleteObject(garbage[index].key)
        }
        return (garbage.count, garbage.reduce(0) { $0 + $1.size })
    }

    /// What a lock or lease says about its holder: `{"by":"user@host"}`.
    static func record() -> [UInt8] {
        Array((try? JSONEncoder().encode(["by": ProcessIdentity.actor()])) ?? Data()) + [0x0A]
    }

    /// Takes the prune lock, replacing one left by a prune that died; returns the service's time.
    private func takeLock() throws -> Date {
        let client = store.client, layout = store.layout
        for _ in 0..<2 {
            let reply = try client.send(.PUT, key: layout.pruneLock, headers: [("If-None-Match", "*")],
                                        body: Self.record())
            if reply.status == 200 { return ServiceClock.date(of: reply) }
            guard reply.status == 412 || reply.status == 409 else { throw client.failure(reply, "take the prune lock \(client.describe(layout.pruneLock))") }
            guard let held = try client.headObject(layout.pruneLock) else { continue }
            let age = ServiceClock.age(of: held, now: ServiceClock.date(of: held)) ?? 0
            guard age > Self.lockLifetime else {
                throw StrataError(.locked, "another prune is running on \(store.location) (for \(Int(age)) s); try again when it ends")
            }
            try client.deleteObject(layout.pruneLock)
        }
        throw StrataError(.locked, "another prune is running on \(store.location); try again when it ends")
    }
}

/// A publish in progress, as prune sees it: `leases/<uuid>`, written before the publish looks at
/// what the bucket holds and deleted when it ends.
final class PublishLease: @unchecked Sendable {
    /// How long a publish waits for a running prune to finish.
    static let pruneWait: TimeInterval = 120
    /// A lease is written again when older than this, so a long upload never looks dead.
    static let renewal: TimeInterval = 600

    private let store: S3Store
    private let key: String
    private let body: [UInt8]
    private let renewed = Mutex<Date>(Date())
    private let released = Atomic<Bool>(false)

    private init(store: S3Store) {
        self.store = store
        key = store.layout.leasesFolder + UUID().uuidString.lowercased()
        body = S3ContentCollector.record()
    }

    /// Writes a lease, then waits while a prune holds its lock (a prune that saw no lease may be
    /// deleting content right now).
    static func take(in store: S3Store) throws -> PublishLease {
        let lease = PublishLease(store: store)
        _ = try store.client.putObject(lease.key, lease.body, contentType: "application/json")
        let deadline = Date().addingTimeInterval(pruneWait)
        while let held = try store.client.headObject(store.layout.pruneLock) {
            let age = ServiceClock.age(of: held, now: ServiceClock.date(of: held)) ?? 0
            if age > S3ContentCollector.lockLifetime { break }  // its prune died; it deletes nothing
            guard Date() < deadline else {
                lease.release()
                throw StrataError(.locked, "a prune has been running on \(store.location) for \(Int(age)) s; publish again when it ends")
            }
            Thread.sleep(forTimeInterval: 0.25)
        }
        return lease
    }

    func renewIfOld() throws {
        let due = renewed.withLock { last in
            guard Date().timeIntervalSince(last) > Self.renewal else { return false }
            last = Date()
            return true
        }
        if due { _ = try store.client.putObject(key, body, contentType: "application/json") }
    }

    func release() {
        guard !released.exchange(true, ordering: .relaxed) else { return }
        try? store.client.deleteObject(key)
    }
}

/// Times on the service's clock.
enum ServiceClock {
    private static let httpDate: DateFormatter = {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter
    }()

    /// The reply's `Date` header, else this machine's clock.
    static func date(of reply: S3Client.Reply) -> Date {
        reply.headers.first(name: "Date").flatMap { httpDate.date(from: $0) } ?? Date()
    }

    /// Seconds since the object's `Last-Modified` header.
    static func age(of reply: S3Client.Reply, now: Date) -> TimeInterval? {
        reply.headers.first(name: "Last-Modified").flatMap { httpDate.date(from: $0) }.map { now.timeIntervalSince($0) }
    }

    /// Seconds since a listing's `LastModified` (ISO 8601).
    static func age(of listed: String, now: Date) -> TimeInterval? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let plain = ISO8601DateFormatter()
        return (formatter.date(from: listed) ?? plain.date(from: listed)).map { now.timeIntervalSince($0) }
    }
}

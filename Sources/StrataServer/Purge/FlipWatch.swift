import Foundation
import StrataCore
import Synchronization

/// Sees channels flip, for the purger: every `interval` it asks each channel's pointer for its
/// stamp (one `stat` locally) and reads the pointer only when the stamp moved. A change of what
/// the channel serves (its release, a canary starting, widening or ending) or the channel ending
/// (it expired, or was deleted) is a flip. With `everyChannel` (`--channel-host`), the store's
/// channels are listed again every `listingInterval`; one that appears later counts as flipped.
final class FlipWatch: Sendable {
    private let store: Store
    private let given: [String]
    private let everyChannel: Bool
    private let interval: TimeInterval
    private let onFlip: @Sendable (PurgeRequest) -> Void
    private let stopped = Atomic<Bool>(false)
    static let listingInterval: TimeInterval = 2

    init(store: Store, channels: [String], everyChannel: Bool, interval: TimeInterval = 0.1,
         onFlip: @escaping @Sendable (PurgeRequest) -> Void) {
        self.store = store
        given = channels
        self.everyChannel = everyChannel
        self.interval = interval
        self.onFlip = onFlip
    }

    /// Reads where every channel stands (no flip is said for that), then watches on a thread of
    /// its own; returns once the first reading is done, so a flip right after is seen.
    func start() {
        let ready = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            let channels = WatchedChannels(store: store, given: given, everyChannel: everyChannel, onFlip: onFlip)
            ready.signal()
            while !stopped.load(ordering: .relaxed) {
                Thread.sleep(forTimeInterval: interval)
                channels.check()
            }
        }
        thread.name = "strata-flip-watch"
        thread.start()
        ready.wait()
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
    }
}

/// What `FlipWatch` last saw of each channel. Only its thread touches it.
private final class WatchedChannels {
    private struct Seen {
        let pointer: Pointer
        var stamp: PointerStamp?
        var stored: PointerValue?
        /// What the channel served at the last look (nil: nothing, or it had expired).
        var live: PointerValue?
    }

    private let store: Store
    private let given: [String]
    private let everyChannel: Bool
    private let onFlip: @Sendable (PurgeRequest) -> Void
    private var seen: [String: Seen] = [:]
    private var listed = Date.distantPast

    init(store: Store, given: [String], everyChannel: Bool, onFlip: @escaping @Sendable (PurgeRequest) -> Void) {
        self.store = store
        self.given = given
        self.everyChannel = everyChannel
        self.onFlip = onFlip
        addChannels(announcing: false)
    }

    func check() {
        if everyChannel && Date().timeIntervalSince(listed) >= FlipWatch.listingInterval { addChannels(announcing: true) }
        for name in Array(seen.keys) { observe(name, announcing: true) }
    }

    /// Channels not watched yet: at the start, where they stand; later, one that appears has flipped.
    private func addChannels(announcing: Bool) {
        var names = Set(given)
        if everyChannel, let all = try? store.backend.pointers(.releases).names() { names.formUnion(all) }
        listed = Date()
        for name in names where seen[name] == nil {
            guard let pointer = try? Channels(store: store).pointer(for: name) else { continue }
            seen[name] = Seen(pointer: pointer)
            observe(name, announcing: announcing)
        }
    }

    /// Reads the pointer if its stamp moved, and says a flip when what it serves changed (an
    /// expiry that came due changes it without a write).
    private func observe(_ name: String, announcing: Bool) {
        guard var entry = seen[name] else { return }
        let before = entry.live
        let stamp = entry.pointer.stamp()
        if stamp != entry.stamp {
            do {
                let read = try entry.pointer.stampedRead()
                (entry.stamp, entry.stored) = (read?.stamp, read?.pointer)
            } catch {
                return  // unreadable: tried again next time
            }
        }
        let now = entry.stored?.unlessExpired()
        entry.live = now
        seen[name] = entry
        guard announcing, now?.servesAlike(before) != true, !(now == nil && before == nil) else { return }
        onFlip(PurgeRequest(channel: name, release: now?.id, previous: before?.id))
    }
}

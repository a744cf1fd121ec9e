import Foundation
import StrataCore
import StrataTestSupport
import Testing

/// The one pointer type on its own: reads, stamps, compare-and-swap flips, histories, rollback plans.
@Suite struct PointerTests {
    /// A store with one published release, and the release channel `current` of it.
    func withPointer(_ body: (TestStore, [String], Pointer) throws -> Void) throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let ids = try store.publishNumberedReleases(3, sitesIn: folder)
            try body(store, ids, try Pointer("current", family: .releases, in: store.store))
        }
    }

    @Test func aPointerNeverSetReadsAsNothingAndHasNoStamp() throws {
        try withPointer { (_: TestStore, _: [String], pointer: Pointer) throws in
            #expect(try pointer.read() == nil)
            #expect(try pointer.stampedRead() == nil)
            #expect(pointer.stamp() == nil)
            #expect(try pointer.history().isEmpty)
        }
    }

    @Test func theStampChangesWithEveryFlipAndOnlyThen() throws {
        try withPointer { (store: TestStore, ids: [String], pointer: Pointer) throws in
            _ = try pointer.flip(action: .activate) { _ in ids[0] }
            let first = try #require(try pointer.stampedRead())
            #expect(first.value == ids[0])
            #expect(pointer.stamp() == first.stamp)
            #expect(try pointer.read() == ids[0])  // reading does not move it

            _ = try pointer.flip(action: .activate) { _ in ids[1] }
            let second = try #require(try pointer.stampedRead())
            #expect(second.value == ids[1])
            #expect(second.stamp != first.stamp)
            #expect(try String(contentsOfFile: store.root + "/channels/current", encoding: .utf8) == ids[1] + "\n")
        }
    }

    @Test func aFlipToTheCurrentValueWritesNothing() throws {
        try withPointer { (_: TestStore, ids: [String], pointer: Pointer) throws in
            _ = try pointer.flip(action: .activate) { _ in ids[0] }
            let stamp = pointer.stamp()
            let again = try pointer.flip(action: .activate) { _ in ids[0] }
            #expect(!again.changed && again.from == ids[0] && again.to == ids[0])
            #expect(pointer.stamp() == stamp)
            #expect(try pointer.history().count == 1)
        }
    }

    @Test func aRefusedFlipTouchesNeitherPointerNorHistoryNorLock() throws {
        try withPointer { (store: TestStore, ids: [String], pointer: Pointer) throws in
            _ = try pointer.flip(action: .activate) { _ in ids[0] }
            let before = try snapshot(store.root)
            var calls = 0
            #expect(throws: StrataError.self) {
                try pointer.flip(action: .activate) { current in
                    calls += 1
                    #expect(current == ids[0])
                    throw StrataError(.conflict, "refused")
                }
            }
            #expect(calls == 1)  // refused before the lock was taken
            #expect(try snapshot(store.root) == before)
        }
    }

    @Test func aPointerMovedBehindTheLockIsAConflictAndLogsNothing() throws {
        try withPointer { (store: TestStore, ids: [String], pointer: Pointer) throws in
            _ = try pointer.flip(action: .activate) { _ in ids[0] }
            let error = #expect(throws: StrataError.self) {
                try pointer.flip(action: .activate) { _ in ids[1] } prepare: { _ in
                    // A writer that ignores the lock replaces the pointer between the read and the swap.
                    try write(ids[2] + "\n", to: store.root + "/channels/current")
                }
            }
            #expect(error?.kind == .conflict)
            #expect(try pointer.read() == ids[2])
            #expect(try pointer.history().map(\.to) == [ids[0]])
        }
    }

    @Test func everyFlipAppendsOneHistoryEntryWithItsSource() throws {
        try withPointer { (_: TestStore, ids: [String], pointer: Pointer) throws in
            _ = try pointer.flip(action: .activate) { _ in ids[0] }
            _ = try pointer.flip(action: .promote, source: "staging") { _ in ids[1] }
            let history = try pointer.history()
            #expect(history.map(\.action) == [.activate, .promote])
            #expect(history.map(\.from) == [nil, ids[0]])
            #expect(history.map(\.to) == [ids[0], ids[1]])
            #expect(history.map(\.source) == [nil, "staging"])
        }
    }

    @Test func theRollbackPlanFollowsHistoryAndSkipsWhatIsGone() throws {
        try withPointer { (_: TestStore, ids: [String], pointer: Pointer) throws in
            for id in ids { _ = try pointer.flip(action: .activate) { _ in id } }
            let plan = try pointer.rollbackPlan()
            #expect(plan.current == ids[2] && plan.target == ids[1] && plan.skipped.isEmpty)
            let skipping = try pointer.rollbackPlan(isAvailable: { $0 != ids[1] })
            #expect(skipping.current == ids[2] && skipping.target == ids[0] && skipping.skipped == [ids[1]])
            let none = #expect(throws: StrataError.self) { try pointer.rollbackPlan(isAvailable: { _ in false }) }
            #expect(none?.message == "channel 'current' has no earlier release to roll back to")
        }
    }

    @Test func releaseAndConfigPointersOfOneChannelAreIndependent() throws {
        try withPointer { (store: TestStore, ids: [String], releases: Pointer) throws in
            let configs = try Pointer("current", family: .configs, in: store.store)
            _ = try releases.flip(action: .activate) { _ in ids[0] }
            #expect(try configs.read() == nil)
            #expect(throws: StrataError.self) { try configs.rollbackPlan() }
            _ = try configs.flip(action: .set) { _ in ids[1] }
            #expect(try releases.read() == ids[0])
            #expect(try configs.read() == ids[1])
            #expect(try releases.history().map(\.action) == [.activate])
            #expect(try configs.history().map(\.action) == [.set])
            #expect(FileManager.default.fileExists(atPath: store.root + "/configs/channels/current"))
        }
    }

    @Test func aDamagedPointerFileIsReportedNotTrusted() throws {
        try withPointer { (store: TestStore, ids: [String], pointer: Pointer) throws in
            _ = try pointer.flip(action: .activate) { _ in ids[0] }
            try write("../../etc/passwd\n", to: store.root + "/channels/current")
            let error = #expect(throws: StrataError.self) { try pointer.read() }
            #expect(error?.message.hasPrefix("pointer of channel 'current' in ") == true && error?.message.hasSuffix(" does not hold a release id") == true)
        }
    }

    @Test func anExpiryIsKeptAcrossFlipsHidesTheChannelWhenDueAndBadOnesAreNotTrusted() throws {
        try withPointer { (store: TestStore, ids: [String], pointer: Pointer) throws in
            let soon = PointerValue.now() + 3600
            _ = try pointer.flip(action: .activate, expiry: .some(soon)) { _ in ids[0] }
            #expect(try String(contentsOfFile: store.root + "/channels/current", encoding: .utf8) == "\(ids[0])\nexpires \(soon)\n")
            // A flip without an expiry keeps the channel's; `.some(nil)` clears it.
            _ = try pointer.flip(action: .activate) { _ in ids[1] }
            #expect(try pointer.readValue() == PointerValue(ids[1], expires: soon))
            _ = try pointer.flip(action: .activate, expiry: .some(nil)) { _ in ids[1] }
            #expect(try pointer.readValue() == PointerValue(ids[1]))
            // Due: the channel reads as nothing, and a new activation starts it afresh (no old expiry).
            try write("\(ids[2])\nexpires \(PointerValue.now() - 1)\n", to: store.root + "/channels/current")
            #expect(try pointer.readValue() == nil && pointer.stamp() != nil)
            let fresh = try pointer.flip(action: .activate) { current in
                #expect(current == nil)
                return ids[0]
            }
            #expect(fresh.from == nil && fresh.changed && fresh.expires == nil)
            for bad in ["expires -5", "expires 12x", "expires 0012", "expires ", "expires 99999999999999999999"] {
                try write("\(ids[0])\n\(bad)\n", to: store.root + "/channels/current")
                #expect(throws: StrataError.self, "\(bad)") { try pointer.read() }
            }
        }
    }

    @Test func badChannelNamesAreRefused() throws {
        try withPointer { (store: TestStore, _: [String], _: Pointer) throws in
            #expect(throws: StrataError.self) { try Pointer("../x", family: .releases, in: store.store) }
            #expect(throws: StrataError.self) { try Pointer("", family: .configs, in: store.store) }
        }
    }
}

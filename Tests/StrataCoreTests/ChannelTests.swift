import Foundation
import StrataCore
import StrataTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct ChannelTests {
    func pointerFile(_ store: TestStore, _ channel: String = "current") -> String? {
        try? String(contentsOfFile: store.root + "/channels/" + channel, encoding: .utf8)
    }

    @Test func activateRollbackAndHistoryFollowTheLiveSequence() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let ids = try store.publishNumberedReleases(3, sitesIn: folder)
            let channels = store.channels
            #expect(try channels.pointer("current") == nil)

            for id in ids { _ = try channels.activate(id, channel: "current") }
            #expect(pointerFile(store) == ids[2] + "\n")

            // Each rollback steps one further back, by history.
            let first = try channels.rollback(channel: "current")
            #expect(first.from == ids[2] && first.to == ids[1] && first.changed)
            #expect(try channels.rollback(channel: "current").to == ids[0])
            let exhausted = #expect(throws: StrataError.self) { try channels.rollback(channel: "current") }
            #expect(exhausted?.message == "channel 'current' has no earlier release to roll back to")
            #expect(pointerFile(store) == ids[0] + "\n")

            // Going forward again, then rolling back, returns to what was live before.
            _ = try channels.activate(ids[2], channel: "current")
            #expect(try channels.rollback(channel: "current").to == ids[0])
            #expect(try channels.rollback(channel: "current", to: ids[1]).to == ids[1])

            let history = try channels.history("current")
            #expect(history.map(\.action) == [.activate, .activate, .activate, .rollback, .rollback, .activate, .rollback, .rollback])
            #expect(history.map(\.to) == [ids[0], ids[1], ids[2], ids[1], ids[0], ids[2], ids[0], ids[1]])
            #expect(history.first?.from == nil)
            #expect(history.dropFirst().map(\.from) == history.dropLast().map(\.to))

            // Activating what is already live changes nothing and logs nothing.
            let same = try channels.activate(ids[1], channel: "current")
            #expect(!same.changed)
            #expect(try channels.history("current").count == history.count)
        }
    }

    @Test func channelsAreIndependent() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let ids = try store.publishNumberedReleases(2, sitesIn: folder)
            _ = try store.channels.activate(ids[0], channel: "production")
            _ = try store.channels.activate(ids[1], channel: "staging")
            #expect(try store.channels.all().map(\.name) == ["production", "staging"])
            #expect(try store.channels.all().map(\.release) == [ids[0], ids[1]])
            #expect(try store.channels.history("current").isEmpty)
        }
    }

    @Test func expectIsACompareAndSwap() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let ids = try store.publishNumberedReleases(3, sitesIn: folder)
            let channels = store.channels
            _ = try channels.activate(ids[0], channel: "current", expected: .some(nil))
            let before = try snapshot(store.root)

            let stale = #expect(throws: StrataError.self) { try channels.activate(ids[2], channel: "current", expected: ids[1]) }
            #expect(stale?.kind == .conflict)
            #expect(stale?.message == "channel 'current' points at \(ids[0]), not \(ids[1]) as expected; nothing changed")
            let notEmpty = #expect(throws: StrataError.self) { try channels.activate(ids[2], channel: "current", expected: .some(nil)) }
            #expect(notEmpty?.kind == .conflict)
            #expect(try snapshot(store.root) == before)

            #expect(try channels.activate(ids[2], channel: "current", expected: ids[0]).changed)
            #expect(pointerFile(store) == ids[2] + "\n")
        }
    }

    @Test func flipsRefuseMissingReleasesAndBadChannelNames() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            _ = try store.publishNumberedReleases(1, sitesIn: folder)
            let before = try snapshot(store.root)
            #expect(throws: StrataError.self) { try store.channels.activate("0123456789abcdef", channel: "current") }
            for bad in ["../x", ".hidden", "", "a/b", "with space", String(repeating: "x", count: 65)] {
                #expect(throws: StrataError.self) { try store.channels.activate("0123456789abcdef", channel: bad) }
            }
            let never = #expect(throws: StrataError.self) { try store.channels.rollback(channel: "current") }
            #expect(never?.message == "channel 'current' has never been activated; nothing to roll back")
            #expect(try snapshot(store.root) == before)
        }
    }

    @Test func idsResolveFromPrefixesAndLabels() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let ids = try store.publishNumberedReleases(2, sitesIn: folder)
            let catalog = store.catalog
            #expect(try catalog.resolve(ids[0]) == ids[0])
            #expect(try catalog.resolve(String(ids[0].prefix(4))) == ids[0])
            #expect(try catalog.resolve(String(ids[1].prefix(7)).uppercased()) == ids[1])
            #expect(try catalog.resolve("r2") == ids[1])
            #expect(#expect(throws: StrataError.self) { try catalog.resolve(String(ids[0].prefix(3))) }?.message.contains("at least 4 hex digits") == true)
            #expect(#expect(throws: StrataError.self) { try catalog.resolve("nope") }?.message == "release 'nope' not found; run 'strata releases'")
        }
    }

    @Test func aReferenceMatchingTwoReleasesIsAmbiguousNeverAGuess() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let first = try store.publishNumberedReleases(1, sitesIn: folder)[0]
            // A second release labelled with the first one's id prefix: the prefix now names both.
            let prefix = String(first.prefix(4))
            let site = try makeSite(in: folder, name: "labelled", files: ["index.html": "labelled"])
            let second = try store.publish(site, label: prefix).manifest.id
            let error = #expect(throws: StrataError.self) { try store.catalog.resolve(prefix) }
            #expect(error?.kind == .ambiguous)
            #expect(error?.message == "'\(prefix)' matches 2 releases (\([first, second].sorted().joined(separator: ", "))); give more digits")
        }
    }
}

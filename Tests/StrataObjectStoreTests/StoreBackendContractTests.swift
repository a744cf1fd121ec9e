import Foundation
import StrataCore
import StrataObjectStore
import StrataTestSupport
import Synchronization
import SystemPackage
import Testing

/// What every `StoreBackend` must do, whatever keeps the bytes. Each test runs against every
/// backend in `backends`: a folder, memory (every contract in milliseconds), and a fresh bucket in
/// a real S3 protocol server (moto).
@Suite struct StoreBackendContractTests {
    /// Makes a fresh, empty backend inside a temporary folder.
    static let backends: [(name: String, make: @Sendable (String) -> any StoreBackend)] = [
        ("local folder", { folder in LocalStore(root: FilePath(folder + "/store")) }),
        ("memory", { _ in MemoryStore() }),
        ("object store", { _ in try! TestBucket.make().store }),
    ]

    static var names: [String] { backends.map(\.name) }

    func withBackend(_ name: String, _ body: (Store, String) throws -> Void) throws {
        let make = Self.backends.first { $0.name == name }!.make
        try withTemporaryDirectory { folder in
            try body(Store(backend: make(folder), lockTimeout: 5), folder)
        }
    }

    /// A one-file manifest for `text`, as the publisher would make it.
    func manifest(for text: String) -> (Manifest, FileDigest) {
        let sha = sha256Hex(Array(text.utf8))
        let entry = Manifest.Entry(path: "index.html", size: Int64(text.utf8.count), sha256: sha, type: "text/html")
        let fingerprint = Fingerprint.compute([(path: entry.path, sha256: sha)])
        let manifest = Manifest(id: Fingerprint.releaseID(of: fingerprint), fingerprint: fingerprint, created: "2026-01-01T00:00:00.000Z",
                                label: nil, source: "test", files: [entry])
        return (manifest, FileDigest(size: entry.size, sha256: sha))
    }

    @Test(arguments: names) func aDraftIsInvisibleUntilPublishedAndThenWhole(_ name: String) throws {
        try withBackend(name) { store, folder in
            let backend = store.backend
            let (manifest, _) = manifest(for: "<h1>hello</h1>")
            try write("<h1>hello</h1>", to: folder + "/site/index.html")
            let draft = try store.withWriteLock { try backend.makeDraft() }
            defer { draft.discard() }
            try draft.add(manifest.files[0], from: FilePath(folder + "/site/index.html"))
            _ = try draft.seal(manifest)
            #expect(try !backend.containsRelease(manifest.id))
            #expect(try backend.releaseIDs().isEmpty)
            #expect(try backend.manifestBytes(of: manifest.id) == nil)

            try store.withWriteLock { try draft.publish() }
            #expect(try backend.containsRelease(manifest.id))
            #expect(try backend.releaseIDs() == [manifest.id])
            let content = try backend.openContent(manifest.files[0], ofRelease: manifest.id)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 1)
            defer { buffer.deallocate() }
            let count = try content.read(into: buffer)
            #expect(String(decoding: buffer.prefix(count), as: UTF8.self) == "<h1>hello</h1>")
        }
    }

    @Test(arguments: names) func aDiscardedDraftLeavesNoRelease(_ name: String) throws {
        try withBackend(name) { store, folder in
            let (manifest, digest) = manifest(for: "draft")
            let draft = try store.withWriteLock { try store.backend.makeDraft() }
            try write("draft", to: draft.scratch.appending("index.html").string)
            try draft.adopt("index.html", digest: digest)
            _ = try draft.seal(manifest)
            draft.discard()
            #expect(try !store.backend.containsRelease(manifest.id))
            #expect(try store.backend.releaseIDs().isEmpty)
        }
    }

    @Test(arguments: names) func aFileThatChangedSinceHashingIsRefused(_ name: String) throws {
        try withBackend(name) { store, folder in
            let (manifest, _) = manifest(for: "before")
            try write("after!", to: folder + "/site/index.html")
            let draft = try store.withWriteLock { try store.backend.makeDraft() }
            defer { draft.discard() }
            // A folder store refuses it while copying; an object store while uploading, at seal.
            let error = #expect(throws: StrataError.self) {
                try draft.add(manifest.files[0], from: FilePath(folder + "/site/index.html"))
                _ = try draft.seal(manifest)
            }
            #expect(error?.kind == .conflict)
        }
    }

    @Test(arguments: names) func aPointerMovesOnlyFromTheStampItWasReadAt(_ name: String) throws {
        try withBackend(name) { store, _ in
            let pointers = store.backend.pointers(.releases)
            try store.withWriteLock {
                #expect(try pointers.replace("web", with: Array("aaaaaaaaaaaaaaaa\n".utf8), logging: line(1), ifStamp: nil))
                // Creating it again as if it did not exist is refused: it does.
                #expect(try !pointers.replace("web", with: Array("bbbbbbbbbbbbbbbb\n".utf8), logging: line(2), ifStamp: nil))
                let read = try #require(try pointers.read("web"))
                #expect(read.bytes == Array("aaaaaaaaaaaaaaaa\n".utf8))
                #expect(pointers.stamper("web")() == read.stamp)
                #expect(try pointers.replace("web", with: Array("cccccccccccccccc\n".utf8), logging: line(3), ifStamp: read.stamp))
                // The stamp it was read at is stale now.
                #expect(try !pointers.replace("web", with: Array("dddddddddddddddd\n".utf8), logging: line(4), ifStamp: read.stamp))
            }
            #expect(try pointers.read("web")?.bytes == Array("cccccccccccccccc\n".utf8))
            // Only the writes that moved the pointer were logged, in order.
            #expect(try pointers.history("web") == line(1) + line(3))
            #expect(try pointers.names() == ["web"])
            #expect(try store.backend.pointers(.configs).names().isEmpty)
        }
    }

    @Test(arguments: names) func aChangedPointerIsReadOnlyWhenItMoved(_ name: String) throws {
        try withBackend(name) { store, _ in
            let pointers = store.backend.pointers(.releases)
            guard case .absent = try pointers.readIfChanged("web", from: nil) else { Issue.record("a pointer never set is absent"); return }
            var known: PointerStamp?
            for letter in "abcabc" {
                let value = Array((String(repeating: letter, count: 16) + "\n").utf8)
                let replaced = try store.withWriteLock { try pointers.replace("web", with: value, logging: line(0), ifStamp: known) }
                #expect(replaced)
                guard case .changed(let bytes, let stamp) = try pointers.readIfChanged("web", from: known) else {
                    Issue.record("a replace is seen by the next read"); return
                }
                #expect(bytes == value && stamp != known)
                known = stamp
                guard case .unchanged = try pointers.readIfChanged("web", from: known) else { Issue.record("no replace, no change"); return }
            }
        }
    }

    /// Writers take turns: two threads' bodies never overlap (on S3, through the lease object).
    @Test(arguments: names) func theWriteLockAdmitsOneWriterAtATime(_ name: String) throws {
        try withBackend(name) { store, _ in
            let inside = Mutex(0)
            let overlaps = Mutex(0)
            DispatchQueue.concurrentPerform(iterations: 3) { _ in
                for _ in 0..<3 {
                    try? store.withWriteLock {
                        if inside.withLock({ $0 += 1; return $0 }) > 1 { overlaps.withLock { $0 += 1 } }
                        usleep(20_000)
                        inside.withLock { $0 -= 1 }
                    }
                }
            }
            #expect(overlaps.withLock { $0 } == 0)
            #expect(inside.withLock { $0 } == 0)
        }
    }

    /// The local folder's watcher (its capability): a stat per request, never missing a replace.
    @Test func aFolderWatcherSeesEveryReplaceOnItsNextCheck() throws {
        try withBackend("local folder") { store, _ in
            let pointers = store.backend.pointers(.releases)
            let watcher = try #require(store.folders).pointerWatcher("web", family: .releases)
            #expect(watcher.stamp() == nil)
            func flip(to letter: Character) throws {
                let value = Array((String(repeating: letter, count: 16) + "\n").utf8)
                try store.withWriteLock {
                    let current = try pointers.read("web")?.stamp
                    #expect(try pointers.replace("web", with: value, logging: line(0), ifStamp: current))
                }
            }
            // Flips far quicker than any file-system timestamp tick, each checked right after.
            var seen: [PointerStamp?] = [watcher.stamp()]
            for letter in "abcdefabcdef" {
                try flip(to: letter)
                let stamp = watcher.stamp()
                #expect(stamp == pointers.stamper("web")(), "the watcher agrees with a fresh stamp")
                #expect(!seen.contains(stamp), "every flip is a new stamp")
                seen.append(stamp)
            }
            // Quiet long enough for the watcher to answer from memory, then one more flip.
            for _ in 0..<25 {
                #expect(watcher.stamp() == seen.last!)
                usleep(100_000)
            }
            try flip(to: "z")
            #expect(watcher.stamp() == pointers.stamper("web")())
            #expect(watcher.stamp() != seen.last!)
        }
    }

    /// The local watcher answers from the store's flip counter: a strata flip is seen on the next
    /// check, a pointer renamed into place by something else within a second (the folder check).
    @Test func theFolderWatcherFollowsTheFlipCounterAndSeesAHandMadeRenameWithinASecond() throws {
        try withBackend("local folder") { store, folder in
            let pointers = store.backend.pointers(.releases)
            let watcher = try #require(store.folders).pointerWatcher("web", family: .releases)
            func flip(to letter: Character) throws {
                let value = Array((String(repeating: letter, count: 16) + "\n").utf8)
                try store.withWriteLock {
                    let current = try pointers.read("web")?.stamp
                    #expect(try pointers.replace("web", with: value, logging: line(0), ifStamp: current))
                }
            }
            func counter() throws -> UInt64 {
                let bytes = try #require(FileManager.default.contents(atPath: folder + "/store/flips"))
                #expect(bytes.count == 8)
                return bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
            }
            try flip(to: "a")
            #expect(try counter() == 1, "each flip adds one")
            let flipped = watcher.stamp()
            #expect(flipped == pointers.stamper("web")())

            // A rename strata did not make: no add to the counter, so the watcher answers from memory...
            try write("bbbbbbbbbbbbbbbb\n", to: folder + "/store/channels/.web.by-hand")
            #expect(rename(folder + "/store/channels/.web.by-hand", folder + "/store/channels/web") == 0)
            let byHand = pointers.stamper("web")()
            #expect(byHand != flipped)
            #expect(watcher.stamp() == flipped, "no stat while the counter says nothing moved")
            // ...until its folder check, at most a second later.
            let start = Date()
            while watcher.stamp() != byHand && Date().timeIntervalSince(start) < 3 { usleep(20_000) }
            #expect(watcher.stamp() == byHand)
            #expect(Date().timeIntervalSince(start) < 1.5)

            // A strata flip right after is seen at once, however recently the folder was checked.
            try flip(to: "c")
            #expect(try counter() == 2)
            #expect(watcher.stamp() == pointers.stamper("web")())
        }
    }

    /// A store an older strata wrote has no counter: its servers check the folder on every
    /// request, and the next write gives it one.
    @Test func withoutAFlipCounterEveryCheckLooksAtTheFolderAndTheNextWriteMakesOne() throws {
        try withBackend("local folder") { store, folder in
            let pointers = store.backend.pointers(.releases)
            try store.withWriteLock { _ = try pointers.replace("web", with: Array("aaaaaaaaaaaaaaaa\n".utf8), logging: line(0), ifStamp: nil) }
            #expect(unlink(folder + "/store/flips") == 0)
            let watcher = try #require(store.folders).pointerWatcher("web", family: .releases)
            #expect(watcher.stamp() == pointers.stamper("web")())
            try write("bbbbbbbbbbbbbbbb\n", to: folder + "/store/channels/.web.by-hand")
            #expect(rename(folder + "/store/channels/.web.by-hand", folder + "/store/channels/web") == 0)
            #expect(watcher.stamp() == pointers.stamper("web")(), "seen on the next check")

            try store.withWriteLock {}
            #expect(FileManager.default.contents(atPath: folder + "/store/flips") == Data(count: 8))
        }
    }

    @Test(arguments: names) func aHistoryGrowsWithEachReplaceAndItsStampMoves(_ name: String) throws {
        try withBackend(name) { store, _ in
            let pointers = store.backend.pointers(.configs)
            #expect(try pointers.history("web") == nil)
            #expect(pointers.historyStamper("web")() == nil)
            try store.withWriteLock {
                #expect(try pointers.replace("web", with: Array("aaaaaaaaaaaaaaaa\n".utf8), logging: line(1), ifStamp: nil))
                let first = pointers.historyStamper("web")()
                #expect(first != nil)
                let stamp = try #require(try pointers.read("web")).stamp
                #expect(try pointers.replace("web", with: Array("bbbbbbbbbbbbbbbb\n".utf8), logging: line(2), ifStamp: stamp))
                #expect(pointers.historyStamper("web")() != first)
            }
            #expect(try pointers.history("web") == line(1) + line(2))
            #expect(try pointers.read("web")?.bytes == Array("bbbbbbbbbbbbbbbb\n".utf8))
        }
    }

    /// A canary's pointer is two lines; each backend keeps both apart from the history.
    @Test(arguments: names) func aCanaryPointerKeepsBothLinesAndItsHistory(_ name: String) throws {
        try withBackend(name) { store, _ in
            let pointers = store.backend.pointers(.releases)
            let canary = Array("aaaaaaaaaaaaaaaa\ncanary bbbbbbbbbbbbbbbb 10\n".utf8)
            try store.withWriteLock {
                #expect(try pointers.replace("web", with: Array("aaaaaaaaaaaaaaaa\n".utf8), logging: line(1), ifStamp: nil))
                let stamp = try #require(try pointers.read("web")).stamp
                #expect(try pointers.replace("web", with: canary, logging: line(2), ifStamp: stamp))
            }
            #expect(try pointers.read("web")?.bytes == canary)
            #expect(try pointers.history("web") == line(1) + line(2))
            guard case .changed(let bytes, _) = try pointers.readIfChanged("web", from: nil) else { Issue.record("not read"); return }
            #expect(bytes == canary)
        }
    }

    /// One history line, as `Pointer` writes them.
    func line(_ number: Int) -> [UInt8] { Array("{\"n\":\(number)}\n".utf8) }

    @Test(arguments: names) func pinsAndConfigVersionsAreKept(_ name: String) throws {
        try withBackend(name) { store, _ in
            let backend = store.backend
            try store.withWriteLock {
                #expect(try backend.setPinned(true, release: "0123456789abcdef"))
                #expect(try !backend.setPinned(true, release: "0123456789abcdef"))
                try backend.storeConfigVersion("fedcba9876543210", bytes: Array("{}".utf8))
                try backend.storeConfigVersion("fedcba9876543210", bytes: Array("{}".utf8))  // written once, idempotent
            }
            #expect(try backend.pinnedReleases() == ["0123456789abcdef"])
            #expect(try backend.configVersionBytes("fedcba9876543210") == Array("{}".utf8))
            #expect(try backend.configVersionBytes("0000000000000000") == nil)
            #expect(try store.withWriteLock { try backend.setPinned(false, release: "0123456789abcdef") })
            #expect(try backend.pinnedReleases().isEmpty)
        }
    }

    @Test(arguments: names) func aRemovedReleaseVanishesAndItsContentIsFreed(_ name: String) throws {
        try withBackend(name) { store, folder in
            try write("<p>gone soon</p>", to: folder + "/site/index.html")
            let id = try Publisher(store: store).publish(PublishRequest(source: folder + "/site")).manifest.id
            #expect(try store.backend.containsRelease(id))
            let freed = try store.withWriteLock {
                try store.backend.removeRelease(id)
                return try store.backend.collectUnreferencedContent()
            }
            #expect(try !store.backend.containsRelease(id))
            #expect(try store.backend.releaseIDs().isEmpty)
            #expect(freed.files >= 1 && freed.bytes >= 16)
        }
    }

    @Test(arguments: names) func noStoreIsRefusedWithItsLocation(_ name: String) throws {
        try withBackend(name) { store, _ in
            let error = #expect(throws: StrataError.self) { try store.backend.requireExisting() }
            #expect(error?.message.contains(store.location) == true)
        }
    }
}

import Foundation
import StrataCore
import Synchronization
import SystemPackage

/// A store kept in memory: the contract suite's third backend, so every contract of `StoreBackend`
/// runs in milliseconds without a folder's fsyncs or an S3 server. Drafts still get a scratch
/// folder on disk (archives are unpacked there), removed when the draft ends.
public final class MemoryStore: StoreBackend, Sendable {
    public let location = "memory://" + UUID().uuidString.lowercased().prefix(8)
    private let state = Mutex(State())
    /// The writers' lock: reentrant on one thread, like the other backends' locks.
    private let writers = NSRecursiveLock()

    struct State {
        var exists = false
        var content: [String: [UInt8]] = [:]
        var manifests: [String: [UInt8]] = [:]
        var pointers: [PointerFamily: [String: (bytes: [UInt8], history: [UInt8], version: Int)]] = [:]
        var pins: Set<String> = []
        var configs: [String: [UInt8]] = [:]
        var versions = 0
    }

    public init() {}

    public func requireExisting() throws {
        guard state.withLock({ $0.exists }) else { throw StrataError(.notFound, "no Strata store at \(location); publish something first") }
    }

    public func withWriteLock<T>(timeout: Double, _ body: () throws -> T) throws -> T {
        guard writers.lock(before: Date().addingTimeInterval(timeout)) else {
            throw StrataError(.locked, "the store \(location) is locked by another writer")
        }
        defer { writers.unlock() }
        state.withLock { $0.exists = true }
        return try body()
    }

    public func releaseIDs() throws -> [String] { state.withLock { Array($0.manifests.keys) } }
    public func containsRelease(_ id: String) throws -> Bool { state.withLock { $0.manifests[id] != nil } }
    public func manifestBytes(of id: String) throws -> [UInt8]? { state.withLock { $0.manifests[id] } }

    public func openContent(_ entry: Manifest.Entry, ofRelease id: String) throws -> any ByteSource {
        guard let bytes = state.withLock({ $0.content[entry.sha256] }) else {
            throw StrataError(.corrupt, "content of '\(entry.path)' is missing from \(location)")
        }
        return MemorySource(bytes)
    }

    /// A memory store keeps no variants.
    public func openVariant(of entry: Manifest.Entry, _ encoding: ContentEncoding, ofRelease id: String) throws -> (any ByteSource)? { nil }

    public func makeDraft() throws -> any ReleaseDraft { try MemoryDraft(store: self) }

    public func removeRelease(_ id: String) throws { _ = state.withLock { $0.manifests.removeValue(forKey: id) } }

    public func collectUnreferencedContent() throws -> (files: Int, bytes: Int64) {
        let manifests = state.withLock { Array($0.manifests.values) }
        var referenced = Set<String>()
        for bytes in manifests {
            for entry in try Manifest.decode(bytes, path: location).files { referenced.insert(entry.sha256) }
        }
        return state.withLock { state in
            let garbage = state.content.filter { !referenced.contains($0.key) }
            for key in garbage.keys { state.content[key] = nil }
            return (garbage.count, garbage.values.reduce(0) { $0 + Int64($1.count) })
        }
    }

    public func pointers(_ family: PointerFamily) -> any PointerStorage { MemoryPointers(store: self, family: family) }
    public func pinnedReleases() throws -> Set<String> { state.withLock { $0.pins } }

    public func setPinned(_ pinned: Bool, release id: String) throws -> Bool {
        state.withLock { pinned ? $0.pins.insert(id).inserted : $0.pins.remove(id) != nil }
    }

    public func configVersionBytes(_ id: String) throws -> [UInt8]? { state.withLock { $0.configs[id] } }
    public func storeConfigVersion(_ id: String, bytes: [UInt8]) throws { state.withLock { $0.configs[id] = $0.configs[id] ?? bytes } }

    fileprivate func withState<T: Sendable>(_ body: (inout State) throws -> T) rethrows -> T { try state.withLock { try body(&$0) } }
}

/// Bytes held in memory, read front to back.
final class MemorySource: ByteSource {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let count = min(buffer.count, bytes.count - offset)
        bytes.withUnsafeBytes { source in
            buffer.baseAddress!.copyMemory(from: source.baseAddress! + offset, byteCount: count)
        }
        offset += count
        return count
    }
}

/// A draft of a `MemoryStore`: files are read (and re-hashed) as they are added, kept until publish.
final class MemoryDraft: ReleaseDraft {
    let store: MemoryStore
    let scratch: FilePath
    private var files: [String: [UInt8]] = [:]  // by SHA-256
    private var manifest: (id: String, bytes: [UInt8])?
    private(set) var filesWritten = 0
    private(set) var bytesWritten: Int64 = 0
    let contentsCompressed = 0  // keeps no variants
    /// A memory store keeps no variants: only the settings are held.
    var variants = VariantSettings.standard

    init(store: MemoryStore) throws {
        self.store = store
        let folder = NSTemporaryDirectory() + "/strata-memory-draft-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        scratch = FilePath(folder)
    }

    deinit { discard() }

    func add(_ entry: Manifest.Entry, from source: FilePath) throws {
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: source.string)))
        guard Int64(bytes.count) == entry.size, sha256Hex(bytes) == entry.sha256 else {
            throw StrataError(.conflict, "'\(entry.path)' changed since it was hashed; publish again")
        }
        keep(bytes, as: entry.sha256)
    }

    func reuse(_ entry: Manifest.Entry, ofRelease id: String) throws {
        guard store.withState({ $0.content[entry.sha256] != nil }) else {
            throw StrataError(.notFound, "release \(id) was removed while this release was being published from it")
        }
    }

    func adopt(_ path: String, digest: FileDigest) throws {
        try add(Manifest.Entry(path: path, size: digest.size, sha256: digest.sha256, type: "application/octet-stream"),
                from: scratch.appending(path))
    }

    private func keep(_ bytes: [UInt8], as sha256: String) {
        guard files[sha256] == nil, !store.withState({ $0.content[sha256] != nil }) else { return }
        files[sha256] = bytes
        filesWritten += 1
        bytesWritten += Int64(bytes.count)
    }

    func seal(_ manifest: Manifest) throws -> Manifest {
        self.manifest = (manifest.id, try manifest.encoded())
        return manifest
    }

    func publish() throws {
        guard let manifest else { throw StrataError(.invalidInput, "a draft must be sealed before it is published") }
        store.withState { state in
            state.content.merge(files) { old, _ in old }
            state.manifests[manifest.id] = manifest.bytes
        }
        files = [:]
    }

    func discard() {
        files = [:]
        try? FileManager.default.removeItem(atPath: scratch.string)
    }
}

/// Pointers of one family in a `MemoryStore`; a stamp is the version number of the last replace.
struct MemoryPointers: PointerStorage {
    let store: MemoryStore
    let family: PointerFamily

    func names() throws -> [String] { store.withState { Array(($0.pointers[family] ?? [:]).keys) } }

    func read(_ name: String) throws -> (bytes: [UInt8], stamp: PointerStamp)? {
        store.withState { state in state.pointers[family]?[name].map { ($0.bytes, .entityTag("v\($0.version)")) } }
    }

    func stamper(_ name: String) -> @Sendable () -> PointerStamp? {
        let store = store, family = family
        return { store.withState { state in state.pointers[family]?[name].map { .entityTag("v\($0.version)") } } }
    }

    func replace(_ name: String, with bytes: [UInt8], logging line: [UInt8], ifStamp expected: PointerStamp?) throws -> Bool {
        store.withState { state in
            let current = state.pointers[family]?[name]
            guard current.map({ PointerStamp.entityTag("v\($0.version)") }) == expected else { return false }
            state.versions += 1
            state.pointers[family, default: [:]][name] = (bytes, (current?.history ?? []) + line, state.versions)
            return true
        }
    }

    func history(_ name: String) throws -> [UInt8]? {
        store.withState { state in state.pointers[family]?[name].flatMap { $0.history.isEmpty ? nil : $0.history } }
    }

    func historyStamper(_ name: String) -> @Sendable () -> PointerStamp? { stamper(name) }
}

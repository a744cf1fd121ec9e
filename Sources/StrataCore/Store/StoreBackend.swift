import SystemPackage

/// Where a store keeps its releases, pointers and histories: the seam between what Strata does
/// (publish, flip, list, prune, serve) and how the bytes are kept.
///
/// `LocalStore` (a folder: hard links, staging folders, fsync, flock) and `S3Store` (objects in an
/// S3-compatible bucket, in the StrataObjectStore module) implement it. Every contract of the product must hold behind it:
/// a release becomes visible only when complete (`ReleaseDraft.publish` is the single moment), a
/// pointer moves only by compare-and-swap (`PointerStorage.replace`), content is written once by its
/// SHA-256, and nothing here knows about channels, labels or rollbacks: those live above the seam.
public protocol StoreBackend: Sendable {
    /// Where the store is, for messages: a folder path, or `s3://bucket/prefix`.
    var location: String { get }

    /// Refuses, with a message naming `location`, when there is no store there.
    func requireExisting() throws

    /// Runs `body` as the only writer of the store, waiting up to `timeout` seconds for another.
    /// Creates the store first when it does not exist yet.
    func withWriteLock<T>(timeout: Double, _ body: () throws -> T) throws -> T

    // MARK: Releases

    /// Ids of the complete releases present, in no particular order.
    func releaseIDs() throws -> [String]
    /// True when release `id` is complete and visible. Throws when the store cannot say (a network
    /// error is never "not found").
    func containsRelease(_ id: String) throws -> Bool
    /// The manifest of release `id` as stored; nil when there is no such release.
    func manifestBytes(of id: String) throws -> [UInt8]?
    /// The bytes of one file of a release, streamed.
    func openContent(_ entry: Manifest.Entry, ofRelease id: String) throws -> any ByteSource
    /// The bytes of a variant the entry lists, streamed; nil when the store has no such object.
    func openVariant(of entry: Manifest.Entry, _ encoding: ContentEncoding, ofRelease id: String) throws -> (any ByteSource)?

    /// Starts writing a release. Nothing of it is visible until `ReleaseDraft.publish()`.
    func makeDraft() throws -> any ReleaseDraft
    /// Removes a release whole (it vanishes at once), with the write lock held.
    func removeRelease(_ id: String) throws
    /// Frees content no release references any more, with the write lock held.
    func collectUnreferencedContent() throws -> (files: Int, bytes: Int64)

    // MARK: Pointers, marks and small records

    /// The pointers of one family (release channels or config channels) and their histories.
    func pointers(_ family: PointerFamily) -> any PointerStorage
    /// Releases pinned against prune.
    func pinnedReleases() throws -> Set<String>
    /// Pins or unpins a release, with the write lock held. False when nothing changed.
    func setPinned(_ pinned: Bool, release id: String) throws -> Bool
    /// A config version's bytes by id; nil when absent.
    func configVersionBytes(_ id: String) throws -> [UInt8]?
    /// Stores a config version once, by its id (content-addressed), with the write lock held.
    func storeConfigVersion(_ id: String, bytes: [UInt8]) throws

    // MARK: Capabilities

    /// What only a store kept in a folder on this machine can do; nil for any other store.
    var folders: (any ReleaseFolders)? { get }
}

extension StoreBackend {
    public var folders: (any ReleaseFolders)? { nil }
}

/// A capability of stores kept in a local folder, asked for through `StoreBackend.folders`, never by
/// casting: release files as paths (the server sends them with `sendfile` and keeps them open), a
/// pointer watched with one `stat` per request, and undoing the creation of a store a failed first
/// write made. The server, `verify` of release folders, and a serve node's cache need it.
public protocol ReleaseFolders: Sendable {
    /// Where everything is under the store's root.
    var layout: StoreLayout { get }
    /// A watcher that answers from one `stat` per call (see `PointerWatcher`).
    func pointerWatcher(_ name: String, family: PointerFamily) -> any PointerWatcher
    /// Removes the store again if it holds nothing (a first write that failed leaves no trace).
    func removeIfUnused(timeout: Double)
}

/// Bytes read front to back: a local file, or an object's body.
public protocol ByteSource: AnyObject {
    /// Reads up to `buffer.count` bytes; 0 means the end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

extension OpenFile: ByteSource {}

extension ReleaseDraft {
    public func add(_ files: [(entry: Manifest.Entry, source: FilePath)], progress: ProgressCounter?) throws {
        for file in files {
            try add(file.entry, from: file.source)
            progress?.add(bytes: file.entry.size)
        }
    }
}

extension ByteSource {
    /// Everything left to read, in memory (for pages and rule files, not for large content).
    public func readToEnd() throws -> [UInt8] {
        var bytes: [UInt8] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = try read(into: buffer)
            if count == 0 { return bytes }
            bytes += buffer.prefix(count)
        }
    }
}

/// A release being written. Files are added, then `seal` writes what the release holds besides them
/// (variants, manifest), then `publish` makes it visible in one step. `discard` drops it all; a draft
/// abandoned by a crash is debris the next writer removes, never a visible release.
public protocol ReleaseDraft: AnyObject {
    /// A local folder for files whose digest is not known until they are written (an archive is
    /// unpacked here). Files written under it are then passed to `adopt`.
    var scratch: FilePath { get }
    /// Files and bytes the store did not have before: all that was written.
    var filesWritten: Int { get }
    var bytesWritten: Int64 { get }
    /// Distinct contents `seal` compressed; the others' variants were linked or known already.
    var contentsCompressed: Int { get }
    /// Which variants `seal` makes (all of them at the standard levels unless set).
    var variants: VariantSettings { get set }

    /// Adds a source file, re-hashing it as it is copied: a file that changed since it was hashed
    /// is refused. Content the store has already is referenced, not copied.
    func add(_ entry: Manifest.Entry, from source: FilePath) throws
    /// `add` for each file, in order; a store may spread the work over every core.
    func add(_ files: [(entry: Manifest.Entry, source: FilePath)], progress: ProgressCounter?) throws
    /// Adds a file of release `id`, which the store holds already: nothing is read or copied
    /// unless the store cannot share content (then it is copied from that release).
    func reuse(_ entry: Manifest.Entry, ofRelease id: String) throws
    /// Adds a file already written at `scratch/<path>` with this digest.
    func adopt(_ path: String, digest: FileDigest) throws
    /// Writes the variants and the manifest; returns the manifest as written (variants filled in).
    func seal(_ manifest: Manifest) throws -> Manifest
    /// Makes the sealed release visible under its id. Call with the write lock held.
    func publish() throws
    /// Drops whatever was written that is not published.
    func discard()
}

/// The two kinds of pointers a store holds: channels naming releases, and channels naming
/// runtime config versions.
public enum PointerFamily: Sendable {
    case releases
    case configs
}

/// What a pointer's storage says about its current version: equal stamps mean it was not replaced.
/// Locally, the file's identity, size and time (a flip renames a new file over the pointer);
/// in an object store, the object's ETag.
public enum PointerStamp: Hashable, Sendable {
    case file(device: UInt64, inode: UInt64, size: Int64, seconds: Int, nanoseconds: Int)
    case entityTag(String)
}

/// What `PointerStorage.readIfChanged` found.
public enum PointerChange: Sendable {
    case unchanged
    case absent
    case changed(bytes: [UInt8], stamp: PointerStamp)
}

extension PointerStorage {
    /// A check of the stamp, then a read when it moved.
    public func readIfChanged(_ name: String, from known: PointerStamp?) throws -> PointerChange {
        if let known, stamper(name)() == known { return .unchanged }
        guard let (bytes, stamp) = try read(name) else { return .absent }
        return stamp == known ? .unchanged : .changed(bytes: bytes, stamp: stamp)
    }
}

/// Tells whether a pointer moved, cheaply. Not thread-safe: one per thread (a server's event loop).
public protocol PointerWatcher: AnyObject {
    /// The pointer's current stamp (nil when it does not exist), as `PointerStorage.stamper` would
    /// read it now.
    func stamp() -> PointerStamp?
}

/// Named pointers of one family and their append-only histories, as bytes: parsing, rules and
/// messages live in `Pointer`.
public protocol PointerStorage: Sendable {
    /// Names of the pointers that exist.
    func names() throws -> [String]
    /// The pointer's bytes and stamp; nil when it was never set.
    func read(_ name: String) throws -> (bytes: [UInt8], stamp: PointerStamp)?
    /// A function that reads only the pointer's stamp (one `stat` locally, a conditional request
    /// remotely; nil when absent), prepared once for watchers that ask on every request.
    func stamper(_ name: String) -> @Sendable () -> PointerStamp?
    /// Replaces the pointer whole if it is still at `expected` (nil: if it does not exist yet), and
    /// records `line` (one JSON line) in its history. Returns false, changing nothing, when it moved.
    /// Locally, call with the write lock held; an object store makes it one conditional write.
    func replace(_ name: String, with bytes: [UInt8], logging line: [UInt8], ifStamp expected: PointerStamp?) throws -> Bool
    /// The history log's bytes (one JSON line per flip); nil when there is none.
    func history(_ name: String) throws -> [UInt8]?
    /// The pointer's bytes and stamp unless it is still at `known`: a conditional GET remotely
    /// (a 304 costs no body), a `stat` then a read locally.
    func readIfChanged(_ name: String, from known: PointerStamp?) throws -> PointerChange
    /// Like `stamper`, for the history, so watchers re-read it only when it grew.
    func historyStamper(_ name: String) -> @Sendable () -> PointerStamp?
}

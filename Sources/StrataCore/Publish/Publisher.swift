import SystemPackage

/// What `publish` (or `import`) was asked to do.
public struct PublishRequest: Sendable {
    /// A folder, an archive file, or "-" for an archive on standard input.
    public var source: String
    public var label: String?
    /// Publish `.git/` and `.DS_Store` too.
    public var includeEverything: Bool
    /// For archives: leading path components to drop from every entry, like `tar --strip-components`.
    public var stripComponents: Int
    public var limits: ArchiveLimits
    /// Refuse a folder (`strata import` takes archives only).
    public var requireArchive: Bool
    /// A patch release: this release's files, with the source folder's files added or replaced
    /// and `deletions` removed. Unchanged files are links, so the cost is the patch's, not the site's.
    public var base: String?
    /// Paths of the base release to leave out of a patch release.
    public var deletions: [String]
    /// Signs the new release (`publish --sign`).
    public var signingKey: SigningKey?
    /// Refuses a release not signed by one of these keys (`import --trust`): an archive's recorded
    /// signature, or the one `signingKey` makes.
    public var trust: TrustedKeys?
    /// Which precompressed variants to make (`--variants`), and at which levels.
    public var variants = VariantSettings.standard

    public init(source: String, label: String? = nil, includeEverything: Bool = false, stripComponents: Int = 0,
                limits: ArchiveLimits = .standard, requireArchive: Bool = false, base: String? = nil, deletions: [String] = []) {
        self.source = source
        self.label = label
        self.includeEverything = includeEverything
        self.stripComponents = stripComponents
        self.limits = limits
        self.requireArchive = requireArchive
        self.base = base
        self.deletions = deletions
    }

    /// Refuses, before anything is written, what `trust` does not accept.
    func admit(_ manifest: Manifest) throws {
        try trust?.require(manifest, origin: source == "-" ? "standard input" : "'\(source)'")
    }
}

/// What `publish` did.
public struct PublishReport: Sendable {
    public let manifest: Manifest
    /// False when the store already had a release with this content.
    public let isNew: Bool
    /// Files whose content was new to the store, and their bytes: all that was written.
    public let filesCopied: Int
    public let bytesCopied: Int64
    /// Files hard-linked from content the store already had.
    public let filesLinked: Int
    /// Distinct contents compressed for variants: what a publish spends most of its time on.
    public var contentsCompressed = 0

    static func existing(_ manifest: Manifest) -> PublishReport {
        PublishReport(manifest: manifest, isNew: false, filesCopied: 0, bytesCopied: 0, filesLinked: 0)
    }
}

/// Turns a source folder or an archive into an immutable release.
///
/// A folder is scanned and hashed first (both cores), so publishing the same tree again writes
/// nothing. An archive is read once, as a stream, straight into the draft's scratch folder, hashing
/// as it goes. Either way the release is written through the store's `ReleaseDraft` and made
/// visible, under the store lock, in one step. A crash at any point leaves at most a draft, which
/// the next writer removes.
public struct Publisher: Sendable {
    public let store: Store
    /// Counted as files are hashed, written or unpacked, for a progress display.
    public let progress: ProgressCounter?

    public init(store: Store, progress: ProgressCounter? = nil) {
        self.store = store
        self.progress = progress
    }

    public func publish(_ request: PublishRequest) throws -> PublishReport {
        if let label = request.label { try Names.validateLabel(label) }
        guard request.base != nil || request.deletions.isEmpty else {
            throw StrataError(.invalidInput, "--delete needs --base: it removes files of the release being patched")
        }
        guard request.stripComponents >= 0 else {
            throw StrataError(.invalidInput, "--strip-components must be 0 or more")
        }
        if request.source != "-" {
            guard let status = try FileSystem.status(FilePath(request.source)) else {
                throw StrataError(.notFound, "source '\(request.source)' does not exist")
            }
            if status.isDirectory {
                if request.requireArchive {
                    throw StrataError(.invalidInput, "'\(request.source)' is a folder; import takes an archive (publish takes folders)")
                }
                if request.stripComponents > 0 {
                    throw StrataError(.invalidInput, "--strip-components applies to archives; '\(request.source)' is a folder")
                }
                if let base = request.base { return try publishPatch(request, base: base) }
                return try publishFolder(request)
            }
        }
        if request.base != nil {
            throw StrataError(.invalidInput, "--base takes a folder of files to add or replace; '\(request.source)' is not a folder")
        }
        return try publishArchive(request)
    }

    // MARK: - Folders

    private func publishFolder(_ request: PublishRequest) throws -> PublishReport {
        try refuseSourceContainingTheStore(request.source)
        let files = try SourceScanner(includeEverything: request.includeEverything).scan(request.source)
        progress?.begin("hashing", totalFiles: files.count, totalBytes: Self.totalSize(files.map(\.location)))
        let digests = try Hashing.digests(ofFiles: files.map(\.location), progress: progress)
        let entries = zip(files, digests).map { file, digest in
            Manifest.Entry(path: file.path, size: digest.size, sha256: digest.sha256, type: ContentType.forPath(file.path))
        }
        var manifest = try newManifest(entries, request: request)
        try request.admit(manifest)
        let catalog = ReleaseCatalog(store)
        if try catalog.contains(manifest.id) { return .existing(try catalog.manifest(manifest.id)) }
        try checkLabelIsFree(request.label, for: manifest.id, in: catalog)
        let locations = Dictionary(uniqueKeysWithValues: files.map { ($0.path, $0.location) })
        manifest.check = try checkContent(entries) { entry in try FileSystem.readFile(locations[entry.path]!) }

        let draft = try makeDraft()
        defer { draft.discard() }
        progress?.begin("writing", totalFiles: entries.count, totalBytes: manifest.byteCount)
        try draft.add(zip(files, entries).map { file, entry in (entry, file.location) }, progress: progress)
        return try commit(draft, manifest: manifest, request: request)
    }

    // MARK: - Patch releases

    private func publishPatch(_ request: PublishRequest, base: String) throws -> PublishReport {
        try refuseSourceContainingTheStore(request.source)
        let baseManifest = try ReleaseCatalog(store).manifest(base)
        let patch = try SourceScanner(includeEverything: request.includeEverything).scan(request.source, allowEmpty: !request.deletions.isEmpty)
        let digests = try Hashing.digests(ofFiles: patch.map(\.location))

        /// Where each file of the patched release comes from: the patch folder, or the base release.
        var files: [String: (entry: Manifest.Entry, location: FilePath?)] = [:]
        for entry in baseManifest.files {
            files[entry.path] = (Manifest.Entry(path: entry.path, size: entry.size, sha256: entry.sha256, type: entry.type), nil)
        }
        let patched = Set(patch.map(\.path))
        for deletion in request.deletions {
            let path = try PatchPath.normalize(deletion)
            if patched.contains(path) {
                throw StrataError(.invalidInput, "'\(Escaped.path(path))' is both in the patch and given to --delete; pick one")
            }
            guard files.removeValue(forKey: path) != nil else {
                throw StrataError(.notFound, "--delete '\(Escaped.path(deletion))': release \(base) has no such file")
            }
        }
        for (file, digest) in zip(patch, digests) {
            files[file.path] = (Manifest.Entry(path: file.path, size: digest.size, sha256: digest.sha256, type: ContentType.forPath(file.path)),
                                file.location)
        }
        guard !files.isEmpty else {
            throw StrataError(.invalidInput, "the patch would leave release \(base) with no files")
        }
        try PatchPath.refuseFileFolderClashes(Array(files.keys))
        let ordered = files.values.sorted { $0.entry.path.utf8.lexicographicallyPrecedes($1.entry.path.utf8) }
        var manifest = try newManifest(ordered.map(\.entry), request: request)
        manifest.base = base
        try request.admit(manifest)
        let catalog = ReleaseCatalog(store)
        if try catalog.contains(manifest.id) { return .existing(try catalog.manifest(manifest.id)) }
        try checkLabelIsFree(request.label, for: manifest.id, in: catalog)
        manifest.check = try checkContent(manifest.files) { entry in
            if let location = files[entry.path]?.location { return try FileSystem.readFile(location) }
            return try store.backend.openContent(entry, ofRelease: base).readToEnd()
        }

        let draft = try makeDraft()
        defer { draft.discard() }
        for file in ordered {
            if let location = file.location {
                try draft.add(file.entry, from: location)
            } else {
                try draft.reuse(file.entry, ofRelease: base)
            }
        }
        return try commit(draft, manifest: manifest, request: request)
    }

    /// `strata publish . --root ./store` would publish the store into itself.
    private func refuseSourceContainingTheStore(_ source: String) throws {
        guard let root = store.folders?.layout.root else { return }  // a remote store is never inside a folder
        guard let sourcePath = FileSystem.realPath(FilePath(source)) else { return }  // the scanner reports it
        var storePath = root
        while FileSystem.realPath(storePath) == nil && storePath != "/" && storePath != "." {
            storePath = FileSystem.folder(of: storePath)  // the store may not exist yet
        }
        guard let existing = FileSystem.realPath(storePath) else { return }
        if existing.starts(with: sourcePath) {
            throw StrataError(.invalidInput, "the store '\(root)' is inside the source '\(source)'; keep the store outside what you publish")
        }
    }

    // MARK: - Archives

    private func publishArchive(_ request: PublishRequest) throws -> PublishReport {
        // Opening reads the first bytes, so something that is not an archive is refused before the
        // store is touched.
        let reader = try ArchiveReader(path: request.source)
        let storeExisted = (try? store.backend.requireExisting()) != nil
        do {
            let draft = try makeDraft()
            defer { draft.discard() }
            let options = UnpackOptions(stripComponents: request.stripComponents, includeEverything: request.includeEverything,
                                        limits: request.limits)
            progress?.begin("unpacking")
            let unpacked = try ArchiveUnpacker(options: options, progress: progress).unpack(reader, into: draft.scratch)
            let entries = unpacked.files.map { file in
                Manifest.Entry(path: file.path, size: file.digest.size, sha256: file.digest.sha256, type: ContentType.forPath(file.path))
            }
            var manifest = try newManifest(entries, request: request)
            if let recorded = unpacked.recordedFingerprint, recorded != manifest.fingerprint {
                throw StrataError(.invalidInput, "archive records fingerprint \(recorded.prefix(16))… but its files give \(manifest.fingerprint.prefix(16))…; it was changed or damaged")
            }
            if request.signingKey == nil { manifest.signature = unpacked.recordedSignature }
            try request.admit(manifest)
            let catalog = ReleaseCatalog(store)
            if try catalog.contains(manifest.id) { return .existing(try catalog.manifest(manifest.id)) }
            try checkLabelIsFree(request.label, for: manifest.id, in: catalog)
            manifest.check = try checkContent(entries) { entry in try FileSystem.readFile(draft.scratch.appending(entry.path)) }

            for file in unpacked.files {
                try draft.adopt(file.path, digest: file.digest)
            }
            return try commit(draft, manifest: manifest, request: request)
        } catch {
            if !storeExisted { store.folders?.removeIfUnused(timeout: store.lockTimeout) }
            throw error
        }
    }

    // MARK: - Shared

    private func newManifest(_ entries: [Manifest.Entry], request: PublishRequest) throws -> Manifest {
        let fingerprint = Fingerprint.compute(entries.lazy.map { (path: $0.path, sha256: $0.sha256) })
        let source = request.source == "-" ? "(standard input)" : FileSystem.realPath(FilePath(request.source))?.string ?? request.source
        var manifest = Manifest(id: Fingerprint.releaseID(of: fingerprint), fingerprint: fingerprint, created: Timestamp.now(),
                                label: request.label, source: source, files: entries)
        if let key = request.signingKey { manifest.signature = try ReleaseSignature.sign(manifest, with: key) }
        return manifest
    }

    /// Bytes of the files, for the progress display's total (0 for one that cannot be read now).
    private static func totalSize(_ paths: [FilePath]) -> Int64 {
        paths.reduce(0) { $0 + (((try? FileSystem.status($1)) ?? nil)?.size ?? 0) }
    }

    /// Refuses bad `_redirects` / `_headers` (`_redirects:LINE: why`) before anything is written,
    /// and scans the release's pages once, so `activate` need not.
    private func checkContent(_ entries: [Manifest.Entry], read: (Manifest.Entry) throws -> [UInt8]?) throws -> ContentCheck {
        let rules = try SiteRules.load { name in
            guard let entry = entries.first(where: { $0.path == name }) else { return nil }
            return try read(entry)
        }
        return try ContentCheck.compute(entries, rules: rules, read: read)
    }

    private func makeDraft() throws -> any ReleaseDraft {
        try store.withWriteLock { try store.backend.makeDraft() }
    }

    private func checkLabelIsFree(_ label: String?, for id: String, in catalog: ReleaseCatalog) throws {
        guard let label, let holder = try catalog.release(labelled: label), holder != id else { return }
        throw StrataError(.conflict, "label '\(label)' already names release \(holder); labels are unique")
    }

    /// Seals the draft and makes it visible as release `<id>`, atomically and durably.
    private func commit(_ draft: any ReleaseDraft, manifest: Manifest, request: PublishRequest) throws -> PublishReport {
        draft.variants = request.variants
        let written = try draft.seal(manifest)
        return try store.withWriteLock {
            let catalog = ReleaseCatalog(store)
            if try catalog.contains(manifest.id) {  // another publisher finished the same tree first
                return .existing(try catalog.manifest(manifest.id))
            }
            try checkLabelIsFree(request.label, for: manifest.id, in: catalog)
            try draft.publish()
            return PublishReport(manifest: written, isNew: true, filesCopied: draft.filesWritten, bytesCopied: draft.bytesWritten,
                                 filesLinked: manifest.fileCount - draft.filesWritten, contentsCompressed: draft.contentsCompressed)
        }
    }
}

/// Paths as `--delete` takes them, and the shape rules a patched tree must keep.
enum PatchPath {
    /// `/docs/old.html`, `./docs/old.html` and `docs/old.html` all name the same file.
    static func normalize(_ raw: String) throws -> String {
        var path = Substring(raw)
        while path.hasPrefix("./") { path = path.dropFirst(2) }
        while path.hasPrefix("/") { path = path.dropFirst() }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        guard !path.isEmpty, !segments.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
            throw StrataError(.invalidInput, "--delete '\(Escaped.path(raw))' is not a file path inside the release")
        }
        return String(path)
    }

    /// A patch adding `docs` as a file while the base has `docs/index.html` (or the reverse).
    static func refuseFileFolderClashes(_ paths: [String]) throws {
        if let folder = ManifestRules.fileAlsoFolder(paths) {
            throw StrataError(.invalidInput, "'\(Escaped.path(folder))' would be both a file and a folder; --delete one of them")
        }
    }
}

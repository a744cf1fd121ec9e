import ArgumentParser
import StrataCore

struct Publish: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish a folder or an archive as a new immutable release (not live until activated).",
        discussion: """
            Prints the release id on stdout. Publishing the same content again creates nothing and
            prints the existing id. Files already in the store are hard-linked, not copied.
            `.git/` and `.DS_Store` are left out unless --include-all is given. Symlinks that resolve
            inside the folder are published as the file or folder they point at; links leading
            outside, dangling links, devices, FIFOs and sockets are refused.

            An archive (tar, tar.gz, tar.xz, tar.bz2, tar.zst or zip, recognised by content; "-" reads
            one from standard input) is read once as a stream and gives the same release as its
            unpacked folder. A single top-level folder in it (dist/...) is kept as a folder unless
            --strip-components drops it.

            A patch release: --base takes a release (or a channel: the release it serves) and makes
            a new release of its files, with the folder's files added or replaced and --delete
            paths removed. Unchanged files are links, so it costs what the patch costs.

            Examples:
              strata publish ./dist --label v42 --activate
              strata publish build.tar.gz --strip-components 1
              strata publish ./hotfix --base production --delete old/banner.js --label v42.1
            """)

    @OptionGroup var options: StoreOptions

    @Argument(help: "The folder or archive to publish (a site's build output).")
    var source: String

    @OptionGroup var release: ReleaseOptions
    @OptionGroup var archive: ArchiveOptions

    @Option(help: ArgumentHelp("Make a patch release of this release or channel: the folder's files are added or replaced.", valueName: "release"))
    var base: String?

    @Option(name: .customLong("delete"), help: ArgumentHelp("With --base: leave this file out (repeatable).", valueName: "path"))
    var deletions: [String] = []

    func run() throws {
        if !deletions.isEmpty && base == nil { throw ValidationError("--delete needs --base") }
        try PublishCommand.run(source: source, requireArchive: false, options: options, release: release, archive: archive,
                               base: base, deletions: deletions)
    }
}

/// "2995 gzip variants, 2990 br, 2981 zstd": distinct files with each variant.
private func variantCounts(_ manifest: Manifest) -> String {
    let counts = ContentEncoding.allCases.map { encoding in (encoding, manifest.files.filter { $0[variant: encoding] != nil }.count) }
    let gzip = counts[0].1
    let others = counts.dropFirst().filter { _ in manifest.variantEncodings != nil }.map { "\($0.1) \($0.0.token)" }
    return (["\(gzip) gzip variants"] + others).joined(separator: ", ")
}

/// What `publish` and `import` ask of the new release.
struct ReleaseOptions: ParsableArguments {
    @Option(help: "A unique name for the release, usable wherever an id is (e.g. a version or build number).")
    var label: String?

    @Flag(help: "Make the release live on the channel right after publishing.")
    var activate = false

    @OptionGroup var channel: ChannelOption

    @OptionGroup var expiry: ExpiryOption

    @Flag(help: "Also publish .git/ and .DS_Store (and __MACOSX/ in archives).")
    var includeAll = false

    @OptionGroup var gate: CheckGateOptions

    @OptionGroup var signing: SigningOption

    @OptionGroup var variants: VariantOptions

    func validate() throws {
        if expiry.expires != nil && !activate { throw ValidationError("--expires needs --activate (it is when the channel ends)") }
    }
}

/// Which precompressed copies a publish makes, and how hard each encoder works.
struct VariantOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Precompressed variants to make: any of gzip, br, zstd, comma-separated, or none.",
                               valueName: "list"))
    var variants = VariantSettings.standard.encodings.map(\.token).joined(separator: ",")

    @Option(help: ArgumentHelp("gzip level (libdeflate, 1-12; default \(VariantLevels.standard.gzip)).", valueName: "n"))
    var gzipLevel: Int32 = VariantLevels.standard.gzip

    @Option(help: ArgumentHelp("brotli quality (0-11; default \(VariantLevels.standard.br)).", valueName: "n"))
    var brotliLevel: Int32 = VariantLevels.standard.br

    @Option(help: ArgumentHelp("zstd level (1-22; default \(VariantLevels.standard.zstd)).", valueName: "n"))
    var zstdLevel: Int32 = VariantLevels.standard.zstd

    func validate() throws {
        _ = try settings()
    }

    func settings() throws -> VariantSettings {
        do {
            return VariantSettings(encodings: try ContentEncoding.list(variants),
                                   levels: try VariantLevels(gzip: gzipLevel, br: brotliLevel, zstd: zstdLevel).validated())
        } catch let error as StrataError {
            throw ValidationError(error.message)
        }
    }
}

/// How an archive is read.
struct ArchiveOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Drop this many leading folders from every archive entry (like tar).", valueName: "n"))
    var stripComponents = 0

    @Option(help: ArgumentHelp("Refuse an archive whose files add up to more than this (e.g. 500M, 8G).", valueName: "size"))
    var maxBytes = "4G"

    @Option(help: ArgumentHelp("Refuse an archive with more entries than this.", valueName: "n"))
    var maxEntries = ArchiveLimits.standard.maxEntries

    func validate() throws {
        if stripComponents < 0 { throw ValidationError("--strip-components must be 0 or more") }
        if ByteCount.parse(maxBytes) == nil { throw ValidationError("--max-bytes '\(maxBytes)' is not a size (e.g. 500M, 8G)") }
        if maxEntries < 1 { throw ValidationError("--max-entries must be at least 1") }
    }

    var limits: ArchiveLimits {
        ArchiveLimits(maxBytes: ByteCount.parse(maxBytes) ?? ArchiveLimits.standard.maxBytes, maxEntries: maxEntries)
    }
}

/// The work `publish` and `import` share: publish, maybe activate, report.
enum PublishCommand {
    static func run(source: String, requireArchive: Bool, options: StoreOptions, release: ReleaseOptions, archive: ArchiveOptions,
                    base: String? = nil, deletions: [String] = [], trust: TrustedKeys? = nil) throws {
        let store = try options.writable()
        let baseID = try base.map { try ReleaseReference.resolve($0, in: try options.readable()) }
        var request = PublishRequest(source: source, label: release.label, includeEverything: release.includeAll,
                                     stripComponents: archive.stripComponents, limits: archive.limits, requireArchive: requireArchive,
                                     base: baseID, deletions: deletions)
        request.signingKey = try release.signing.key()
        request.trust = trust
        request.variants = try release.variants.settings()
        let progress = TerminalProgress.start()
        let report: PublishReport
        do {
            defer { progress?.finish() }
            report = try Publisher(store: store, progress: progress?.counter).publish(request)
        }
        let manifest = report.manifest
        var flip: FlipResult?
        if release.activate {
            try release.gate.require(manifest.id, store: store)
            flip = try Channels(store: store).activate(manifest.id, channel: release.channel.channel, expires: try release.expiry.expiry())
        }

        if options.json {
            try Output.json(PublishOutput(report: report, activation: flip))
            return
        }
        Output.line(manifest.id)
        if report.isNew {
            if let base = manifest.base { Output.note("patch of \(base)") }
            Output.note("published \(Output.release(manifest.id, label: manifest.label)): \(manifest.fileCount) files, "
                + "\(Output.bytes(manifest.byteCount)); wrote \(report.filesCopied) files (\(Output.bytes(report.bytesCopied))), "
                + "linked \(report.filesLinked); \(variantCounts(manifest)) (\(report.contentsCompressed) compressed now)")
        } else {
            Output.note("already published as \(Output.release(manifest.id, label: manifest.label)); nothing written")
            if request.signingKey != nil && manifest.signature == nil {
                Output.note("note: not signed; a release's signature is made when it is first published")
            }
            if let label = release.label, label != manifest.label {
                Output.note("note: label '\(label)' not applied; a release's label is fixed when it is first published")
            }
        }
        if let flip { Output.note(flip.sentence) }
    }
}

/// `publish --json`: the new release's summary (without its source), what was written, and the
/// activation if one was asked for.
struct PublishOutput: Encodable {
    let report: PublishReport
    let activation: FlipResult?

    private enum CodingKeys: String, CodingKey {
        case id, fingerprint, label, created, isNew, fileCount, byteCount, filesCopied, bytesCopied, filesLinked, contentsCompressed, base, activation
    }

    func encode(to encoder: Encoder) throws {
        let release = report.manifest.summary
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(release.id, forKey: .id)
        try container.encode(release.fingerprint, forKey: .fingerprint)
        try container.encodeIfPresent(release.label, forKey: .label)
        try container.encode(release.created, forKey: .created)
        try container.encode(report.isNew, forKey: .isNew)
        try container.encode(release.fileCount, forKey: .fileCount)
        try container.encode(release.byteCount, forKey: .byteCount)
        try container.encode(report.filesCopied, forKey: .filesCopied)
        try container.encode(report.bytesCopied, forKey: .bytesCopied)
        try container.encode(report.filesLinked, forKey: .filesLinked)
        try container.encode(report.contentsCompressed, forKey: .contentsCompressed)
        try container.encodeIfPresent(release.base, forKey: .base)
        try container.encodeIfPresent(activation, forKey: .activation)
    }
}

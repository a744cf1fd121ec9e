import ArgumentParser
import StrataCore
import SystemPackage

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-hash releases against their manifests; exit 1 on any difference.",
        discussion: """
            With no argument, verifies every release. An argument with a '/' is a release folder
            anywhere on disk (a release copied out of the store can be verified too).

            Example:
              strata verify 3f2a v41 ./backup/releases/9c8d7e6f5a4b3c2d
            """)

    @OptionGroup var options: StoreOptions

    @Argument(help: "Releases (id, prefix or label) or release folders.")
    var releases: [String] = []

    @OptionGroup var trust: TrustOption

    struct Row: Encodable {
        let id: String
        let fileCount: Int
        let intact: Bool
        let problems: [VerificationProblem]
    }

    func run() throws {
        var rows: [Row] = []
        for target in try targets() {
            let report: VerificationReport
            switch target {
            case .folder(let folder): report = try Verifier().verify(releaseFolder: folder)
            case .release(let id, let store): report = try Verifier().verify(release: id, in: store)
            }
            var problems = report.problems
            if let keys = try trust.keys() {
                problems += Self.signatureProblems(try target.manifest(), keys: keys)
            }
            rows.append(Row(id: report.id, fileCount: report.fileCount, intact: problems.isEmpty, problems: problems))
        }
        if options.json {
            try Output.json(rows)
        } else {
            if rows.isEmpty { Output.note("no releases to verify") }
            for row in rows {
                Output.line(row.intact ? "\(row.id)  ok  \(row.fileCount) files" : "\(row.id)  FAILED")
                for problem in row.problems {
                    Output.line("  \(problem.kind.rawValue): \(Escaped.path(problem.path)): \(problem.detail)")
                }
            }
        }
        if rows.contains(where: { !$0.intact }) { throw CommandFailure(status: 1) }
    }

    /// With --trust: the release must be signed by a trusted key.
    static func signatureProblems(_ manifest: Manifest, keys: TrustedKeys) -> [VerificationProblem] {
        do {
            try keys.require(manifest, origin: "")
            return []
        } catch let error as StrataError {
            return [VerificationProblem(kind: .signature, path: ReleaseLayout.manifestPath, detail: error.message)]
        } catch {
            return [VerificationProblem(kind: .signature, path: ReleaseLayout.manifestPath, detail: "\(error)")]
        }
    }

    /// What to verify: a release of the store (local or in a bucket), or a release folder given by path.
    private enum Target {
        case folder(FilePath)
        case release(String, Store)

        func manifest() throws -> Manifest {
            switch self {
            case .folder(let folder): return try Manifest.load(folder.appending(ReleaseLayout.manifestPath))
            case .release(let id, let store): return try ReleaseCatalog(store).manifest(id)
            }
        }
    }

    private func targets() throws -> [Target] {
        if releases.isEmpty {
            let store = try options.readable()
            return try ReleaseCatalog(store).summaries().map { .release($0.id, store) }
        }
        var targets: [Target] = []
        for reference in releases {
            if reference.contains("/") {
                targets.append(.folder(FilePath(reference)))
            } else {
                let store = try options.readable()
                targets.append(.release(try ReleaseCatalog(store).resolve(reference), store))
            }
        }
        return targets
    }
}

struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove old releases, keeping the newest N and everything a channel may need.",
        discussion: """
            Never removes a release a channel points at, a pinned release, or one named in the last N
            entries of any channel's history (so rollback still works). Frees file content no
            remaining release uses.

            Example:
              strata prune --keep 10 --dry-run
            """)

    @OptionGroup var options: StoreOptions

    @Option(help: "How many of the newest releases (by publish time) to keep.")
    var keep: Int

    @Flag(help: "Only list what would be removed.")
    var dryRun = false

    func validate() throws {
        if keep < 1 { throw ValidationError("--keep must be at least 1") }
    }

    struct Result: Encodable {
        let dryRun: Bool
        let removed: [ReleaseSummary]
        let kept: [Kept]
        let filesFreed: Int
        let bytesFreed: Int64
    }

    struct Kept: Encodable {
        let id: String
        let reasons: [RetentionReason]
    }

    func run() throws {
        let store = try options.readable()
        let pruner = Pruner(store: store)
        let plan: PrunePlan
        var freed: (files: Int, bytes: Int64) = (0, 0)
        if dryRun {
            plan = try pruner.plan(keep: keep)
        } else {
            let report = try pruner.prune(keep: keep)
            plan = report.plan
            freed = (report.filesFreed, report.bytesFreed)
        }
        if options.json {
            return try Output.json(Result(
                dryRun: dryRun, removed: plan.remove, kept: plan.keep.map { Kept(id: $0.release.id, reasons: $0.reasons) },
                filesFreed: freed.files, bytesFreed: freed.bytes))
        }
        let verb = dryRun ? "would remove" : "removed"
        for release in plan.remove {
            Output.line("\(verb)  \(Output.release(release.id, label: release.label))  \(Output.time(release.created))")
        }
        if plan.remove.isEmpty {
            Output.note("nothing to prune; \(plan.keep.count) releases kept")
        } else if !dryRun {
            Output.note("removed \(plan.remove.count) releases, freed \(freed.files) files (\(Output.bytes(freed.bytes))); \(plan.keep.count) kept")
        }
    }
}

struct Pin: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Keep a release through every prune.")

    @OptionGroup var options: StoreOptions
    @Argument(help: "Release id, prefix or label.") var release: String

    func run() throws {
        try PinChange.apply(pinned: true, release: release, options: options)
    }
}

struct Unpin: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Let prune remove a release again.")

    @OptionGroup var options: StoreOptions
    @Argument(help: "Release id, prefix or label.") var release: String

    func run() throws {
        try PinChange.apply(pinned: false, release: release, options: options)
    }
}

/// What `pin` and `unpin` did, and how they say it.
struct PinChange: Encodable {
    let id: String
    let pinned: Bool
    let changed: Bool

    static func apply(pinned: Bool, release: String, options: StoreOptions) throws {
        let store = try options.readable()
        let id = try ReleaseCatalog(store).resolve(release)
        let pins = Pins(store: store)
        let change = PinChange(id: id, pinned: pinned, changed: pinned ? try pins.pin(id) : try pins.unpin(id))
        if options.json { return try Output.json(change) }
        switch (pinned, change.changed) {
        case (true, true): Output.line("pinned \(id)")
        case (true, false): Output.line("\(id) was already pinned")
        case (false, true): Output.line("unpinned \(id)")
        case (false, false): Output.line("\(id) was not pinned")
        }
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the version and the libraries Strata links.")

    @Flag(help: "Print machine-readable JSON on stdout.") var json = false

    func run() throws {
        let versions = ["strata": Strata.version, "libarchive": LinkedLibraries.libarchive, "zlib": LinkedLibraries.zlib]
        if json { return try Output.json(versions) }
        Output.line("strata \(Strata.version) (\(LinkedLibraries.libarchive), zlib \(LinkedLibraries.zlib))")
    }
}

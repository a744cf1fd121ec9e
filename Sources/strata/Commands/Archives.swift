import ArgumentParser
import Foundation
import StrataCore

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish a release from an archive, such as one `strata export` wrote.",
        discussion: """
            Like `publish`, for archives only. When the archive records a fingerprint (an export's
            .strata/release.json, or a release folder's .strata/manifest.json), the files must add up
            to it or nothing is published. "-" reads the archive from standard input. With --trust, the
            archive must carry a valid signature (an export of a signed release does) by a trusted key.

            Example:
              strata export v42 -o - | ssh web1 strata import - --activate
            """)

    @OptionGroup var options: StoreOptions

    @Argument(help: "The archive to import, or - for standard input.")
    var archivePath: String

    @OptionGroup var release: ReleaseOptions
    @OptionGroup var archive: ArchiveOptions
    @OptionGroup var trust: TrustOption

    func run() throws {
        try PublishCommand.run(source: archivePath, requireArchive: true, options: options, release: release, archive: archive,
                               trust: try trust.keys())
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a release as a reproducible archive.",
        discussion: """
            The same release gives the same bytes on any machine, every time: entries sorted, owner
            0:0, fixed time and modes, a gzip header with no name and no time. The archive holds the
            release's files and .strata/release.json (its id and fingerprint), which `import` checks.
            The format follows the output's name (.tar.gz, .tgz, .tar) or --format. "-o -" writes to
            standard output. Without -o the archive is <id>.tar.gz in the current folder.

            Example:
              strata export v42 -o site-v42.tar.gz
            """)

    @OptionGroup var options: StoreOptions

    @Argument(help: "The release: id, unique prefix or label.")
    var release: String

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the archive, or - for standard output.", valueName: "file"))
    var output: String?

    @Option(help: ArgumentHelp("tar.gz or tar (default: from the output's name, else tar.gz).", valueName: "format"))
    var format: String?

    func validate() throws {
        if let format, ExportFormat(rawValue: format) == nil {
            throw ValidationError("--format must be one of: \(ExportFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        let store = try options.readable()
        let id = try ReleaseCatalog(store).resolve(release)
        let destination = output ?? id + ".tar.gz"
        let chosen: ExportFormat
        if let format {
            chosen = ExportFormat(rawValue: format)!
        } else if destination == "-" {
            chosen = .tarGzip
        } else if let named = ExportFormat.forPath(destination) {
            chosen = named
        } else {
            throw StrataError(.invalidInput, "cannot tell the format from '\(destination)'; name it .tar.gz, .tgz or .tar, or pass --format")
        }

        let progress = TerminalProgress.start()
        defer { progress?.finish() }
        let exporter = ReleaseExporter(store: store, progress: progress?.counter)
        let report: ExportReport
        if destination == "-" {
            if isatty(STDOUT_FILENO) != 0 {
                throw StrataError(.invalidInput, "refusing to write an archive to a terminal; redirect it or use -o <file>")
            }
            report = try exporter.export(id, format: chosen, to: STDOUT_FILENO, named: "standard output")
        } else {
            report = try AtomicOutputFile.write(destination) { descriptor in
                try exporter.export(id, format: chosen, to: descriptor, named: destination)
            }
        }
        progress?.finish()
        if options.json {
            try Output.json(ExportOutput(id: report.id, output: destination, format: chosen.rawValue, fileCount: report.fileCount, archiveBytes: report.archiveBytes))
        } else {
            Output.note("exported \(report.id): \(report.fileCount) files as \(chosen.rawValue), \(Output.bytes(report.archiveBytes))"
                + (destination == "-" ? "" : " in \(destination)"))
        }
    }
}

struct ExportOutput: Encodable {
    let id: String
    let output: String
    let format: String
    let fileCount: Int
    let archiveBytes: Int64
}

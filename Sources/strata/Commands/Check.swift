import ArgumentParser
import StrataCore

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pre-flight checks of a release: manifest, index.html, and every local reference in its HTML and CSS.",
        discussion: """
            Checks sizes against the manifest (full hashes with --full), that index.html is at the
            root, and that each local src, href, url(), srcset and module import in HTML and CSS
            names a file of the release. `activate` and `promote` run it unless --no-check.
            Exit 0 if it passes, 1 if not.

            Example:
              strata check v42 --full
            """)

    @OptionGroup var options: StoreOptions

    @Argument(help: "Release id, unique id prefix (4+ hex digits) or label.")
    var release: String

    @Flag(help: "Re-hash every file too, not only compare sizes.")
    var full = false

    func run() throws {
        let store = try options.readable()
        let id = try ReleaseCatalog(store).resolve(release)
        let report = try Preflight(store: store).check(id, full: full)
        if options.json {
            try Output.json(report)
        } else {
            for problem in report.problems { Output.line("\(problem.kind.rawValue): \(problem.path): \(problem.detail)") }
            for warning in report.warnings { Output.line("warning: \(warning)") }
            for broken in report.brokenReferences {
                Output.line("broken: \(broken.file): '\(broken.reference)' -> \(broken.resolved)")
            }
            let verdict = report.passes ? "passes" : "FAILS"
            Output.line("\(id) \(verdict): \(report.problems.count) manifest problems (\(full ? "hashes" : "sizes") checked), "
                + "\(report.brokenReferences.count) broken of \(report.referencesChecked) local references")
        }
        if !report.passes { throw ExitCode(1) }
    }
}

import ArgumentParser
import StrataCore

/// `--no-check` and `--force`, for the commands that make a release live.
struct CheckGateOptions: ParsableArguments {
    @Flag(help: "Skip the pre-flight check (`strata check`) before going live.")
    var noCheck = false

    @Flag(help: "Go live even if the pre-flight check finds broken references.")
    var force = false

    /// Reads the content check kept at publish (a release published before it was kept is checked
    /// now, in full); refuses a release with broken references unless --force. Warnings go to
    /// stderr either way. Whether the files still match the manifest is `strata check` and
    /// `verify`'s business: reading 5,000 file sizes would make every flip cost the site's size.
    func require(_ id: String, store: Store) throws {
        guard !noCheck else { return }
        let report: ContentCheck
        if let kept = try ReleaseCatalog(store).contentCheck(of: id) {
            report = kept
        } else {
            let full = try Preflight(store: store).check(id)
            if let problem = full.problems.first {
                throw StrataError(.corrupt, "release \(id) does not match its manifest (\(problem.path): \(problem.detail)); run 'strata verify \(id)'")
            }
            report = ContentCheck(warnings: full.warnings, brokenReferences: full.brokenReferences, referencesChecked: full.referencesChecked)
        }
        for warning in report.warnings { Output.note("check: \(warning)") }
        guard !report.brokenReferences.isEmpty else { return }
        for broken in report.brokenReferences {
            Output.note("check: \(broken.file): '\(broken.reference)' -> \(broken.resolved) is not in the release")
        }
        if force {
            Output.note("check: going live anyway (--force) with \(report.brokenReferences.count) broken references")
            return
        }
        throw StrataError(.invalidInput, "release \(id) has \(report.brokenReferences.count) broken references (listed above); fix them, or pass --force")
    }
}

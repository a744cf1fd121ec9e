import ArgumentParser
import StrataCore

/// `--no-check` and `--force`, for the commands that make a release live.
struct CheckGateOptions: ParsableArguments {
    @Flag(help: "Skip the pre-flight check (`strata check`) before going live.")
    var noCheck = false

    @Flag(help: "Go live even if the pre-flight check finds broken references.")
    var force = false

    /// Runs the pre-flight check; refuses a release that does not match its manifest, or has broken
    /// references unless --force. Warnings go to stderr either way.
    func require(_ id: String, store: Store) throws {
        guard !noCheck else { return }
        let report = try Preflight(store: store).check(id)
        for warning in report.warnings { Output.note("check: \(warning)") }
        if let problem = report.problems.first {
            throw StrataError(.corrupt, "release \(id) does not match its manifest (\(problem.path): \(problem.detail)); run 'strata verify \(id)'")
        }
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

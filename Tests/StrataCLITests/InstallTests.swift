import Foundation
import StrataTestSupport
import Testing

/// `make install-files` / `make uninstall` into a temporary prefix, as a packager would run them.
@Suite struct InstallTests {
    static let repository = URL(fileURLWithPath: fixtures).deletingLastPathComponent().path
    static let manualTool = repository + "/.build/debug/generate-manual"

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: manualTool), "make test builds generate-manual first"))
    func installsEverythingAndUninstallsIt() throws {
        try withTemporaryDirectory { folder in
            let prefix = folder + "/usr"
            let make = { (target: String) in
                try run("/usr/bin/make", ["-s", "-C", Self.repository, target, "PREFIX=\(prefix)", "BIN=\(strataExecutable)"])
            }
            let installed = try make("install-files")
            #expect(installed.status == 0, "\(installed.stderr)")
            let files = ["bin/strata", "share/man/man1/strata.1", "share/bash-completion/completions/strata",
                         "share/zsh/site-functions/_strata", "share/fish/vendor_completions.d/strata.fish",
                         "lib/systemd/system/strata-serve.service"]
            for file in files { #expect(FileManager.default.fileExists(atPath: prefix + "/" + file), "\(file)") }
            #expect(mode(prefix + "/bin/strata") & 0o777 == 0o755)
            #expect(try run(prefix + "/bin/strata", ["version"]).status == 0)

            // The man page renders and documents the commands.
            let page = try run("/usr/bin/man", ["-l", "-P", "cat", prefix + "/share/man/man1/strata.1"])
            #expect(page.status == 0 && page.stdout.contains("publish") && page.stdout.contains("rollback"))
            // The bash completion is valid bash that completes the subcommands.
            let bash = try run("/bin/bash", ["-c", "source \"$0\" && declare -F _strata >/dev/null && echo ok",
                                             prefix + "/share/bash-completion/completions/strata"])
            #expect(bash.stdout == "ok\n", "\(bash.stderr)")
            for shell in ["share/zsh/site-functions/_strata", "share/fish/vendor_completions.d/strata.fish"] {
                #expect(try String(contentsOfFile: prefix + "/" + shell, encoding: .utf8).contains("activate"))
            }

            // The unit points at the installed binary and passes systemd's own check, man page included.
            let unit = prefix + "/lib/systemd/system/strata-serve.service"
            #expect(try String(contentsOfFile: unit, encoding: .utf8).contains("ExecStart=\(prefix)/bin/strata serve"))
            var environment = ProcessInfo.processInfo.environment
            environment["MANPATH"] = prefix + "/share/man:"
            let verified = try run("/usr/bin/systemd-analyze", ["verify", unit], environment: environment)
            #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")

            let removed = try make("uninstall")
            #expect(removed.status == 0, "\(removed.stderr)")
            for file in files { #expect(!FileManager.default.fileExists(atPath: prefix + "/" + file), "\(file)") }
        }
    }

    @Test func installFilesRefusesAMissingBinary() throws {
        let result = try run("/usr/bin/make", ["-s", "-C", Self.repository, "install-files", "PREFIX=/nonexistent", "BIN=/nonexistent/strata"])
        #expect(result.status != 0 && result.stderr.contains("/nonexistent/strata is not built"))
    }
}

import Foundation
import StrataTestSupport
import Testing

/// Progress on a terminal (driven through a pseudo-terminal with `script`), and none otherwise.
@Suite struct ProgressTests {
    /// Big enough that publishing takes several redraws in a debug build.
    func makeLargeSite(in folder: String) throws -> String {
        let site = folder + "/site"
        try FileManager.default.createDirectory(atPath: site + "/assets", withIntermediateDirectories: true)
        var generator = SystemRandomNumberGenerator()
        let noise = Data((0..<65_520).map { _ in UInt8.random(in: 0...255, using: &generator) })
        for number in 0..<1500 {  // distinct files: a 16-byte number in front of shared noise
            var bytes = Data(String(format: "%016d", number).utf8)
            bytes.append(noise)
            try bytes.write(to: URL(fileURLWithPath: site + "/assets/blob-\(number).bin"))
        }
        try write("<h1>big</h1>", to: site + "/index.html")
        return site
    }

    @Test func publishAndExportShowProgressOnATerminalOnly() throws {
        try withTemporaryDirectory { folder in
            let site = try makeLargeSite(in: folder)
            let store = folder + "/store"
            // On a terminal: progress on stderr, the result alone on stdout (redirected to a file).
            let command = "\"$0\" publish \"$1\" --root \"$2\" > \"$3\"; echo \"exit=$?\""
            let shown = try run("/usr/bin/script", ["-qec", "/bin/sh -c '\(command)' \(strataExecutable) \(site) \(store) \(folder)/out.txt",
                                                    "/dev/null"])
            #expect(shown.stdout.contains("exit=0"), "\(shown.stdout)")
            #expect((shown.stdout.contains("hashing: ") || shown.stdout.contains("writing: ")) && shown.stdout.contains("/1,501 files"),
                    "\(shown.stdout)")
            #expect(shown.stdout.contains("MiB/s") && shown.stdout.contains("/93.8 MiB"))
            #expect(shown.stdout.contains("\r\u{1B}[K"))
            let id = try String(contentsOfFile: folder + "/out.txt", encoding: .utf8)
            #expect(id.wholeMatch(of: #/[0-9a-f]{16}\n/#) != nil, "stdout holds only the release id: \(id)")

            let export = "\"$0\" export \"$1\" --root \"$2\" -o \"$3\""
            let exported = try run("/usr/bin/script", ["-qec", "/bin/sh -c '\(export)' \(strataExecutable) \(id.dropLast()) \(store) \(folder)/out.tar",
                                                       "/dev/null"])
            #expect(exported.stdout.contains("exporting: ") && exported.stdout.contains("/1,501 files"), "\(exported.stdout)")

            // Not a terminal: not a byte of progress.
            let quiet = try strata(["publish", site, "--root", folder + "/other-store"])
            #expect(quiet.status == 0)
            #expect(!quiet.stderr.contains("hashing:") && !quiet.stderr.contains("\r"), "\(quiet.stderr)")
            #expect(quiet.stdout == id)
        }
    }
}

import Foundation
import StrataCore
import StrataTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `strata serve` as an operator runs it: it says where it listens, serves, and on SIGTERM
/// finishes and exits 0.
@Suite struct ServeCommandTests {
    @Test func serveAnswersThenExitsZeroOnSigterm() throws {
        try withTemporaryDirectory { folder in
            let root = folder + "/store"
            let v1 = try strata(["publish", fixtures + "/aurora-v1", "--root", root, "--activate"]).stdout.trimmingCharacters(in: .newlines)
            let server = try ServeProcess(["--root", root, "--access-log", folder + "/access.log"])
            let (process, port) = (server.process, server.port)
            #expect(server.listening.hasSuffix("] serving channel 'current' of \(root) on http://127.0.0.1:\(port)/ (versioned: /_v/<id>/), release \(v1)"))

            // bash's /dev/tcp: no HTTP client needs to be installed.
            let page = try run("/bin/bash", ["-c", "exec 3<>/dev/tcp/127.0.0.1/$0; printf 'GET /robots.txt HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n' >&3; cat <&3", String(port)])
            #expect(page.stdout.hasPrefix("HTTP/1.1 200 OK"))
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
            #expect(!process.wasKilledBySignal)
            #expect(process.terminationStatus == 0)
            #expect(try String(contentsOfFile: folder + "/access.log", encoding: .utf8).contains("\"GET /robots.txt HTTP/1.1\" 200"))
        }
    }

    @Test func serveRefusesAFolderThatIsNotAStore() throws {
        try withTemporaryDirectory { folder in
            let result = try strata(["serve", "--root", folder + "/nothing", "--port", "0"])
            #expect(result.status == 1)
            #expect(result.stderr.hasPrefix("error: ") && result.stderr.hasSuffix("\n") && result.stderr.split(separator: "\n").count == 1)
        }
    }

    @Test func aPortInUseIsOneLineAndExitOne() throws {
        try withTemporaryDirectory { folder in
            let root = folder + "/store"
            #expect(try strata(["publish", fixtures + "/aurora-v1", "--root", root, "--activate"]).status == 0)
            // Hold a port with a plain listening socket, then ask strata to listen there too.
            let (holder, port) = try #require(loopbackSocket(listening: true))
            defer { close(holder) }

            let result = try strata(["serve", "--root", root, "--port", String(port)])
            #expect(result.status == 1)
            #expect(result.stderr == "error: cannot listen on 127.0.0.1:\(port): Address already in use\n")
        }
    }
}

/// `strata password`: the credentials file `serve --protect` reads.
@Suite struct PasswordCommandTests {
    func password(_ arguments: [String], input: String) throws -> (status: Int32, stdout: String, stderr: String) {
        try run("/bin/sh", ["-c", "printf '%s' \"$0\" | \"$1\" password \"$2\" \"$3\" $4", input, strataExecutable] + arguments + [""])
    }

    @Test func addsChangesAndRemovesUsers() throws {
        try withTemporaryDirectory { folder in
            let file = folder + "/preview.users"
            #expect(try password([file, "alice"], input: "first pass\n").status == 0)
            #expect(try password([file, "bob"], input: "other\n").status == 0)
            let text = try String(contentsOfFile: file, encoding: .utf8)
            #expect(!text.contains("first pass") && text.hasPrefix("alice:$scrypt$"))
            let credentials = try CredentialFile.parse(text, name: file)
            #expect(credentials.hash(of: "alice")?.verify(Array("first pass".utf8)) == true)
            #expect(mode(file) & 0o777 == 0o600)

            #expect(try password([file, "alice"], input: "second\n").status == 0)
            let changed = try CredentialFile.parse(try String(contentsOfFile: file, encoding: .utf8), name: file)
            #expect(changed.users.map(\.name) == ["alice", "bob"])
            #expect(changed.hash(of: "alice")?.verify(Array("second".utf8)) == true)

            #expect(try password([file, "bob", "--delete"], input: "").status == 0)
            #expect(try CredentialFile.parse(try String(contentsOfFile: file, encoding: .utf8), name: file).users.map(\.name) == ["alice"])
        }
    }

    @Test func refusesWhatCannotBeKept() throws {
        try withTemporaryDirectory { folder in
            let file = folder + "/preview.users"
            let empty = try password([file, "alice"], input: "")
            #expect(empty.status == 1 && empty.stderr.contains("no password on standard input"))
            let colon = try password([file, "al:ice"], input: "x\n")
            #expect(colon.status == 1 && colon.stderr.contains("user name 'al:ice' is not allowed"))
            let absent = try password([file, "nobody", "--delete"], input: "")
            #expect(absent.status != 0)
            #expect(!FileManager.default.fileExists(atPath: file))
            let badFlag = try strata(["serve", "--protect", "preview"])
            #expect(badFlag.status == 64 && badFlag.stderr.contains("--protect 'preview' is not channel=file"))
        }
    }
}

/// Log rotation: logrotate's `create` (move, then SIGHUP) and `copytruncate` both work.
@Suite struct LogRotationTests {
    @Test func sighupReopensTheLogAndCopytruncateLeavesNoHole() throws {
        try withTemporaryDirectory { folder in
            let root = folder + "/store"
            let log = folder + "/access.log"
            #expect(try strata(["publish", fixtures + "/aurora-v1", "--root", root, "--activate"]).status == 0)
            let server = try ServeProcess(["--root", root, "--access-log", log])
            let (process, port) = (server.process, server.port)
            func get(_ path: String) throws {
                _ = try run("/bin/bash", ["-c", "exec 3<>/dev/tcp/127.0.0.1/$0; printf 'GET \(path) HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n' >&3; cat <&3 >/dev/null", String(port)])
                Thread.sleep(forTimeInterval: 0.2)  // lines are written off the event loops
            }

            try get("/first")
            try FileManager.default.moveItem(atPath: log, toPath: log + ".1")
            try get("/second")  // still into the moved file, as with nginx
            kill(process.processIdentifier, SIGHUP)
            Thread.sleep(forTimeInterval: 0.5)
            try get("/third")
            let rotated = try String(contentsOfFile: log + ".1", encoding: .utf8)
            #expect(rotated.contains("GET /first ") && rotated.contains("GET /second ") && !rotated.contains("/third"))
            #expect(try String(contentsOfFile: log, encoding: .utf8).contains("GET /third "))

            // copytruncate: the file is emptied in place; the next line starts at byte 0.
            #expect(truncate(log, 0) == 0)
            try get("/fourth")
            let bytes = try Data(contentsOf: URL(fileURLWithPath: log))
            #expect(!bytes.contains(0) && String(decoding: bytes, as: UTF8.self).hasPrefix("127.0.0.1 - - ["), "\(bytes.prefix(16).map { $0 })")
            #expect(process.isRunning)
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
        }
    }
}

/// What the server says on stderr: one line per event, in nginx's style or as JSON objects.
@Suite struct ServerEventTests {
    struct Event: Decodable {
        let time: String
        let level: String
        let event: String
        let message: String
    }

    /// Starts a server, flips the channel, stops it; returns its stderr and the two releases.
    func flipAndStop(format: String, flag: String = "--log-format") throws -> (said: String, v1: String, v2: String) {
        try withTemporaryDirectory { folder in
            let root = folder + "/store"
            let v1 = try strata(["publish", fixtures + "/aurora-v1", "--root", root, "--activate"]).stdout.trimmingCharacters(in: .newlines)
            let v2 = try strata(["publish", fixtures + "/aurora-v2", "--root", root]).stdout.trimmingCharacters(in: .newlines)
            let server = try ServeProcess(["--root", root, flag, format])
            #expect(try strata(["activate", v2, "--root", root]).status == 0)
            #expect(server.waitForLine(containing: "now serves release \(v2)"))
            #expect(server.stop() == 0)
            Thread.sleep(forTimeInterval: 0.2)  // the last lines reach the pipe's reader
            return (server.stderr, v1, v2)
        }
    }

    @Test func jsonEventsAreOneObjectPerLine() throws {
        let (said, v1, v2) = try flipAndStop(format: "json")
        let lines = said.split(separator: "\n")
        let events = try lines.map { try JSONDecoder().decode(Event.self, from: Data($0.utf8)) }
        #expect(events.map(\.event).filter { ["listening", "flip", "stopping", "stopped"].contains($0) }
                == ["listening", "flip", "stopping", "stopped"], "\(said)")
        #expect(events.allSatisfy { $0.time.hasSuffix("Z") && ["info", "notice", "warn", "error"].contains($0.level) })
        let flip = try #require(lines.first { $0.contains("\"event\":\"flip\"") })
        #expect(flip.contains("\"release\":\"\(v2)\"") && flip.contains("\"previous\":\"\(v1)\"") && flip.contains("\"channel\":\"current\""))
        #expect(lines.contains { $0.contains("\"event\":\"listening\"") && $0.contains("\"url\":\"http://127.0.0.1:") })
    }

    /// The operations issue named the flag `--access-log-format`; scripts still pass it.
    @Test func theOldFlagNameStillSetsTheFormat() throws {
        let (said, _, v2) = try flipAndStop(format: "json", flag: "--access-log-format")
        #expect(said.split(separator: "\n").contains { $0.hasPrefix("{") && $0.contains("\"event\":\"flip\"") && $0.contains(v2) }, "\(said)")
    }

    @Test func combinedEventsReadLikeNginxsErrorLog() throws {
        let (said, v1, v2) = try flipAndStop(format: "combined")
        let lines = said.split(separator: "\n").map(String.init)
        let shape = try Regex(#"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} \[(info|notice|warn|error)\] \S"#)
        #expect(lines.allSatisfy { $0.firstMatch(of: shape) != nil }, "\(said)")
        #expect(lines.contains { $0.hasSuffix("[notice] channel 'current' now serves release \(v2) (was \(v1))") })
        #expect(lines.last?.hasSuffix("[notice] stopped") == true)
    }
}

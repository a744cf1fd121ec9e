import Foundation
import StrataCore
import StrataServer
import StrataTestSupport
import Testing

/// `--release-host` and `--channel-host`: a release or a channel by the request's host name.
@Suite struct PreviewHostTests {
    func get(_ port: Int, _ path: String, host: String, headers: [String: String] = [:]) throws -> WireResponse {
        try request(port, path, headers: headers.merging(["Host": host]) { a, _ in a })
    }

    @Test func aReleaseHostServesThatReleaseAtTheRootByIdPrefixOrLabel() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)  // current serves v1; v2 is not live anywhere
            try withServer(served.store, { $0.releaseHosts = ["*.preview.example.com"] }) { port, _ in
                let page = try fixtureBytes("aurora-v2", "index.html")
                for name in [served.v2, String(served.v2.prefix(6)), "v2", "V2"] {
                    let answer = try get(port, "/", host: "\(name).Preview.example.com:8443")
                    #expect(answer.status == 200 && answer.body == page, "\(name): \(answer.status)")
                    #expect(answer.header("Strata-Release") == served.v2)
                    #expect(answer.header("X-Robots-Tag") == "noindex" && answer.header("Cache-Control") == "no-cache")
                }
                // Site-absolute URLs come from the release, not from the live channel: hash-named
                // files stay immutable, and the release's own 404 page and trailing-slash policy apply.
                let host = "v2.preview.example.com"
                let script = try get(port, "/assets/app.5612fb81.js", host: host)
                #expect(script.status == 200 && script.header("Strata-Release") == served.v2)
                #expect(script.header("Cache-Control") == "public, max-age=31536000, immutable")
                let v1Only = try get(port, "/assets/app.1ede997c.js", host: host)
                let notFoundPage = try fixtureBytes("aurora-v2", "404.html")
                #expect(v1Only.status == 404 && v1Only.body == notFoundPage,
                        "a file of the live release only is not found on the preview")
                let folderRedirect = try get(port, "/docs/getting-started", host: host)
                #expect(folderRedirect.status == 301 && folderRedirect.header("Location") == "/docs/getting-started/")
                // The plain host still serves the channel.
                #expect(try get(port, "/", host: "www.example.com").header("Strata-Release") == served.v1)
                #expect(try get(port, "/", host: "www.example.com").header("X-Robots-Tag") == nil)

                // An unknown name, or the suffix alone, never gets another release.
                for name in ["nope", "0000", "v9", "bad_name"] {
                    let unknown = try get(port, "/", host: "\(name).preview.example.com")
                    #expect(unknown.status == 404 && unknown.header("Strata-Release") == nil
                            && String(decoding: unknown.body, as: UTF8.self) == "no such release\n", "\(name)")
                }
                #expect(try get(port, "/", host: "preview.example.com").header("Strata-Release") == served.v1)

                // Release hosts count under one channel label, whatever names clients send.
                Thread.sleep(forTimeInterval: 1.2)  // the loops hand their counts over once a second
                let metrics = String(decoding: try get(port, "/_strata/metrics", host: "www.example.com").body, as: UTF8.self)
                #expect(metrics.contains("strata_http_requests_total{channel=\"_previews\",status_class=\"2xx\"}"), "\(metrics.prefix(600))")
                #expect(!metrics.contains("channel=\"nope\"") && !metrics.contains("channel=\"v2\""))

                // A release published while serving gets its name within a second or so.
                let v3 = try served.store.publishFixture("e2e-v1", label: "pr-42")
                var found: WireResponse?
                for _ in 0..<30 {
                    let answer = try get(port, "/", host: "pr-42.preview.example.com")
                    if answer.status == 200 { found = answer; break }
                    Thread.sleep(forTimeInterval: 0.1)
                }
                #expect(found?.header("Strata-Release") == v3)

                // A label that is also another release's id prefix names two releases: neither.
                let prefix = String(served.v1.prefix(5))
                _ = try served.store.publish(try makeSite(in: folder, name: "clash", files: ["index.html": "clash"]), label: prefix)
                var ambiguous = try get(port, "/", host: "\(prefix).preview.example.com")
                for _ in 0..<50 where ambiguous.status != 404 {
                    Thread.sleep(forTimeInterval: 0.1)
                    ambiguous = try get(port, "/", host: "\(prefix).preview.example.com")
                }
                #expect(ambiguous.status == 404 && ambiguous.header("Strata-Release") == nil,
                        "a name a new release made ambiguous serves nothing once the names are read again (2 s)")
            }
        }
    }

    @Test func aChannelHostServesEveryChannelByNameUntilItExpiresAndProtectionHolds() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            _ = try served.store.channels.activate(served.v2, channel: "staging")
            _ = try served.store.channels.activate(served.v2, channel: "pr-7", expires: .some(PointerValue.now() + 3))
            _ = try served.store.channels.activate(served.v2, channel: "pr-8")
            var credentials = CredentialFile()
            credentials.set("alice", try PasswordHash.make("correct horse", logRounds: 10))
            try write(credentials.rendered, to: folder + "/pr-8.users")
            try withServer(served.store, {
                $0.channelHosts = ["*.pr.example.com"]
                $0.protectedChannels = ["pr-8": folder + "/pr-8.users"]
            }) { port, _ in
                let staging = try get(port, "/", host: "staging.pr.example.com")
                #expect(staging.status == 200 && staging.header("Strata-Release") == served.v2 && staging.header("X-Robots-Tag") == nil)
                let current = try get(port, "/", host: "current.pr.example.com")
                #expect(current.header("Strata-Release") == served.v1)
                let preview = try get(port, "/", host: "pr-7.pr.example.com")
                #expect(preview.status == 200 && preview.header("X-Robots-Tag") == "noindex", "a channel that expires is a preview")
                let unknown = try get(port, "/", host: "nope.pr.example.com")
                #expect(unknown.status == 404 && String(decoding: unknown.body, as: UTF8.self) == "no such channel\n")
                // --protect applies to a channel reached by its host.
                #expect(try get(port, "/", host: "pr-8.pr.example.com").status == 401)
                let password = "Basic " + Data("alice:correct horse".utf8).base64EncodedString()
                #expect(try get(port, "/", host: "pr-8.pr.example.com", headers: ["Authorization": password]).status == 200)
                // A channel activated while serving is reachable at once.
                _ = try served.store.channels.activate(served.v1, channel: "pr-9")
                #expect(try get(port, "/", host: "pr-9.pr.example.com").header("Strata-Release") == served.v1)

                Thread.sleep(forTimeInterval: 3.2)
                let expired = try get(port, "/", host: "pr-7.pr.example.com")
                #expect(expired.status == 404 && expired.header("Strata-Release") == nil, "an expired channel is no longer served")
                _ = try served.store.channels.delete(channel: "pr-9")
                let gone = try get(port, "/", host: "pr-9.pr.example.com")
                #expect(gone.status == 404, "nor is a deleted one: \(gone.status) \(String(decoding: gone.body, as: UTF8.self))")
            }
        }
    }

    @Test func hostPatternsThatAreNotWildcardsOfHostNamesAreRefusedAtStart() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            for pattern in ["preview.example.com", "*.Preview.com", "*.example.com:8080", "*.", "*..com", "**.example.com"] {
                var configuration = ServerConfiguration()
                configuration.releaseHosts = [pattern]
                let error = #expect(throws: ServerError.self, "\(pattern)") { try StrataHTTPServer(store: served.store.store, configuration: configuration) }
                #expect(error?.description.contains("is not a pattern like '*.preview.example.com'") == true)
                configuration.releaseHosts = []
                configuration.channelHosts = [pattern]
                #expect(throws: ServerError.self, "\(pattern)") { try StrataHTTPServer(store: served.store.store, configuration: configuration) }
            }
        }
    }
}

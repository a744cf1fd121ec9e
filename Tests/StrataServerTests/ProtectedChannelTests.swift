import Foundation
import StrataCore
import StrataServer
import StrataTestSupport
import Testing

/// Protected previews: HTTP Basic per channel, with the versioned URLs of their releases.
@Suite struct ProtectedChannelTests {
    /// production serves v1 openly; preview serves v2, which was never live anywhere else.
    func previewSetUp(in folder: String) throws -> (ServedStore, String) {
        let served = try ServedStore(in: folder)
        _ = try served.store.channels.activate(served.v2, channel: "preview")
        var credentials = CredentialFile()
        credentials.set("alice", try PasswordHash.make("correct horse", logRounds: 10))
        let file = folder + "/preview.users"
        try write(credentials.rendered, to: file)
        return (served, file)
    }

    func basic(_ user: String, _ password: String) -> [String: String] {
        ["Authorization": "Basic " + Data("\(user):\(password)".utf8).base64EncodedString(), "Host": "preview.example.com"]
    }

    func configure(_ file: String) -> (inout ServerConfiguration) -> Void {
        { settings in
            settings.channelsByHost = ["preview.example.com": "preview"]
            settings.protectedChannels = ["preview": file]
        }
    }

    @Test func rightWrongAndMissingCredentials() throws {
        try withTemporaryDirectory { folder in
            let (served, file) = try previewSetUp(in: folder)
            try withServer(served.store, configure(file)) { port, _ in
                let missing = try request(port, "/", headers: ["Host": "preview.example.com"])
                #expect(missing.status == 401)
                #expect(missing.header("WWW-Authenticate") == "Basic realm=\"preview\", charset=\"UTF-8\"")
                #expect(!missing.text.contains("aurora"))

                #expect(try request(port, "/", headers: basic("alice", "wrong")).status == 401)
                #expect(try request(port, "/", headers: basic("mallory", "correct horse")).status == 401)
                #expect(try request(port, "/", headers: ["Host": "preview.example.com", "Authorization": "Basic !!!"]).status == 401)

                let right = try request(port, "/", headers: basic("alice", "correct horse"))
                #expect(right.status == 200 && right.header("Strata-Release") == served.v2)
                // Asked again (now remembered), and for the channel's config.
                #expect(try request(port, "/", headers: basic("alice", "correct horse")).status == 200)
                #expect(try request(port, "/_strata/config.json", headers: ["Host": "preview.example.com"]).status == 401)
                // Health stays open for load balancers.
                #expect(try request(port, "/_strata/health", headers: ["Host": "preview.example.com"]).status == 200)
                // The open channel needs nothing.
                #expect(try request(port, "/").status == 200)
            }
        }
    }

    @Test func aPreviewDoesNotLeakThroughItsVersionedURL() throws {
        try withTemporaryDirectory { folder in
            let (served, file) = try previewSetUp(in: folder)
            try withServer(served.store, configure(file)) { port, _ in
                let leaked = try request(port, "/_v/\(served.v2)/index.html")
                #expect(leaked.status == 401)
                let allowed = try request(port, "/_v/\(served.v2)/index.html", headers: basic("alice", "correct horse"))
                let page = try fixtureBytes("aurora-v2", "index.html")
                #expect(allowed.status == 200 && allowed.body == page)
                // Shared caches may keep nothing an authenticated request got.
                #expect(allowed.header("Cache-Control") == "private, max-age=31536000, immutable")
                // The production release stays public at its versioned URL.
                #expect(try request(port, "/_v/\(served.v1)/index.html").status == 200)

                // Once production serves v2 too, its versioned URL is public.
                _ = try served.store.channels.activate(served.v2, channel: "current")
                #expect(try request(port, "/_v/\(served.v2)/index.html").status == 200)
            }
        }
    }

    @Test func anEditedCredentialsFileIsReadAgain() throws {
        try withTemporaryDirectory { folder in
            let (served, file) = try previewSetUp(in: folder)
            try withServer(served.store, configure(file)) { port, _ in
                #expect(try request(port, "/", headers: basic("alice", "correct horse")).status == 200)
                var credentials = CredentialFile()
                credentials.set("bob", try PasswordHash.make("new one", logRounds: 10))
                try write(credentials.rendered, to: file)
                Thread.sleep(forTimeInterval: 1.3)
                #expect(try request(port, "/", headers: basic("alice", "correct horse")).status == 401)
                #expect(try request(port, "/", headers: basic("bob", "new one")).status == 200)
            }
        }
    }

    @Test func aServerDoesNotStartWithCredentialsItCannotRead() throws {
        try withTemporaryDirectory { folder in
            let (served, _) = try previewSetUp(in: folder)
            try write("alice:plaintext\n", to: folder + "/bad.users")
            for (path, message) in [(folder + "/none.users", "cannot read the credentials file"),
                                    (folder + "/bad.users", "bad.users:1: not 'user:$scrypt$…'")] {
                var settings = ServerConfiguration()
                settings.protectedChannels = ["preview": path]
                let error = #expect(throws: ServerError.self) { try StrataHTTPServer(store: served.store.store, configuration: settings) }
                #expect(error?.description.contains(message) == true, "\(error?.description ?? "-")")
            }
        }
    }

    @Test func passwordHashesCheckAndTravelAsText() throws {
        let hash = try PasswordHash.make("s3cret", logRounds: 10)
        #expect(hash.verify(Array("s3cret".utf8)))
        #expect(!hash.verify(Array("s3cret ".utf8)))
        #expect(PasswordHash(encoded: hash.encoded) == hash)
        #expect(hash.encoded.hasPrefix("$scrypt$ln=10,r=8,p=1$"))
        #expect(!hash.encoded.contains("s3cret"))
        #expect(PasswordHash(encoded: "$scrypt$ln=40,r=8,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA") == nil)
    }
}

import Foundation
import StrataCore
import StrataServer
import StrataTestSupport
import Testing

/// `--shared-cache-ttl`: which answers a CDN may keep until the flip, and the tags it purges by.
@Suite struct SharedCacheTests {
    let shared = "public, max-age=0, s-maxage=3600"

    func expectShared(_ answer: WireResponse, channel: String = "current", release: String, _ what: String) {
        #expect(answer.header("Cache-Control") == shared, "\(what): \(answer.header("Cache-Control") ?? "-")")
        #expect(answer.header("Surrogate-Key") == "strata-channel-\(channel) strata-release-\(release)", "\(what)")
        #expect(answer.header("Cache-Tag") == "strata-channel-\(channel),strata-release-\(release)", "\(what)")
        #expect(answer.header("xkey") == "strata-channel-\(channel) strata-release-\(release)", "\(what)")
    }

    func expectNotShared(_ answer: WireResponse, cacheControl: String, _ what: String) {
        #expect(answer.header("Cache-Control") == cacheControl, "\(what): \(answer.header("Cache-Control") ?? "-")")
        #expect(answer.header("Surrogate-Key") == nil && answer.header("Cache-Tag") == nil && answer.header("xkey") == nil, "\(what)")
    }

    @Test func channelPagesAreSharedAndTaggedWhileImmutableFilesStaySo() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            try withServer(served.store, {
                $0.sharedCacheSeconds = 3600
                $0.releaseHosts = ["*.preview.example.com"]
            }) { port, _ in
                let page = try request(port, "/")
                expectShared(page, release: served.v1, "a page")
                let revalidated = try request(port, "/", headers: ["If-None-Match": page.header("ETag")!])
                #expect(revalidated.status == 304)
                expectShared(revalidated, release: served.v1, "a 304 keeps what the cache stored")
                expectShared(try request(port, "/robots.txt"), release: served.v1, "a plain-named file")
                let missing = try request(port, "/no/such/page")
                #expect(missing.status == 404)
                expectShared(missing, release: served.v1, "the 404 page, purged with the rest on flip")
                expectNotShared(try request(port, "/assets/app.1ede997c.js"), cacheControl: "public, max-age=31536000, immutable",
                                "a hash-named file")
                expectNotShared(try request(port, "/_v/\(served.v2)/"), cacheControl: "public, max-age=31536000, immutable", "a versioned URL")
                expectNotShared(try request(port, "/", headers: ["Host": "v2.preview.example.com"]), cacheControl: "no-cache", "a release host")
                expectNotShared(try request(port, "/_strata/config.json"), cacheControl: "no-cache", "the runtime config")

                // After a flip the answers name the new release.
                _ = try served.store.channels.activate(served.v2, channel: "current")
                expectShared(try request(port, "/"), release: served.v2, "after the flip")

                // During a canary no page is shared (the rollout's rule wins), hash-named files still are.
                _ = try served.store.channels.startCanary(served.v1, percent: 50, channel: "current")
                let split = try request(port, "/")
                expectNotShared(split, cacheControl: "private, no-cache", "a page during a canary")
                let asset = try request(port, "/assets/vendor.a1d646b7.js", headers: ["Cookie": "strata-release=canary"])
                #expect(asset.header("Cache-Control") == "public, max-age=31536000, immutable")
            }
        }
    }

    @Test func pagesBehindAPasswordOrWithoutTheOptionAreNeverShared() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            _ = try served.store.channels.activate(served.v2, channel: "preview")
            var credentials = CredentialFile()
            credentials.set("alice", try PasswordHash.make("correct horse", logRounds: 10))
            try write(credentials.rendered, to: folder + "/users")
            try withServer(served.store, {
                $0.sharedCacheSeconds = 3600
                $0.channelsByHost = ["preview.example.com": "preview"]
                $0.protectedChannels = ["preview": folder + "/users"]
            }) { port, _ in
                let password = "Basic " + Data("alice:correct horse".utf8).base64EncodedString()
                let page = try request(port, "/", headers: ["Host": "preview.example.com", "Authorization": password])
                #expect(page.status == 200)
                expectNotShared(page, cacheControl: "no-cache", "a page behind a password")
            }
            try withServer(served.store) { port, _ in
                expectNotShared(try request(port, "/"), cacheControl: "no-cache", "without --shared-cache-ttl")
            }
        }
    }

    @Test func aHeadersRuleKeepsItsOwnCacheControlAndTheTagsStill() throws {
        try withTemporaryDirectory { folder in
            let store = TestStore(in: folder)
            let id = try store.publish(try makeSite(in: folder, name: "site", files: [
                "index.html": "<p>home</p>", "_headers": "/\n  Cache-Control: public, max-age=60\n",
            ])).manifest.id
            _ = try store.channels.activate(id, channel: "current")
            try withServer(store, { $0.sharedCacheSeconds = 600 }) { port, _ in
                let page = try request(port, "/")
                #expect(page.header("Cache-Control") == "public, max-age=60")
                #expect(page.header("Surrogate-Key") == "strata-channel-current strata-release-\(id)")
            }
        }
    }
}

import Foundation
import StrataCore
import StrataServer
import StrataTestSupport
import Testing

/// Per-channel config at /_strata/config.json and config.js, and several channels by host name.
@Suite struct EnvironmentServingTests {
    func hostRequest(_ port: Int, _ path: String, host: String, headers: [String: String] = [:]) throws -> WireResponse {
        let connection = try RawConnection(port: port)
        var text = "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n"
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { text += "\(name): \(value)\r\n" }
        try connection.send(text + "\r\n")
        return try connection.readResponse()
    }

    @Test func oneReleaseServedByTwoChannelsWithTwoConfigsByHostName() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder, live: nil)
            let channels = served.store.channels
            _ = try channels.activate(served.v1, channel: "staging")
            _ = try channels.promote(from: "staging", to: "production")
            let configs = ChannelConfigs(store: Store(root: served.store.root, lockTimeout: 5))
            let production = try configs.set(["API_URL": "https://api.example.com"], channel: "production")
            _ = try configs.set(["API_URL": "https://staging-api.example.com", "DEBUG": "on"], channel: "staging")

            try withServer(served.store, {
                $0.channel = "production"
                $0.channelsByHost = ["staging.example.com": "staging"]
            }) { port, _ in
                let page = try fixtureBytes("aurora-v1", "index.html")
                let prod = try hostRequest(port, "/", host: "www.example.com")
                let stage = try hostRequest(port, "/", host: "Staging.Example.com:8080")
                #expect(prod.body == page && stage.body == page)  // the same release on both
                #expect(prod.header("Strata-Release") == served.v1 && stage.header("Strata-Release") == served.v1)

                let prodConfig = try hostRequest(port, "/_strata/config.json", host: "www.example.com")
                #expect(prodConfig.status == 200)
                #expect(String(decoding: prodConfig.body, as: UTF8.self) == "{\"API_URL\":\"https://api.example.com\"}\n")
                #expect(prodConfig.header("Content-Type") == "application/json")
                #expect(prodConfig.header("Cache-Control") == "no-cache")
                #expect(prodConfig.header("ETag") == "\"config-\(production.to)\"")

                let stageScript = try hostRequest(port, "/_strata/config.js", host: "staging.example.com")
                #expect(String(decoding: stageScript.body, as: UTF8.self)
                    == "window.STRATA_CONFIG = {\"API_URL\":\"https://staging-api.example.com\",\"DEBUG\":\"on\"};\n")
                #expect(stageScript.header("Content-Type") == "text/javascript; charset=utf-8")
                #expect(stageScript.header("Cache-Control") == "no-cache")

                let revalidated = try hostRequest(port, "/_strata/config.json", host: "www.example.com",
                                                  headers: ["If-None-Match": prodConfig.header("ETag")!])
                #expect(revalidated.status == 304 && revalidated.body.isEmpty)

                // A config change shows on the next request, and its rollback too; no restart.
                let changed = try configs.set(["API_URL": "https://api2.example.com"], channel: "production")
                let after = try hostRequest(port, "/_strata/config.json", host: "www.example.com",
                                            headers: ["If-None-Match": prodConfig.header("ETag")!])
                #expect(after.status == 200 && after.header("ETag") == "\"config-\(changed.to)\"")
                #expect(String(decoding: after.body, as: UTF8.self) == "{\"API_URL\":\"https://api2.example.com\"}\n")
                _ = try configs.rollback(channel: "production")
                let rolledBack = try hostRequest(port, "/_strata/config.json", host: "www.example.com")
                #expect(rolledBack.header("ETag") == prodConfig.header("ETag"))
                #expect(rolledBack.body == prodConfig.body)

                // Flipping staging moves only the staging host.
                _ = try channels.activate(served.v2, channel: "staging")
                #expect(try hostRequest(port, "/", host: "staging.example.com").header("Strata-Release") == served.v2)
                #expect(try hostRequest(port, "/", host: "www.example.com").header("Strata-Release") == served.v1)
            }
        }
    }

    @Test func aChannelWithoutConfigServesAnEmptyObject() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            try withServer(served.store) { port, _ in
                let json = try request(port, "/_strata/config.json")
                #expect(json.status == 200 && String(decoding: json.body, as: UTF8.self) == "{}\n")
                let script = try request(port, "/_strata/config.js")
                #expect(String(decoding: script.body, as: UTF8.self) == "window.STRATA_CONFIG = {};\n")
            }
        }
    }

    @Test func aHostMapWithABadEntryIsRefusedAtStart() throws {
        try withTemporaryDirectory { folder in
            let served = try ServedStore(in: folder)
            var configuration = ServerConfiguration()
            configuration.channelsByHost = ["Staging.example.com:80": "staging"]
            #expect(throws: ServerError.self) { try StrataHTTPServer(store: served.store.store, configuration: configuration) }
            configuration.channelsByHost = ["staging.example.com": "../x"]
            #expect(throws: (any Error).self) { try StrataHTTPServer(store: served.store.store, configuration: configuration) }
        }
    }
}

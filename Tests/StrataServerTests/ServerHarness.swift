import Foundation
import StrataCore
import StrataServer
import StrataTestSupport

/// A store with aurora-v1 (label v1) and aurora-v2 (label v2) published and `live` active.
struct ServedStore: Sendable {
    let store: TestStore
    let v1: String
    let v2: String

    init(in folder: String, live: String? = "v1") throws {
        store = TestStore(in: folder)
        // Every encoding, zstd too: the server must choose among all three.
        v1 = try store.publishFixture("aurora-v1", label: "v1", variants: .everyEncoding)
        v2 = try store.publishFixture("aurora-v2", label: "v2", variants: .everyEncoding)
        if let live { _ = try store.channels.activate(live == "v1" ? v1 : v2, channel: "current") }
    }
}

/// Runs `body` against a real server on 127.0.0.1 and an ephemeral port, then shuts it down.
func withServer<T>(_ store: TestStore, _ configure: (inout ServerConfiguration) -> Void = { _ in },
                   _ body: (Int, StrataHTTPServer) throws -> T) throws -> T {
    var configuration = ServerConfiguration()
    configuration.port = 0
    configuration.threads = 2
    configure(&configuration)
    let server = try StrataHTTPServer(store: store.store, configuration: configuration)
    let port = try server.start()
    defer { server.shutdown() }
    return try body(port, server)
}

func fixtureBytes(_ site: String, _ path: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: fixtures + "/" + site + "/" + path)))
}

func etag(of bytes: [UInt8]) -> String {
    "\"" + sha256Hex(bytes).prefix(32) + "\""
}

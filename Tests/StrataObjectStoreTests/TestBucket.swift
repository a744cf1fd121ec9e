import Foundation
import StrataCore
import StrataObjectStore
import StrataTestSupport

/// A fresh, empty bucket in the shared moto server, per test.
struct TestBucket {
    let name: String
    let root: String
    let store: S3Store
    let client: S3Client

    static func make(prefix: String = "site") throws -> TestBucket {
        let moto = MotoServer.shared
        let name = "strata-" + UUID().uuidString.lowercased().prefix(18)
        let settings = try S3Settings.fromEnvironment(moto.environment)
        let client = S3Client(settings: settings, bucket: name)
        let reply = try client.send(.PUT, key: nil)
        guard reply.isSuccess else { throw client.failure(reply, "create bucket \(name)") }
        let root = "s3://\(name)/\(prefix)"
        return TestBucket(name: name, root: root, store: try S3Store(root: root, environment: moto.environment), client: client)
    }

    /// Every key in the bucket, sorted.
    func keys() throws -> [String] {
        try client.allKeys()
    }
}

/// `strata` run against the shared moto server.
@discardableResult
func strataS3(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
    try strata(arguments, environment: MotoServer.shared.environment.merging(environment) { _, new in new })
}

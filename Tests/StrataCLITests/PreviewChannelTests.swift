import Foundation
import StrataTestSupport
import Testing

@Suite struct PreviewChannelTests {
    @Test func aPreviewChannelExpiresIsDeletedAndFreesItsReleasesInAFolder() throws {
        try withTemporaryDirectory { folder in
            let root = folder + "/store"
            try PreviewChannelScenario.run(root: root, strata: { try strata($0) }, snapshot: { try snapshot(root) })
        }
    }
}

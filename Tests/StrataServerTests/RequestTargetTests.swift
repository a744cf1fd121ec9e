@testable import StrataServer
import Testing

/// The request target alone: the path it names, whether it is a folder or hidden, and the
/// refusal for each form that could reach outside a release.
@Suite struct RequestTargetTests {
    /// (path, isFolder, isHidden) for a target, or the refusal's reason.
    static func parse(_ target: String) -> Result<(String, Bool, Bool), RequestTarget.Refusal> {
        var bytes = Array(target.utf8)
        return bytes.withUnsafeMutableBytes { raw in
            do throws(RequestTarget.Refusal) {
                let parsed = try RequestTarget.parse(UnsafeRawBufferPointer(raw)[...])
                let path: String
                switch parsed.path {
                case .raw(let bytes): path = String(decoding: bytes, as: UTF8.self)
                case .decoded(let bytes): path = String(decoding: bytes, as: UTF8.self)
                }
                return .success((path, parsed.isFolder, parsed.isHidden))
            } catch {
                return .failure(error)
            }
        }
    }

    @Test(arguments: [
        ("/", "", true, false), ("/a", "a", false, false), ("/a/", "a", true, false), ("/a/b.js?v=1", "a/b.js", false, false),
        ("/a/#top", "a", true, false), ("/?q", "", true, false), ("//a//b/", "a/b", true, false), ("/caf%C3%A9", "café", false, false),
        ("/a%20b", "a b", false, false), ("/.well-known/x", ".well-known/x", false, false), ("/x/.well-known", "x/.well-known", false, true),
        ("/.env", ".env", false, true), ("/a/.git/config", "a/.git/config", false, true), ("/...", "...", false, true),
        ("/a.b/c..d", "a.b/c..d", false, false), ("/%2ewell-known", ".well-known", false, false),
    ])
    func pathsAreReadAsAFolderOrAFile(_ target: String, _ path: String, _ isFolder: Bool, _ isHidden: Bool) throws {
        let (parsedPath, parsedFolder, parsedHidden) = try Self.parse(target).get()
        #expect(parsedPath == path)
        #expect(parsedFolder == isFolder)
        #expect(parsedHidden == isHidden)
    }

    @Test(arguments: [
        ("a", "the request target must be a path starting with /"), ("http://h/a", "the request target must be a path starting with /"),
        ("/a/./b", "'.' or '..' segment in the path"), ("/..", "'.' or '..' segment in the path"), ("/a/..", "'.' or '..' segment in the path"),
        ("/%2e%2E/x", "'.' or '..' segment in the path"), ("/a\\b", "backslash in the path"), ("/a%5cb", "backslash in the path"),
        ("/a%2fb", "encoded slash in the path"), ("/a%00", "control character in the path"), ("/a%0d", "control character in the path"),
        ("/a%7f", "control character in the path"), ("/%zz", "bad percent-escape in the path"), ("/%2", "bad percent-escape in the path"),
        ("/%FF", "the path is not valid UTF-8"),
    ])
    func hostileTargetsAreRefused(_ target: String, _ reason: String) {
        guard case .failure(let refusal) = Self.parse(target) else {
            Issue.record("\(target) was accepted")
            return
        }
        #expect(refusal.reason == reason)
    }
}

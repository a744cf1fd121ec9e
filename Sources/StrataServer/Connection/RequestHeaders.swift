import NIOHTTP1

/// The few request headers the server acts on, found in one pass over the head. Values are the
/// decoder's own strings (nothing copied); names are compared byte by byte, ignoring case.
struct RequestHeaders {
    var gzip = HTTPSemantics.GzipAcceptance()
    /// `If-None-Match` lines; a second line is rare enough to be worth an array only then.
    var ifNoneMatch: String?
    var moreIfNoneMatch: [String] = []
    var range: String?
    var ifRange: String?
    var host: String?
    var accept: String?
    var authorization: String?
    /// Every `Cookie` line, joined with `; ` (HTTP/2 proxies may split them); read only during a canary.
    var cookie: String?

    init(_ headers: HTTPHeaders) {
        for (name, value) in headers {
            let bytes = name.utf8
            switch bytes.count {
            case 4 where HTTPSemantics.equalIgnoringCase(bytes, "host".utf8):
                if host == nil { host = value }
            case 5 where HTTPSemantics.equalIgnoringCase(bytes, "range".utf8):
                if range == nil { range = value }
            case 6 where HTTPSemantics.equalIgnoringCase(bytes, "accept".utf8):
                if accept == nil { accept = value }
            case 6 where HTTPSemantics.equalIgnoringCase(bytes, "cookie".utf8):
                cookie = cookie.map { $0 + "; " + value } ?? value
            case 8 where HTTPSemantics.equalIgnoringCase(bytes, "if-range".utf8):
                if ifRange == nil { ifRange = value }
            case 13 where HTTPSemantics.equalIgnoringCase(bytes, "if-none-match".utf8):
                if ifNoneMatch == nil { ifNoneMatch = value } else { moreIfNoneMatch.append(value) }
            case 13 where HTTPSemantics.equalIgnoringCase(bytes, "authorization".utf8):
                if authorization == nil { authorization = value }
            case 15 where HTTPSemantics.equalIgnoringCase(bytes, "accept-encoding".utf8):
                gzip.read(value)
            default:
                break
            }
        }
    }

    /// True when `If-None-Match` names `etag` (or `*`).
    func noneMatchHits<Tag: Collection<UInt8>>(_ etag: Tag) -> Bool {
        guard let ifNoneMatch else { return false }
        if moreIfNoneMatch.isEmpty && ifNoneMatch.utf8.elementsEqual(etag) { return true }  // what browsers send back
        return HTTPSemantics.noneMatchHits(ifNoneMatch, etag: etag) || moreIfNoneMatch.contains { HTTPSemantics.noneMatchHits($0, etag: etag) }
    }
}

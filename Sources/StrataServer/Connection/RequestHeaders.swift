/// The few request headers the server acts on, as views of the head's bytes: nothing is copied
/// but for the headers only protected channels and canaries read (`Authorization`, `Cookie`).
///
/// It borrows the head's memory, so it lives only inside `RequestHead.withHeaders`.
struct RequestHeaders {
    typealias Value = Slice<UnsafeRawBufferPointer>

    private let raw: UnsafeRawBufferPointer
    private let fields: RequestFields

    init(_ raw: UnsafeRawBufferPointer, _ fields: RequestFields) {
        self.raw = raw
        self.fields = fields
    }

    var encodings: HTTPSemantics.EncodingAcceptance { fields.encodings }
    var host: Value? { fields.host.map { raw[$0] } }
    var range: Value? { fields.range.map { raw[$0] } }
    var ifRange: Value? { fields.ifRange.map { raw[$0] } }
    var accept: Value? { fields.accept.map { raw[$0] } }

    var authorization: String? { fields.authorization.map { String(decoding: raw[$0], as: UTF8.self) } }

    /// Every `Cookie` line, joined with `; ` (HTTP/2 proxies may split them); read only during a canary.
    var cookie: String? {
        guard let first = fields.cookie else { return nil }
        return ([first] + fields.moreCookies).map { String(decoding: raw[$0], as: UTF8.self) }.joined(separator: "; ")
    }

    /// True when `If-None-Match` names `etag` (or `*`).
    func noneMatchHits<Tag: Collection<UInt8>>(_ etag: Tag) -> Bool {
        guard let first = fields.ifNoneMatch else { return false }
        let value = raw[first]
        if fields.moreIfNoneMatch.isEmpty && HTTPSemantics.same(value, etag) { return true }  // what browsers send back
        return HTTPSemantics.noneMatchHits(value, etag: etag) || fields.moreIfNoneMatch.contains { HTTPSemantics.noneMatchHits(raw[$0], etag: etag) }
    }
}

extension RequestHead {
    /// Calls `body` with the head's target and headers, which borrow its bytes for that long.
    func withHeaders<Result>(_ body: (_ target: Slice<UnsafeRawBufferPointer>, RequestHeaders) -> Result) -> Result {
        bytes.withUnsafeReadableBytes { raw in body(raw[targetRange], RequestHeaders(raw, fields)) }
    }
}

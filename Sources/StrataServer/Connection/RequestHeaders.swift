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
    var host: Value? { value(fields.host) }
    var range: Value? { value(fields.range) }
    var ifRange: Value? { value(fields.ifRange) }
    var accept: Value? { value(fields.accept) }

    var authorization: String? { value(fields.authorization).map { String(decoding: $0, as: UTF8.self) } }

    /// Every `Cookie` line, joined with `; ` (HTTP/2 proxies may split them); read only during a canary.
    var cookie: String? {
        guard let first = value(fields.cookie) else { return nil }
        guard fields.cookieRepeats else { return String(decoding: first, as: UTF8.self) }
        return HeadParser.values(of: "cookie", in: raw).map { String(decoding: raw[$0.range], as: UTF8.self) }.joined(separator: "; ")
    }

    /// True when `If-None-Match` names `etag` (or `*`), on any of its lines.
    func noneMatchHits<Tag: Collection<UInt8>>(_ etag: Tag) -> Bool {
        guard let first = value(fields.ifNoneMatch) else { return false }
        guard fields.ifNoneMatchRepeats else {
            return HTTPSemantics.same(first, etag) || HTTPSemantics.noneMatchHits(first, etag: etag)  // the first: what browsers send back
        }
        return HeadParser.values(of: "if-none-match", in: raw).contains { HTTPSemantics.noneMatchHits(raw[$0.range], etag: etag) }
    }

    private func value(_ span: Span) -> Value? { span.isPresent ? raw[span.range] : nil }
}

extension RequestHead {
    /// Calls `body` with the head's target and headers, which borrow its bytes for that long.
    func withHeaders<Result>(_ body: (_ target: Slice<UnsafeRawBufferPointer>, RequestHeaders) -> Result) -> Result {
        bytes.withUnsafeReadableBytes { raw in body(raw[targetSpan.range], RequestHeaders(raw, fields)) }
    }
}

/// The parts of RFC 9110 the server needs, as pure functions over header values.
enum HTTPSemantics {
    // MARK: - Entity tags (RFC 9110 §8.8.3, §13.1.2)

    /// `If-None-Match`: true when any listed tag matches `etag` by weak comparison, or the list is `*`.
    static func noneMatchHits(_ values: [String], etag: String) -> Bool {
        let opaque = weakOpaque(etag)
        for value in values {
            for candidate in value.split(separator: ",") {
                let tag = candidate.trimmingSpaces()
                if tag == "*" || weakOpaque(tag) == opaque { return true }
            }
        }
        return false
    }

    /// `If-Range`: only a strong tag that equals `etag` exactly keeps the range (dates never do:
    /// responses carry no Last-Modified).
    static func ifRangeHolds(_ value: String, etag: String) -> Bool {
        let tag = value.trimmingSpaces()
        return !tag.hasPrefix("W/") && tag == etag
    }

    private static func weakOpaque<S: StringProtocol>(_ tag: S) -> Substring {
        let text = Substring(tag)
        return text.hasPrefix("W/") ? text.dropFirst(2) : text
    }

    // MARK: - Range (RFC 9110 §14)

    enum RangeAnswer: Equatable {
        /// No usable single range: send the whole representation with 200.
        case whole
        /// 206 with these inclusive bounds.
        case partial(first: Int64, last: Int64)
        /// 416 with `Content-Range: bytes */length`.
        case unsatisfiable
    }

    /// Interprets one `Range` header against a representation of `length` bytes. Only single
    /// `bytes` ranges are honoured; several ranges, other units and bad syntax get the whole file,
    /// as RFC 9110 allows. Numbers of any size are handled without overflow.
    static func range(_ value: String, length: Int64) -> RangeAnswer {
        let trimmed = value.trimmingSpaces()
        guard trimmed.lowercased().hasPrefix("bytes=") else { return .whole }
        let specs = trimmed.dropFirst(6).split(separator: ",", omittingEmptySubsequences: false)
        guard specs.count == 1 else { return .whole }
        let spec = specs[0].trimmingSpaces()
        guard let dash = spec.firstIndex(of: "-") else { return .whole }
        let startText = spec[..<dash]
        let endText = spec[spec.index(after: dash)...]

        if startText.isEmpty {  // suffix: the last N bytes
            guard let suffix = decimal(endText) else { return .whole }
            guard suffix > 0, length > 0 else { return .unsatisfiable }
            return .partial(first: max(0, length - suffix), last: length - 1)
        }
        guard let first = decimal(startText) else { return .whole }
        var last = Int64.max
        if !endText.isEmpty {
            guard let end = decimal(endText) else { return .whole }
            guard end >= first else { return .whole }  // invalid range-spec: ignore the header
            last = end
        }
        guard first < length else { return .unsatisfiable }
        return .partial(first: first, last: min(last, length - 1))
    }

    /// Digits only; values past Int64.max saturate (a huge range end simply means "to the end").
    private static func decimal<S: StringProtocol>(_ text: S) -> Int64? {
        guard !text.isEmpty else { return nil }
        var value: Int64 = 0
        for byte in text.utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
            if overflow1 || overflow2 { value = .max } else { value = sum }
        }
        return value
    }

    // MARK: - Content negotiation (RFC 9110 §12.5.3)

    /// True when `Accept-Encoding` accepts gzip: listed with q > 0, or covered by `*` with q > 0
    /// and not listed with q=0.
    static func acceptsGzip(_ values: [String]) -> Bool {
        var gzip: Double?
        var star: Double?
        for value in values {
            for item in value.split(separator: ",") {
                let parts = item.split(separator: ";")
                guard let name = parts.first?.trimmingSpaces().lowercased(), !name.isEmpty else { continue }
                var quality = 1.0
                for parameter in parts.dropFirst() {
                    let pair = parameter.trimmingSpaces()
                    if pair.lowercased().hasPrefix("q=") { quality = Double(pair.dropFirst(2)) ?? 0 }
                }
                if name == "gzip" || name == "x-gzip" { gzip = max(gzip ?? 0, quality) }
                if name == "*" { star = quality }
            }
        }
        if let gzip { return gzip > 0 }
        return (star ?? 0) > 0
    }

    /// True when `Accept` asks for HTML explicitly (browsers navigating do; scripts fetching assets don't).
    static func acceptsHTML(_ values: [String]) -> Bool {
        values.contains { $0.lowercased().contains("text/html") }
    }
}

extension StringProtocol {
    func trimmingSpaces() -> Substring {
        var text = Substring(self)
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        return text
    }
}

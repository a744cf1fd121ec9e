/// The parts of RFC 9110 the server needs, as pure functions over header values. They scan the
/// values' bytes in place: no arrays of parts, no lower-cased copies.
enum HTTPSemantics {
    // MARK: - Entity tags (RFC 9110 §8.8.3, §13.1.2)

    /// `If-None-Match`: true when any listed tag matches `etag` by weak comparison, or the list is `*`.
    static func noneMatchHits<Value: BidirectionalCollection<UInt8>, Tag: Collection<UInt8>>(_ value: Value, etag: Tag) -> Bool {
        let opaque = weakOpaque(etag[...])
        var hit = false
        forEachItem(value) { candidate in
            if candidate.elementsEqual([UInt8(ascii: "*")]) || weakOpaque(candidate).elementsEqual(opaque) { hit = true }
        }
        return hit
    }

    /// `If-Range`: only a strong tag that equals `etag` exactly keeps the range (dates never do:
    /// responses carry no Last-Modified).
    static func ifRangeHolds<Value: BidirectionalCollection<UInt8>, Tag: Collection<UInt8>>(_ value: Value, etag: Tag) -> Bool {
        let tag = trimmed(value[...])
        return !tag.starts(with: "W/".utf8) && tag.elementsEqual(etag)
    }

    private static func weakOpaque<Bytes: Collection<UInt8>>(_ tag: Bytes) -> Bytes.SubSequence {
        tag.starts(with: "W/".utf8) ? tag.dropFirst(2) : tag[...]
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
    static func range<Value: BidirectionalCollection<UInt8>>(_ value: Value, length: Int64) -> RangeAnswer {
        let text = trimmed(value[...])
        guard text.count >= 6, equalIgnoringCase(text.prefix(6), "bytes=".utf8) else { return .whole }
        let spec = trimmed(text.dropFirst(6))
        guard !spec.contains(UInt8(ascii: ",")), let dash = spec.firstIndex(of: UInt8(ascii: "-")) else { return .whole }
        let startText = trimmed(spec[..<dash])
        let endText = trimmed(spec[spec.index(after: dash)...])

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
    private static func decimal<Bytes: Collection<UInt8>>(_ text: Bytes) -> Int64? {
        guard !text.isEmpty else { return nil }
        var value: Int64 = 0
        for byte in text {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
            if overflow1 || overflow2 { value = .max } else { value = sum }
        }
        return value
    }

    // MARK: - Content negotiation (RFC 9110 §12.5.3)

    /// What the `Accept-Encoding` lines of a request said about gzip so far.
    struct GzipAcceptance {
        private var gzip: Bool?
        private var star: Bool?

        /// Listed with q > 0, or covered by `*` with q > 0 and not listed with q=0.
        var accepted: Bool { gzip ?? star ?? false }

        mutating func read<Value: BidirectionalCollection<UInt8>>(_ value: Value) {
            HTTPSemantics.forEachItem(value) { item in
                let nameEnd = item.firstIndex(of: UInt8(ascii: ";")) ?? item.endIndex
                let name = HTTPSemantics.trimmed(item[..<nameEnd])
                guard !name.isEmpty else { return }
                var positive = true
                var rest = item[nameEnd...]
                while !rest.isEmpty {
                    rest = rest.dropFirst()  // the ';'
                    let end = rest.firstIndex(of: UInt8(ascii: ";")) ?? rest.endIndex
                    let pair = HTTPSemantics.trimmed(rest[..<end])
                    if pair.count >= 2, HTTPSemantics.equalIgnoringCase(pair.prefix(2), "q=".utf8) {
                        positive = HTTPSemantics.isPositiveQuality(pair.dropFirst(2))
                    }
                    rest = rest[end...]
                }
                if HTTPSemantics.equalIgnoringCase(name, "gzip".utf8) || HTTPSemantics.equalIgnoringCase(name, "x-gzip".utf8) {
                    gzip = (gzip ?? false) || positive
                } else if name.elementsEqual("*".utf8) {
                    star = positive
                }
            }
        }
    }

    /// A qvalue (`0`, `0.5`, `1.000`) above zero; anything unreadable counts as zero.
    private static func isPositiveQuality<Bytes: Collection<UInt8>>(_ value: Bytes) -> Bool {
        guard !value.isEmpty, value.allSatisfy({ ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: ".") }) else {
            return false
        }
        return value.contains { $0 >= UInt8(ascii: "1") && $0 <= UInt8(ascii: "9") }
    }

    /// True when `Accept` asks for HTML explicitly (browsers navigating do; scripts fetching assets don't).
    static func acceptsHTML<Value: Collection<UInt8>>(_ value: Value?) -> Bool {
        guard var rest = value?[...] else { return false }
        let wanted = "text/html".utf8
        while rest.count >= wanted.count {
            if equalIgnoringCase(rest.prefix(wanted.count), wanted) { return true }
            rest = rest.dropFirst()
        }
        return false
    }

    // MARK: - Bytes

    /// Calls `body` with each non-empty, trimmed item of a comma-separated list.
    static func forEachItem<List: BidirectionalCollection<UInt8>>(_ list: List, _ body: (List.SubSequence) -> Void) {
        var rest = list[...]
        while !rest.isEmpty {
            let comma = rest.firstIndex(of: UInt8(ascii: ",")) ?? rest.endIndex
            let item = trimmed(rest[..<comma])
            if !item.isEmpty { body(item) }
            rest = comma == rest.endIndex ? rest[comma...] : rest[rest.index(after: comma)...]
        }
    }

    static func trimmed<Bytes: BidirectionalCollection<UInt8>>(_ bytes: Bytes) -> Bytes.SubSequence {
        var text = bytes[...]
        while let first = text.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") { text = text.dropFirst() }
        while let last = text.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { text = text.dropLast() }
        return text
    }

    /// ASCII case-insensitive equality (header names, tokens).
    static func equalIgnoringCase<A: Collection<UInt8>, B: Collection<UInt8>>(_ lhs: A, _ rhs: B) -> Bool {
        guard lhs.count == rhs.count else { return false }
        return zip(lhs, rhs).allSatisfy { $0 | 0x20 == $1 | 0x20 && (($0 | 0x20) >= UInt8(ascii: "a") && ($0 | 0x20) <= UInt8(ascii: "z") || $0 == $1) }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import StrataCore
/// The parts of RFC 9110 the server needs, as pure functions over header values. They scan the
/// values' bytes in place: no arrays of parts, no lower-cased copies.
enum HTTPSemantics {
    // MARK: - Entity tags (RFC 9110 §8.8.3, §13.1.2)

    /// `If-None-Match`: true when any listed tag matches `etag` by weak comparison, or the list is `*`.
    static func noneMatchHits<Value: BidirectionalCollection<UInt8>, Tag: Collection<UInt8>>(_ value: Value, etag: Tag) -> Bool {
        let opaque = weakOpaque(etag[...])
        var hit = false
        forEachItem(value) { candidate in
            if candidate.count == 1 && candidate.first == UInt8(ascii: "*") || same(weakOpaque(candidate), opaque) { hit = true }
        }
        return hit
    }

    /// `If-Range`: only a strong tag that equals `etag` exactly keeps the range (dates never do:
    /// responses carry no Last-Modified).
    static func ifRangeHolds<Value: BidirectionalCollection<UInt8>, Tag: Collection<UInt8>>(_ value: Value, etag: Tag) -> Bool {
        let tag = trimmed(value[...])
        return !tag.starts(with: "W/".utf8) && same(tag, etag)
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

    /// What the `Accept-Encoding` lines of a request said, as qvalues in thousandths (RFC 9110
    /// §12.5.3); nil for a coding it did not name.
    struct EncodingAcceptance {
        private var listed: (gzip: Int16?, br: Int16?, zstd: Int16?) = (nil, nil, nil)
        private var identity: Int16?
        private var star: Int16?

        /// How much the client wants `encoding`: named, else covered by `*`, else not at all (0).
        func quality(of encoding: ContentEncoding) -> Int16 {
            let named: Int16? = switch encoding {
            case .gzip: listed.gzip
            case .br: listed.br
            case .zstd: listed.zstd
            }
            return named ?? star ?? 0
        }

        /// How much the client wants the file's own bytes, when it said so (`identity`, or `*`);
        /// nil when it did not, which RFC 9110 makes acceptable, after any coding it named.
        var identityQuality: Int16? { identity ?? star }

        func accepts(_ encoding: ContentEncoding) -> Bool { quality(of: encoding) > 0 }

        /// The variant to send among those the file has (sizes by encoding): the one the client
        /// wants most, the smallest among equals; nil for the identity bytes.
        func choose(from variants: ServedFile.Variants) -> ContentEncoding? {
            var best: (encoding: ContentEncoding, quality: Int16, size: Int64)?
            for encoding in ContentEncoding.allCases {
                guard let variant = variants[encoding] else { continue }
                let quality = quality(of: encoding)
                guard quality > 0 else { continue }
                if let current = best, current.quality > quality || (current.quality == quality && current.size <= variant.size) { continue }
                best = (encoding, quality, variant.size)
            }
            guard let best else { return nil }
            // Asked for its own bytes more than any coding it accepts: send them.
            if let identity = identityQuality, identity > best.quality { return nil }
            return best.encoding
        }

        mutating func read<Value: BidirectionalCollection<UInt8>>(_ value: Value) {
            HTTPSemantics.forEachItem(value) { item in
                let nameEnd = item.firstIndex(of: UInt8(ascii: ";")) ?? item.endIndex
                let name = HTTPSemantics.trimmed(item[..<nameEnd])
                guard !name.isEmpty else { return }
                var quality: Int16 = 1000
                var rest = item[nameEnd...]
                while !rest.isEmpty {
                    rest = rest.dropFirst()  // the ';'
                    let end = rest.firstIndex(of: UInt8(ascii: ";")) ?? rest.endIndex
                    let pair = HTTPSemantics.trimmed(rest[..<end])
                    if pair.count >= 2, HTTPSemantics.equalIgnoringCase(pair.prefix(2), "q=".utf8) {
                        quality = HTTPSemantics.quality(pair.dropFirst(2))
                    }
                    rest = rest[end...]
                }
                // A coding named twice keeps its highest qvalue.
                func keep(_ slot: inout Int16?) { slot = max(slot ?? quality, quality) }
                if HTTPSemantics.equalIgnoringCase(name, "gzip".utf8) || HTTPSemantics.equalIgnoringCase(name, "x-gzip".utf8) {
                    keep(&listed.gzip)
                } else if HTTPSemantics.equalIgnoringCase(name, "br".utf8) {
                    keep(&listed.br)
                } else if HTTPSemantics.equalIgnoringCase(name, "zstd".utf8) {
                    keep(&listed.zstd)
                } else if HTTPSemantics.equalIgnoringCase(name, "identity".utf8) {
                    keep(&identity)
                } else if name.elementsEqual("*".utf8) {
                    keep(&star)
                }
            }
        }
    }

    /// A qvalue (`0`, `0.5`, `1.000`, RFC 9110 §12.4.2) in thousandths; anything unreadable is 0.
    static func quality<Bytes: Collection<UInt8>>(_ value: Bytes) -> Int16 {
        var position = 0
        var whole: UInt8 = 0
        var thousandths: Int16 = 0
        var scale: Int16 = 100
        for byte in value {
            switch position {
            case 0:
                guard byte == UInt8(ascii: "0") || byte == UInt8(ascii: "1") else { return 0 }
                whole = byte - UInt8(ascii: "0")
            case 1:
                guard byte == UInt8(ascii: ".") else { return 0 }
            case 2...4:
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return 0 }
                thousandths += Int16(byte - UInt8(ascii: "0")) * scale
                scale /= 10
            default:
                return 0
            }
            position += 1
        }
        guard position > 0 else { return 0 }
        if whole == 1 { return thousandths == 0 ? 1000 : 0 }  // 1.000 at most
        return thousandths
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

    /// Byte-for-byte equality, by `memcmp` when both sides are contiguous (they are on the request
    /// path: slices of the received bytes against prepared ETags and literals). `elementsEqual`
    /// compares an element at a time, which showed in the profile of a 304.
    static func same<A: Collection<UInt8>, B: Collection<UInt8>>(_ lhs: A, _ rhs: B) -> Bool {
        let compared = lhs.withContiguousStorageIfAvailable { left in
            rhs.withContiguousStorageIfAvailable { right in
                left.count == right.count && (left.isEmpty || memcmp(left.baseAddress!, right.baseAddress!, left.count) == 0)
            }
        }
        return (compared ?? nil) ?? lhs.elementsEqual(rhs)
    }

    /// ASCII case-insensitive equality (header names, tokens).
    static func equalIgnoringCase<A: Collection<UInt8>, B: Collection<UInt8>>(_ lhs: A, _ rhs: B) -> Bool {
        guard lhs.count == rhs.count else { return false }
        return zip(lhs, rhs).allSatisfy { $0 | 0x20 == $1 | 0x20 && (($0 | 0x20) >= UInt8(ascii: "a") && ($0 | 0x20) <= UInt8(ascii: "z") || $0 == $1) }
    }
}

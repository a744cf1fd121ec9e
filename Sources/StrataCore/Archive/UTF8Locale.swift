#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Switches the calling thread to a UTF-8 C locale while it exists.
///
/// libarchive converts names between the archive's charset and the locale's. With a UTF-8 locale,
/// UTF-8 names pass through unchanged, raw byte names stay raw, and exports come out the same on
/// every machine whatever its `LANG`.
final class UTF8Locale {
    private let locale: locale_t?
    private let previous: locale_t?

    init() {
        locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", nil)
        previous = locale.map { uselocale($0) } ?? nil
    }

    deinit {
        if let previous { uselocale(previous) }
        if let locale { freelocale(locale) }
    }
}

@available(*, unavailable)
extension UTF8Locale: Sendable {}

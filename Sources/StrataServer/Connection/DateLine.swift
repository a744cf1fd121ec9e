import Foundation
import NIOCore

/// The `Date: …\r\n` line of one event loop's responses (IMF-fixdate), formatted again only when
/// the second changes. Each loop has its own: reading the clock costs nothing, a lock would.
final class DateLine {
    private var second = -1
    private var line: [UInt8] = []

    func write(into out: inout HeadWriter) {
        let now = time(nil)
        if now != second {
            second = now
            line = Array("Date: \(HTTPDate.format(now))\r\n".utf8)
        }
        out.write(line)
    }
}

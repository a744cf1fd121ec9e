import NIOCore
import NIOHTTP1
import StrataCore

/// `/_strata/rollout.js` and `/_strata/beacon`: the errors browsers meet, counted per release for a
/// rollout's health check. A report is `release=<id>&errors=<n>` (what the script's
/// `URLSearchParams` sends); it is counted, never stored. One per event loop: nothing is shared.
///
/// Anyone can post a report, so the worst one can do is make a rollout stop early (the safe
/// side): reports are capped in size (`maxBody`, else 413), in rate (`reportsPerSecond` a loop,
/// else 429) and in weight (`maxErrorsPerReport`), and count only for a release the channel serves.
final class BeaconCounter {
    static let path = "/_strata/beacon"
    static let maxBody = 1024
    static let reportsPerSecond = 200
    static let maxErrorsPerReport = 20

    private let metrics: LoopMetrics?
    private var second: UInt64 = 0
    private var reportsThisSecond = 0

    init(metrics: LoopMetrics? = nil) {
        self.metrics = metrics
    }

    /// `POST /_strata/beacon` (a query is allowed): the one request whose body is read.
    static func isReport(_ head: RequestHead) -> Bool {
        head.method == .post && head.targetIs(path)
    }

    enum Outcome: Int, CaseIterable {
        case counted, ignored, limited, rejected
        var label: String { ["counted", "ignored", "limited", "rejected"][rawValue] }
    }

    /// The answer to one report; `body` is nil when it was over `maxBody`.
    func receive(_ body: ByteBuffer?, live: PointerValue?, channel: Int) -> GeneratedResponse {
        guard let body else {
            metrics?.beacon(.rejected)
            return .text(.payloadTooLarge, "a beacon report is at most \(Self.maxBody) bytes\n")
        }
        let now = NIODeadline.now().uptimeNanoseconds / 1_000_000_000
        if now != second { (second, reportsThisSecond) = (now, 0) }
        reportsThisSecond += 1
        guard reportsThisSecond <= Self.reportsPerSecond else {
            metrics?.beacon(.limited)
            var reply = GeneratedResponse.text(.tooManyRequests, "too many reports\n")
            reply.headers.append(("Retry-After", "1"))
            return reply
        }
        guard let report = Self.parse(body) else {
            metrics?.beacon(.rejected)
            return .text(.badRequest, "a beacon report is release=<id>&errors=<count>\n")
        }
        if let live, live.releases.contains(report.release) {
            metrics?.beacon(.counted, errors: min(report.errors, Self.maxErrorsPerReport), release: report.release, channel: channel)
        } else {
            metrics?.beacon(.ignored)
        }
        return GeneratedResponse(status: .noContent, headers: [("Cache-Control", "no-store")], body: ByteBuffer(), release: nil)
    }

    struct Report: Equatable {
        let release: String
        let errors: Int
    }

    /// `release=<16 hex>&errors=<1…>` in any order; unknown fields are ignored.
    static func parse(_ body: ByteBuffer) -> Report? {
        let text = String(buffer: body)
        var release: String?
        var errors: Int?
        for field in text.split(separator: "&") {
            let parts = field.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { continue }
            switch parts[0] {
            case "release": release = String(parts[1])
            case "errors": errors = Int(parts[1])
            default: continue
            }
        }
        guard let release, Fingerprint.isReleaseID(release), let errors, errors >= 1 else { return nil }
        return Report(release: release, errors: errors)
    }

    /// The script a site includes (`<script src="/_strata/rollout.js" defer></script>`), naming
    /// the release the visitor got. It reports failed script and stylesheet loads, uncaught errors
    /// and unhandled rejections, batched once a second and when the page is hidden.
    static func script(release: String, headers: RequestHeaders) -> GeneratedResponse {
        let etag = "\"rollout-\(release)-1\""
        let fields = [("Content-Type", "text/javascript; charset=utf-8"), ("ETag", etag), ("Cache-Control", "no-cache"),
                      ("X-Content-Type-Options", "nosniff"), ("Strata-Release", release)]
        if headers.noneMatchHits(etag.utf8) {
            return GeneratedResponse(status: .notModified, headers: Array(fields.dropFirst()), body: ByteBuffer(), release: release)
        }
        return GeneratedResponse(status: .ok, headers: fields, body: ByteBuffer(string: scriptText(release: release)), release: release)
    }

    static func scriptText(release: String) -> String {
        """
        // Strata rollout reporter: counts this page's errors for the release that served it.
        (function () {
          var release = "\(release)", pending = 0, sent = 0, timer = null;
          function flush() {
            timer = null;
            if (pending === 0 || sent >= 30) return;
            var body = new URLSearchParams({ release: release, errors: String(pending) });
            pending = 0;
            sent += 1;
            if (!(navigator.sendBeacon && navigator.sendBeacon("\(path)", body))) {
              fetch("\(path)", { method: "POST", body: body, keepalive: true, credentials: "same-origin" }).catch(function () {});
            }
          }
          function report() {
            pending += 1;
            if (timer === null) timer = setTimeout(flush, 1000);
          }
          window.addEventListener("error", function (event) {
            var target = event.target;
            if (target && target !== window) {
              var failedScript = target.tagName === "SCRIPT";
              var failedStyle = target.tagName === "LINK" && /(^|\\s)stylesheet(\\s|$)/i.test(target.rel || "");
              if (failedScript || failedStyle) report();
            } else {
              report();
            }
          }, true);
          window.addEventListener("unhandledrejection", report);
          document.addEventListener("visibilitychange", function () {
            if (document.visibilityState === "hidden") flush();
          });
        })();

        """
    }
}

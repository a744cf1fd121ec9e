/// How a request for a folder's page is written.
public enum TrailingSlash: String, Sendable, CaseIterable {
    /// `/docs` → 301 `/docs/` (the default; relative links in the page then work).
    case add
    /// `/docs/` → 301 `/docs`; `/docs` serves `docs/index.html`.
    case remove
    /// Both serve the page; no redirect.
    case off
}

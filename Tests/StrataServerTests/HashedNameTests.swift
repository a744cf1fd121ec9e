@testable import StrataServer
import Testing

/// Names real build tools emit, and names that only look like them.
@Suite struct HashedNameTests {
    static let hashed = [
        // webpack, Create React App, Docusaurus
        "static/js/main.8e3a1c2f.js", "static/js/2.4f9d3b1a.chunk.js", "static/js/main.8e3a1c2f.chunk.js",
        "static/css/main.5f361e03.css", "assets/js/runtime~main.a8b3c1d2.js", "assets/js/17896441.a1b2c3d4.js",
        "main.3f9a12c4e5b6a7d8c9e0.js",
        // Vite / Rollup: 8 characters of base64url, letters only too
        "assets/index-BkT3a9xQ.js", "assets/vendor-DiwrgTda.js", "assets/index-CsRcHwAm.css", "assets/index-Cq-8bTzK.css",
        "assets/logo-B_Vxkq3m.svg",
        // esbuild: upper-case base32
        "chunk-5FJK2L7Q.js", "index-WQCHZVAT.css",
        // Angular: 16 hex
        "main.8a2b4c6d8e0f1a3b.js", "polyfills.1a2b3c4d5e6f7a8b.js", "styles.ef46db3751d8e999.css",
        // MkDocs Material, Hugo, Rails
        "assets/javascripts/bundle.a5f9d56c.min.js", "assets/stylesheets/main.6f8fc17f.min.css",
        "css/main.min.4b7c2d1e9f3a5b6c8d0e2f4a6b8c0d1e3f5a7b9c1d3e5f7a9b1c3d5e7f9a1b3c.css",
        "assets/application-4b7c2d1e9f3a5b6c8d0e2f4a6b8c0d1e3f5a7b9c1d3e5f7a9b1c3d5e7f9a1b3c.js",
        // Parcel
        "index.1a2b3c4d.js", "logo.b56bc6af.svg",
        // maps and licences beside hashed files
        "static/js/main.8e3a1c2f.js.map", "assets/index-BkT3a9xQ.css.map", "static/js/main.8e3a1c2f.js.LICENSE.txt",
        // frameworks whose build folders are immutable
        "_next/static/chunks/pages/index.js", "_next/static/css/app.css", "_app/immutable/entry/start.js",
    ]

    static let plain = [
        "jquery-3.7.1.min.js", "bootstrap.bundle.min.js", "v2-release-notes.html", "2024-report.pdf",
        "react.production.min.js", "font-awesome-4.7.0.css", "index.html", "app.js", "favicon.ico",
        "backup-20240101.zip", "Company-Overview.pdf", "docs/getting-started.html", "main.js.map",
        "assets/index-BkT3a9xQ.html", "photo-homepage.jpg", "IMG_20240101_123456.jpg", "_next/data/build/index.json",
    ]

    @Test(arguments: hashed) func buildToolNamesAreHashed(_ path: String) {
        #expect(HashedName.matches(path.utf8[...]))
    }

    @Test(arguments: plain) func otherNamesAreNot(_ path: String) {
        #expect(!HashedName.matches(path.utf8[...]))
    }
}

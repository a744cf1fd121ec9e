import Foundation
import StrataCore
import StrataTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The example configs of docs/operations.md (contrib/nginx/strata.conf, contrib/caddy/Caddyfile),
/// run as shipped — only ports and certificate paths changed — in front of a real `strata serve`:
/// TLS and HTTP/2 at the proxy, the release and its headers through it, metrics kept private,
/// flips seen at once.
@Suite(.serialized) struct ProxyConfigTests {
    static let contrib = URL(fileURLWithPath: fixtures).deletingLastPathComponent().appendingPathComponent("contrib").path

    /// `text` with each placeholder replaced; a placeholder the file no longer has fails the test.
    static func substitute(_ text: String, _ replacements: [(String, String)]) throws -> String {
        var result = text
        for (placeholder, value) in replacements {
            try #require(result.contains(placeholder), "the example config no longer has '\(placeholder)'")
            result = result.replacingOccurrences(of: placeholder, with: value)
        }
        return result
    }

    /// A self-signed certificate for www.example.com.
    static func certificate(in folder: String) throws -> (certificate: String, key: String) {
        let (certificate, key) = (folder + "/cert.pem", folder + "/key.pem")
        let made = try run("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=www.example.com",
                                                 "-addext", "subjectAltName=DNS:www.example.com", "-keyout", key, "-out", certificate])
        try #require(made.status == 0, "\(made.stderr)")
        return (certificate, key)
    }

    /// A port nothing listens on now.
    static func freePort() throws -> Int {
        let (probe, port) = try #require(loopbackSocket(listening: false))
        close(probe)
        return port
    }

    struct Fetched {
        let status: Int
        let httpVersion: String
        let headers: String
        func header(_ name: String) -> String? {
            headers.split(separator: "\r\n").first { $0.lowercased().hasPrefix(name.lowercased() + ":") }
                .map { String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces) }
        }
    }

    /// GET through the proxy as a browser would reach www.example.com, with HTTP/2 offered.
    static func fetch(_ scheme: String, port: Int, _ path: String) throws -> Fetched {
        let result = try run("/usr/bin/curl", ["-sk", "--http2", "--max-time", "5", "-o", "/dev/null", "-D", "-", "-w", "\n%{http_code} %{http_version}",
                                                "--resolve", "www.example.com:\(port):127.0.0.1", "\(scheme)://www.example.com:\(port)\(path)"])
        let last = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let parts = last.split(separator: " ")
        return Fetched(status: parts.first.flatMap { Int($0) } ?? 0, httpVersion: parts.count > 1 ? String(parts[1]) : "",
                       headers: result.stdout)
    }

    /// Starts `arguments` and waits until `port` answers HTTPS; the process is stopped by `body`'s end.
    static func withProxy(_ arguments: [String], environment: [String: String] = [:], port: Int, _ body: () throws -> Void) throws {
        let process = try ChildProcess(arguments[0], Array(arguments.dropFirst()),
                                       environment: ProcessInfo.processInfo.environment.merging(environment) { _, new in new },
                                       standardOutput: .pipe, standardError: .output)
        defer {
            process.signal(SIGTERM)
            process.waitUntilExit()
        }
        let deadline = Date().addingTimeInterval(15)
        while try fetch("https", port: port, "/robots.txt").status == 0 && Date() < deadline && process.isRunning { usleep(100_000) }
        try #require(process.isRunning, "\(arguments[0]) did not start: \(String(decoding: process.standardOutput!.availableData, as: UTF8.self))")
        try body()
    }

    /// What both proxies must do in front of a store with v1 live and v2 published.
    static func expectProxying(port: Int, root: String, v1: String, v2: String) throws {
        let page = try fetch("https", port: port, "/robots.txt")
        #expect(page.status == 200 && page.httpVersion == "2", "\(page.headers)")
        #expect(page.header("strata-release") == v1)
        #expect(page.header("x-content-type-options") == "nosniff")
        #expect(try fetch("https", port: port, "/_strata/metrics").status == 404)
        #expect(try fetch("https", port: port, "/_v/\(v2)/robots.txt").header("strata-release") == v2)
        #expect(try strata(["activate", v2, "--root", root]).status == 0)
        #expect(try fetch("https", port: port, "/robots.txt").header("strata-release") == v2)
    }

    static func store(_ folder: String) throws -> (root: String, v1: String, v2: String) {
        let root = folder + "/store"
        let v1 = try strata(["publish", fixtures + "/aurora-v1", "--root", root, "--activate"]).stdout.trimmingCharacters(in: .newlines)
        let v2 = try strata(["publish", fixtures + "/aurora-v2", "--root", root]).stdout.trimmingCharacters(in: .newlines)
        return (root, v1, v2)
    }

    /// The cache configs docs/operations.md shows are the files `make e2e` runs (preview_cdn_e2e.py).
    @Test func theCacheConfigsInTheDocsAreTheTestedFiles() throws {
        let docs = try String(contentsOfFile: Self.contrib + "/../docs/operations.md", encoding: .utf8)
        for file in ["varnish/strata.vcl", "varnish/strata-xkey.vcl", "nginx/strata-cache.conf"] {
            let text = try String(contentsOfFile: Self.contrib + "/" + file, encoding: .utf8)
            #expect(docs.contains("\n" + text + "```"), "docs/operations.md no longer shows contrib/\(file) as it is")
        }
    }

    @Test func nginxServesStrataOverTLSAndHTTP2() throws {
        try withTemporaryDirectory { folder in
            let (root, v1, v2) = try Self.store(folder)
            let server = try ServeProcess(["--root", root])
            let (certificate, key) = try Self.certificate(in: folder)
            let (https, http) = (try Self.freePort(), try Self.freePort())
            let site = try Self.substitute(try String(contentsOfFile: Self.contrib + "/nginx/strata.conf", encoding: .utf8), [
                ("server 127.0.0.1:8080;", "server 127.0.0.1:\(server.port);"),
                ("listen 443 ssl http2;", "listen 127.0.0.1:\(https) ssl http2;"),
                ("listen 80;", "listen 127.0.0.1:\(http);"),
                ("/etc/ssl/certs/www.example.com.pem", certificate),
                ("/etc/ssl/private/www.example.com.key", key),
            ])
            try site.write(toFile: folder + "/strata.conf", atomically: true, encoding: .utf8)
            // The rest of an nginx.conf, as a distribution's would have it, kept inside the folder.
            try """
                daemon off;
                pid \(folder)/nginx.pid;
                error_log \(folder)/nginx-error.log;
                events {}
                http {
                    access_log off;
                    client_body_temp_path \(folder)/body;
                    proxy_temp_path \(folder)/proxy;
                    fastcgi_temp_path \(folder)/fastcgi;
                    uwsgi_temp_path \(folder)/uwsgi;
                    scgi_temp_path \(folder)/scgi;
                    include \(folder)/strata.conf;
                }
                """.write(toFile: folder + "/nginx.conf", atomically: true, encoding: .utf8)
            let checked = try run("/usr/sbin/nginx", ["-t", "-c", folder + "/nginx.conf"])
            #expect(checked.status == 0, "\(checked.stderr)")

            try Self.withProxy(["/usr/sbin/nginx", "-c", folder + "/nginx.conf"], port: https) {
                try Self.expectProxying(port: https, root: root, v1: v1, v2: v2)
                let plain = try Self.fetch("http", port: http, "/robots.txt")
                #expect(plain.status == 301 && plain.header("location") == "https://www.example.com/robots.txt")
            }
            #expect(server.stop() == 0)
        }
    }

    @Test func caddyServesStrataOverTLSAndHTTP2() throws {
        try withTemporaryDirectory { folder in
            let (root, v1, v2) = try Self.store(folder)
            let server = try ServeProcess(["--root", root])
            let (certificate, key) = try Self.certificate(in: folder)
            let https = try Self.freePort()
            let site = try Self.substitute(try String(contentsOfFile: Self.contrib + "/caddy/Caddyfile", encoding: .utf8), [
                ("www.example.com {", "https://www.example.com:\(https) {"),
                ("reverse_proxy 127.0.0.1:8080", "reverse_proxy 127.0.0.1:\(server.port)"),
                ("/etc/ssl/certs/www.example.com.pem", certificate),
                ("/etc/ssl/private/www.example.com.key", key),
            ])
            // Global options a test needs: no admin endpoint, no port-80 redirect listener.
            try ("{\n\tadmin off\n\tauto_https disable_redirects\n}\n\n" + site).write(toFile: folder + "/Caddyfile", atomically: true, encoding: .utf8)
            let checked = try run("/usr/bin/caddy", ["validate", "--config", folder + "/Caddyfile", "--adapter", "caddyfile"])
            #expect(checked.status == 0, "\(checked.stderr)")

            let home = ["HOME": folder, "XDG_DATA_HOME": folder + "/data", "XDG_CONFIG_HOME": folder + "/config"]
            try Self.withProxy(["/usr/bin/caddy", "run", "--config", folder + "/Caddyfile", "--adapter", "caddyfile"], environment: home, port: https) {
                try Self.expectProxying(port: https, root: root, v1: v1, v2: v2)
            }
            #expect(server.stop() == 0)
        }
    }
}

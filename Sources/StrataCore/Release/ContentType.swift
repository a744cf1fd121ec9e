/// Media types by file extension, for the manifest (and so for the server's `Content-Type`).
public enum ContentType {
    public static let fallback = "application/octet-stream"

    public static func forPath(_ path: String) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return fallback }
        let ext = name[name.index(after: dot)...].lowercased()
        return byExtension[ext] ?? fallback
    }

    /// True for types whose bytes are text, to which the server adds `charset=utf-8`.
    public static func isText(_ type: String) -> Bool {
        type.hasPrefix("text/") || textApplicationTypes.contains(type)
    }

    /// True for types worth a precompressed variant: text, and binary formats that are not
    /// compressed already (WebAssembly, icons, uncompressed fonts).
    public static func isCompressible(_ type: String) -> Bool {
        isText(type) || compressibleBinaryTypes.contains(type)
    }

    static let compressibleBinaryTypes: Set<String> = [
        "application/wasm", "image/x-icon", "image/bmp", "font/ttf", "font/otf", "application/vnd.ms-fontobject",
    ]

    static let textApplicationTypes: Set<String> = [
        "application/javascript", "application/json", "application/manifest+json", "application/xml",
        "application/rss+xml", "application/atom+xml", "image/svg+xml", "application/ld+json",
    ]

    static let byExtension: [String: String] = [
        "html": "text/html", "htm": "text/html",
        "css": "text/css",
        "js": "text/javascript", "mjs": "text/javascript", "cjs": "text/javascript",
        "json": "application/json", "map": "application/json",
        "webmanifest": "application/manifest+json",
        "jsonld": "application/ld+json",
        "xml": "application/xml", "rss": "application/rss+xml", "atom": "application/atom+xml",
        "txt": "text/plain", "md": "text/markdown", "csv": "text/csv",
        "svg": "image/svg+xml",
        "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
        "webp": "image/webp", "avif": "image/avif", "ico": "image/x-icon", "bmp": "image/bmp",
        "woff": "font/woff", "woff2": "font/woff2", "ttf": "font/ttf", "otf": "font/otf",
        "eot": "application/vnd.ms-fontobject",
        "wasm": "application/wasm",
        "pdf": "application/pdf", "zip": "application/zip", "gz": "application/gzip",
        "mp4": "video/mp4", "webm": "video/webm", "mp3": "audio/mpeg", "ogg": "audio/ogg",
        "wav": "audio/wav",
    ]
}

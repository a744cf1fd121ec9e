// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "strata",
    // Linux is the platform Strata is built and tested on. On Apple platforms it needs macOS 15:
    // Synchronization's Mutex and Atomic (used by the server and the parallel hashing) start there.
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "strata", targets: ["strata"]),
        .library(name: "StrataCore", targets: ["StrataCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.24.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.24.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
    ],
    targets: [
        // C libraries, wrapped by module maps only; the Swift code that uses them lives in StrataCore.
        .systemLibrary(
            name: "CArchive",
            pkgConfig: "libarchive",
            providers: [.apt(["libarchive-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // What Swift's Glibc module leaves out: syncfs(2), so a publish makes its files durable at once;
        // posix_spawn's closefrom and pipe2 for the tests; atomics on a mapped file (the flip counter).
        .systemLibrary(name: "CLinux"),
        // The precompressed variants: gzip made whole-file by libdeflate, brotli and zstd.
        .systemLibrary(
            name: "CDeflate",
            pkgConfig: "libdeflate",
            providers: [.apt(["libdeflate-dev"])]
        ),
        .systemLibrary(
            name: "CBrotli",
            pkgConfig: "libbrotlienc",
            providers: [.apt(["libbrotli-dev"])]
        ),
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        // The store: releases, pointers, history, locking. No networking.
        .target(
            name: "StrataCore",
            dependencies: [
                "CArchive",
                "CZlib",
                "CDeflate",
                "CBrotli",
                "CZstd",
                "CLinux",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // `--root s3://…`: the store in S3-compatible object storage (an S3 client on async-http-client
        // with its own SigV4 signer), and the serve node that mirrors it into a local cache.
        .target(
            name: "StrataObjectStore",
            dependencies: [
                "StrataCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // `strata serve`: the HTTP server, on epoll loops of its own (CLinux) that are SwiftNIO event
        // loops too, so NIO's futures and buffers work on them. Reads the store, never writes it. Its only
        // client requests are the purges it sends CDNs on a flip (async-http-client, for TLS).
        .target(
            name: "StrataServer",
            dependencies: [
                "StrataCore",
                "CLinux",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            // Release builds skip the run-time exclusivity checks: on the request path they were 3%
            // of the server's CPU (a thread-local access set per mutation of a class's field), and
            // 1 KiB requests/s rose 8% without them (docs/benchmarks.md). Debug builds, which every
            // test runs, keep them. (An unsafe flag: fine for an application's own target.)
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
        ),
        // The command line: parses arguments, calls StrataCore, prints.
        .executableTarget(
            name: "strata",
            dependencies: [
                "StrataCore",
                "StrataServer",
                "StrataObjectStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // Helpers both test targets use: temporary folders, fixtures, store snapshots, subprocesses.
        .target(
            name: "StrataTestSupport",
            dependencies: ["StrataCore", "CLinux", .product(name: "Crypto", package: "swift-crypto")],
            path: "Tests/StrataTestSupport",
            exclude: [
                "moto-user.py",  // creates moto's S3 user; the object-store benchmark runs it too
                "purge-recorder.py",  // a purge endpoint that writes down what it was sent
            ]
        ),
        .testTarget(
            name: "StrataCoreTests",
            dependencies: ["StrataCore", "StrataTestSupport", .product(name: "SystemPackage", package: "swift-system")]
        ),
        // The S3 client and store against a real S3 protocol server (moto_server, started per suite).
        .testTarget(
            name: "StrataObjectStoreTests",
            dependencies: ["StrataObjectStore", "StrataCore", "StrataTestSupport", "strata",
                           .product(name: "SystemPackage", package: "swift-system")],
            exclude: [
                "sigv4-vectors.py",  // prints botocore's signatures that SignatureV4Tests compare with
                "fault-proxy.py",  // answers 409, which moto never does
            ]
        ),
        // A real server on 127.0.0.1, spoken to over raw sockets (malformed requests included).
        .testTarget(
            name: "StrataServerTests",
            dependencies: ["StrataServer", "StrataCore", "StrataTestSupport",
                           .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio")]
        ),
        // Black-box tests that run the built `strata` binary as a subprocess.
        .testTarget(
            name: "StrataCLITests",
            dependencies: ["StrataCore", "StrataTestSupport", "strata"]
        ),
    ],
    swiftLanguageModes: [.v6]
)

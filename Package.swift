// swift-tools-version:6.0
import PackageDescription

// WarrantGate runs on Linux only: the store calls Glibc directly (fdatasync, fstatfs, /proc) and the deployment is a
// Debian server. Every target builds in the Swift 6 language mode with the same settings.
let settings: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]

let package = Package(
    name: "WarrantGate",
    products: [
        .executable(name: "warrant-gate", targets: ["warrant-gate"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // Pure domain: identity, paths, classification, policy, warrants, redaction. No networking, no SQL.
        .target(
            name: "WarrantGateCore",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ]
        ),
        // SQLite: the append-only decision log and the document registry.
        .target(
            name: "WarrantGateStore",
            dependencies: [
                "WarrantGateCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Development PKI: CA, server and agency certificates made with swift-certificates.
        .target(
            name: "WarrantGateDevPKI",
            dependencies: [
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        // The gateway: the NIO data plane (mutual TLS, the request pipeline, the upstream pools, which the fact lookup
        // uses too) and the admin listener (Hummingbird).
        .target(
            name: "WarrantGateServer",
            dependencies: [
                "WarrantGateCore",
                "WarrantGateStore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ]
        ),
        // The simulated jail systems that the demo and the tests put behind the gateway; never deployed.
        .target(
            name: "WarrantGateDemo",
            dependencies: [
                "WarrantGateCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // fgetxattr and getxattr, which Swift's Glibc module lacks: the CLI reads POSIX access control lists.
        .target(name: "CExtendedAttributes"),
        // prctl, which Swift cannot import (variadic): every warrant-gate process makes itself not dumpable.
        .target(name: "CProcessControl"),
        .executableTarget(
            name: "warrant-gate",
            dependencies: [
                "CExtendedAttributes",
                "CProcessControl",
                "WarrantGateCore",
                "WarrantGateStore",
                "WarrantGateServer",
                "WarrantGateDemo",
                "WarrantGateDevPKI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Fuzz targets: a libFuzzer driver when built by scripts/fuzz, a corpus replayer otherwise.
        .executableTarget(name: "warrant-gate-fuzz", dependencies: ["WarrantGateCore"]),
        // Micro-benchmarks that print figures: swift run -c release warrant-gate-bench
        .executableTarget(
            name: "warrant-gate-bench",
            dependencies: [
                "WarrantGateCore", "WarrantGateStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/WarrantGateBenchmarks"
        ),
        // The framework floor for scripts/bench-vs-nginx: the gateway's own listener and upstream pools passing
        // requests through, deciding and logging nothing.
        .executableTarget(name: "warrant-gate-floor", dependencies: ["WarrantGateServer"], path: "Benchmarks/FrameworkFloor"),
        .testTarget(name: "WarrantGateCoreTests", dependencies: ["WarrantGateCore", "WarrantGateDevPKI", "WarrantGateTestSupport"], exclude: ["Fixtures"]),
        // What several test targets share: throwaway PostgreSQL and rsyslog servers, a systemd notify socket, signed
        // test PDFs, and blocking work off the cooperative pool.
        .target(
            name: "WarrantGateTestSupport",
            dependencies: [
                "WarrantGateStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Tests/WarrantGateTestSupport"
        ),
        .testTarget(
            name: "WarrantGateStoreTests",
            dependencies: [
                "WarrantGateStore",
                "WarrantGateTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "WarrantGateServerTests",
            dependencies: [
                "WarrantGateServer",
                "WarrantGateDemo",
                "WarrantGateDevPKI",
                "WarrantGateTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .testTarget(name: "WarrantGateCLITests", dependencies: ["WarrantGateDevPKI", "WarrantGateStore", "WarrantGateTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)

for target in package.targets {
    target.swiftSettings = (target.swiftSettings ?? []) + settings
}

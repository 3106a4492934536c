// swift-tools-version: 6.1
// A libFuzzer harness for Cohort's gossip decoders. The library sources are symlinks into the main
// package's Sources/, so this package fuzzes exactly the code the product ships. See ../README.md.
import PackageDescription

let nio = Target.Dependency.product(name: "NIOCore", package: "swift-nio")

let package = Package(
    name: "GossipPacketFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
    ],
    targets: [
        .target(name: "CohortCore"),
        .target(name: "Wire", dependencies: ["CohortCore", nio]),
        .target(name: "GossipCore", dependencies: ["CohortCore"]),
        .target(
            name: "Gossip",
            dependencies: [
                "CohortCore", "GossipCore", "Wire", nio,
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            // The service shell is not fuzzed here; leaving it out spares its NIO, lifecycle and metrics
            // dependencies.
            exclude: ["Service"]
        ),
        // main.swift starts libFuzzer's driver; build with -sanitize=fuzzer (see ../README.md).
        .executableTarget(name: "GossipPacketFuzz", dependencies: ["Gossip", "Wire", nio]),
    ]
)

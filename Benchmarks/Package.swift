// swift-tools-version: 6.1
import PackageDescription

// Run with: cd Benchmarks && swift package benchmark
let package = Package(
    name: "CohortBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "cohort", path: ".."),
        .package(url: "https://github.com/ordo-one/package-benchmark.git", from: "1.38.0", traits: ["MallocInterposer"]),
        // Already in the graph through the main package; MeshBenchmarks builds a Logger for MeshService.
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        // Already in the graph too; GroupBenchNode runs its node's services in a ServiceGroup.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        .executableTarget(
            name: "FoundationBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "Cohort", package: "cohort"),
                .product(name: "CohortGossipWire", package: "cohort"),
            ],
            path: "Benchmarks/FoundationBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        // Two in-process MeshService nodes over real loopback TCP: relay throughput, request/reply latency,
        // memory per connection. A plain executable (not package-benchmark) because it measures asynchronous
        // delivery between nodes and RSS, which do not fit per-iteration closures. Run in release:
        // swift build -c release --product MeshBenchmarks && .build/release/MeshBenchmarks
        .executableTarget(
            name: "MeshBenchmarks",
            dependencies: [
                .product(name: "CohortMesh", package: "cohort"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/MeshBenchmarks"
        ),
        // Three in-process RaftService + MeshService nodes over loopback TCP with FileRaftStorage (fsync on):
        // proposal latency and throughput, and leader failover time. Compared with etcd by
        // scripts/raft_vs_etcd.py. Run in release:
        // swift build -c release --product RaftBenchmarks --scratch-path .build-release-raft
        .executableTarget(
            name: "RaftBenchmarks",
            dependencies: [
                .product(name: "CohortRaft", package: "cohort"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/RaftBenchmarks"
        ),
        // One Cohort node embedded in a Swift server, its process groups driven from stdin: the Cohort half of
        // scripts/pg_vs_otp.py (five of them on loopback, beside five OTP 25 nodes). Run in release:
        // swift build -c release --product GroupBenchNode --scratch-path .build-release-pg
        .executableTarget(
            name: "GroupBenchNode",
            dependencies: [
                .product(name: "Cohort", package: "cohort"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Benchmarks/GroupBenchNode"
        ),
    ]
)

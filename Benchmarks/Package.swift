// swift-tools-version: 6.1
import PackageDescription

// Run with: cd Benchmarks && swift package benchmark
let package = Package(
    name: "CohortBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "cohort", path: ".."),
        .package(url: "https://github.com/ordo-one/package-benchmark.git", from: "1.38.0", traits: ["MallocInterposer"]),
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
    ]
)

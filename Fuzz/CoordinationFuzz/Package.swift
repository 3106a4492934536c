// swift-tools-version: 6.1
// A libFuzzer harness for Cohort's coordination decoders (commands, results, snapshots, replica queries
// and answers) and the state planes' messages. The library sources are symlinks into the main package's Sources/, so this package fuzzes
// exactly the code the product ships. See ../README.md.
import PackageDescription

let package = Package(
    name: "CoordinationFuzz",
    platforms: [.macOS(.v15)],
    targets: [
        .target(name: "CohortCore"),
        .target(name: "CoordinationCore", dependencies: ["CohortCore"]),
        .target(name: "PlaneCore", dependencies: ["CohortCore", "CoordinationCore"]),
        // main.swift starts libFuzzer's driver; build with -sanitize=fuzzer (see ../README.md).
        .executableTarget(name: "CoordinationFuzz", dependencies: ["CoordinationCore", "PlaneCore"]),
    ]
)

// swift-tools-version: 6.1
import PackageDescription

/// Every target is built in the Swift 6 language mode with complete strict concurrency checking.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

/// The static Swift runtime's link arguments export every symbol of the executable (`-export-dynamic`): on
/// Linux that is a 34 000-entry dynamic symbol table (3.9 MiB on disk, about 1.6 MiB of it resident in every
/// daemon, where the dynamic linker's lookups touch it). Nothing resolves the executables' symbols at run time,
/// so they keep them to themselves (Benchmarks/results/memory.md).
///
/// Release builds link with lld and pack their relative relocations (`-z pack-relative-relocs`, `DT_RELR`): the
/// 81,000 relocations a position-independent `cohortd` needs at start fill 1.9 MiB as `RELA` entries (read, and
/// resident, in every daemon), a few KiB as `RELR`. It needs glibc 2.36 (Debian 12) at run time. Debug builds
/// keep the toolchain's default linker.
let leanExecutable: [LinkerSetting] = [
    .unsafeFlags(["-Xlinker", "--no-export-dynamic"], .when(platforms: [.linux])),
    .unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"], .when(platforms: [.linux], configuration: .release)),
]

let nio = Target.Dependency.product(name: "NIOCore", package: "swift-nio")
let nioPosix = Target.Dependency.product(name: "NIOPosix", package: "swift-nio")
let nioEmbedded = Target.Dependency.product(name: "NIOEmbedded", package: "swift-nio")
let logging = Target.Dependency.product(name: "Logging", package: "swift-log")
let metrics = Target.Dependency.product(name: "Metrics", package: "swift-metrics")
let lifecycle = Target.Dependency.product(name: "ServiceLifecycle", package: "swift-service-lifecycle")

let package = Package(
    name: "cohort",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Cohort", targets: ["Cohort"]),
        // The memberlist wire layer on its own, for the benchmarks and the fuzz target.
        .library(name: "CohortGossipWire", targets: ["Wire", "GossipCore", "Gossip"]),
        // The internode mesh on its own, for the benchmarks.
        .library(name: "CohortMesh", targets: ["CohortCore", "NIOSupport", "MeshCore", "Mesh"]),
        // Raft over the mesh on its own, for the benchmarks.
        .library(name: "CohortRaft", targets: ["CohortCore", "NIOSupport", "MeshCore", "Mesh", "RaftCore", "RaftPersistence", "Raft"]),
        .executable(name: "cohortd", targets: ["cohortd"]),
        .executable(name: "cohort", targets: ["cohort"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        // Without Hummingbird's default traits: ConfigurationSupport links swift-configuration (and through it
        // full Foundation) and FullFoundation its Foundation-only form coding; the admin API needs neither.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0", traits: []),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.1.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        // Identity (NodeID, Incarnation, PID), the version, and the one bounds-checked byte reader/writer.
        .target(name: "CohortCore", swiftSettings: strict),
        // Typed settings, YAML loading, environment overrides, validation.
        .target(
            name: "CohortConfig",
            dependencies: ["CohortCore", "CYAML"],
            swiftSettings: strict,
            linkerSettings: [.linkedLibrary(":libyaml.a")]
        ),
        // LoopTimer's timer descriptor (Linux's <sys/timerfd.h>, which Glibc's Swift module lacks).
        .target(name: "CTimerFD"),
        // NIO building blocks shared by the gossip, mesh and Raft shells: the event-loop task executor, the
        // doorbell, event-loop sleeps, the loop timer, connect attempts.
        .target(name: "NIOSupport", dependencies: ["CTimerFD", nio, nioPosix], swiftSettings: strict),
        // msgpack with memberlist's quirks, CRC32, LZW (Go compress/lzw compatible).
        .target(name: "Wire", dependencies: ["CohortCore", nio], swiftSettings: strict),
        // The SWIM + Lifeguard core (pure): membership, probes, suspicion, awareness, the broadcast queue, and
        // the memberlist message values it speaks with their encoded lengths. No NIO, no I/O, no clock.
        .target(name: "GossipCore", dependencies: ["CohortCore"], swiftSettings: strict),
        // The memberlist messages' codecs, packet/stream layering, keyring; the GossipService shell.
        .target(
            name: "Gossip",
            dependencies: [
                "CohortCore", "GossipCore", "Wire", "Observability", "NIOSupport", nio, nioPosix, logging, metrics, lifecycle,
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        // The mesh's pure parts: per-class queues, the reliable relay stream, chunk reassembly, frame headers,
        // the per-connection state machine, keepalive and reconnect decisions. No NIO, no I/O, no clock.
        .target(
            name: "MeshCore",
            dependencies: ["CohortCore", .product(name: "DequeModule", package: "swift-collections")],
            swiftSettings: strict
        ),
        // The internode TCP mesh: handshake (authenticated and encrypted with a cluster key), framing,
        // per-class queues, reliable relay, request/reply; the MeshService shell.
        .target(
            name: "Mesh",
            dependencies: [
                "CohortCore", "MeshCore", "Observability", "NIOSupport", nio, nioPosix, logging, metrics, lifecycle,
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        // The process table (pure): process records, local names, monitors, links, boots of other nodes,
        // returning effects; the process signals and their binary codec. No I/O, no clock, no NIO.
        .target(name: "ProcessCore", dependencies: ["CohortCore"], swiftSettings: strict),
        // Processes: the runtime over the table — mailboxes, spawn, contexts, the transport to other nodes,
        // metrics.
        .target(
            name: "Processes",
            dependencies: ["CohortCore", "ProcessCore", "Observability", logging, .product(name: "Prometheus", package: "swift-prometheus")],
            swiftSettings: strict
        ),
        // The Raft consensus core: a pure value type, its messages and their codec. No I/O, no clock, no
        // randomness of its own, no NIO, no Foundation: the compiler keeps it so.
        .target(name: "RaftCore", dependencies: ["CohortCore"], swiftSettings: strict),
        // Durable Raft state: the RaftStorage contract, FileRaftStorage (segments, snapshots, recovery) over
        // a RaftFileSystem (POSIX), MemoryRaftStorage.
        .target(name: "RaftPersistence", dependencies: ["CohortCore", "RaftCore"], swiftSettings: strict),
        // The coordination state machine (pure): named stores, locks with fencing, consistent names, leases,
        // on a persistent sorted map; its versioned command and snapshot codecs. No I/O, no clock of its own.
        .target(name: "CoordinationCore", dependencies: ["CohortCore"], swiftSettings: strict),
        // The eventual planes' data (pure): hybrid logical clocks, last-writer-wins entries and tombstones,
        // sharded digests for anti-entropy, tombstone collection, the entry and digest codecs.
        .target(name: "PlaneCore", dependencies: ["CohortCore", "CoordinationCore"], swiftSettings: strict),
        // Process groups (pure): one node's state of a pg scope, its protocol with the other nodes (updates,
        // sync handshake, anti-entropy, breakers) and the frame codec. No I/O, no clock of its own.
        .target(name: "GroupsCore", dependencies: ["CohortCore"], swiftSettings: strict),
        // Raft membership decisions (pure): the bootstrap decision, the voter-reconciler planner, its
        // debouncer and the churn tracker.
        .target(name: "RaftMembership", dependencies: ["CohortCore", "RaftCore"], swiftSettings: strict),
        // The Raft shell: RaftService runs one RaftNode over the mesh, persists through RaftStorage off the
        // event loop, applies committed entries to a pluggable state machine.
        .target(
            name: "Raft",
            dependencies: [
                "RaftCore", "RaftPersistence", "Mesh", "CohortCore", "Observability", "NIOSupport", nio, nioPosix, logging, metrics, lifecycle,
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        // Health-check registry, metric definitions, process metrics.
        .target(
            name: "Observability",
            dependencies: ["CohortCore", logging, metrics, .product(name: "Prometheus", package: "swift-prometheus")],
            swiftSettings: strict
        ),
        // libyaml's parser (Debian's libyaml-dev): the configuration file's YAML without Foundation (Yams links
        // full Foundation and ICU, about 4.7 MiB of every node's resident pages). Linked from its static archive
        // (CohortConfig's linker settings), so the binaries need no libyaml at run time.
        .systemLibrary(
            name: "CYAML",
            providers: [.apt(["libyaml-dev"])]
        ),
        // systemd's notify protocol (readiness, status, stopping), the health-gated watchdog, the journald log
        // handler (the journal's native protocol); no libsystemd.
        .target(
            name: "Systemd",
            dependencies: ["CohortCore", "Observability", logging, lifecycle],
            swiftSettings: strict
        ),
        // The node: wires every service into one ServiceGroup; the public API.
        .target(
            name: "Cohort",
            dependencies: [
                "CohortCore", "CohortConfig", "Observability", "Systemd", "Gossip", "Mesh", "Processes",
                "RaftCore", "RaftPersistence", "Raft", "RaftMembership", "CoordinationCore", "GroupsCore", "PlaneCore", "NIOSupport", nio, nioPosix, logging, metrics, lifecycle,
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: strict
        ),
        // /metrics, /livez, /readyz and the /v1 JSON API.
        .target(
            name: "CohortHTTP",
            dependencies: [
                "Cohort", "CohortConfig", "Gossip", "NIOSupport", "Processes", "Observability", "Raft",
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOHTTP1", package: "swift-nio"), nio, nioPosix, logging, lifecycle,
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "cohortd",
            dependencies: [
                "Cohort", "CohortHTTP", "CohortConfig", "Observability", "Systemd", logging, lifecycle,
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict,
            linkerSettings: leanExecutable
        ),
        .executableTarget(
            name: "cohort",
            dependencies: [
                "CohortCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                nio, nioPosix,
            ],
            swiftSettings: strict,
            linkerSettings: leanExecutable
        ),
        // Helpers for tests: daemon processes, notify listeners, deadlines, the simulation scheduler and network,
        // the crashing file system, the trace-file runner.
        .target(
            name: "CohortTestKit",
            dependencies: [
                "CohortCore", "RaftCore", "RaftPersistence", logging, lifecycle, nio,
                .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),

        // The scale simulation (Benchmarks/results/scale.md): N real gossip cores and the Raft members' real Raft
        // cores on the simulated network. A command for the sizes a debug test cannot afford:
        // swift build -c release --product ScaleSimulation; Benchmarks/scripts/scale_simulation.py runs it.
        .executableTarget(
            name: "ScaleSimulation",
            dependencies: ["CohortCore", "GossipCore", "Gossip", "RaftCore", "RaftMembership", "CohortTestKit", nio],
            path: "Tools/ScaleSimulation",
            swiftSettings: strict
        ),

        .testTarget(name: "CohortCoreTests", dependencies: ["CohortCore"], swiftSettings: strict),
        .testTarget(name: "CoordinationCoreTests", dependencies: ["CoordinationCore", "CohortTestKit"], swiftSettings: strict),
        .testTarget(name: "PlaneCoreTests", dependencies: ["PlaneCore", "CohortTestKit"], swiftSettings: strict),
        .testTarget(name: "GroupsCoreTests", dependencies: ["GroupsCore", "CohortTestKit"], swiftSettings: strict),
        .testTarget(
            name: "MeshTests",
            dependencies: ["Mesh", "MeshCore", "CohortTestKit", "Observability", nio, nioPosix, nioEmbedded, logging, lifecycle],
            swiftSettings: strict
        ),
        .testTarget(name: "ProcessesTests", dependencies: ["Processes", "ProcessCore", "CohortTestKit"], swiftSettings: strict),
        // Traces/testdata holds the trace files the tests read through #filePath (not resources).
        .testTarget(
            name: "RaftTests", dependencies: ["RaftCore", "RaftPersistence", "CohortTestKit"], exclude: ["Traces/testdata"],
            swiftSettings: strict
        ),
        .testTarget(name: "RaftMembershipTests", dependencies: ["RaftMembership", "CohortTestKit"], swiftSettings: strict),
        .testTarget(
            name: "RaftServiceTests",
            dependencies: [
                "Raft", "RaftCore", "RaftPersistence", "Mesh", "CohortTestKit", nio, nioPosix, logging, lifecycle,
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "ScaleSimulationTests", dependencies: ["ScaleSimulation", "CohortTestKit"], swiftSettings: strict),
        .testTarget(name: "CohortConfigTests", dependencies: ["CohortConfig"], swiftSettings: strict),
        .testTarget(name: "ObservabilityTests", dependencies: ["Observability"], swiftSettings: strict),
        .testTarget(
            name: "SystemdTests",
            dependencies: ["Systemd", "Observability", "CohortTestKit", logging, lifecycle],
            swiftSettings: strict
        ),
        .testTarget(name: "WireTests", dependencies: ["Wire", "CohortTestKit", nio], swiftSettings: strict),
        .testTarget(
            name: "GossipTests",
            dependencies: ["Gossip", "GossipCore", "Wire", "NIOSupport", "CohortTestKit", "Observability", nio, nioPosix, logging, lifecycle],
            exclude: ["Traces/testdata"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CohortTests",
            dependencies: ["Cohort", "CohortCore", "CohortHTTP", "CohortTestKit", "RaftCore", "RaftPersistence", "Raft", "RaftMembership", "Observability", "Gossip", "Mesh", "PlaneCore", logging, lifecycle],
            swiftSettings: strict
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["CohortTestKit", "CohortConfig", "Cohort", "Mesh", "Processes", nio, logging, lifecycle],
            swiftSettings: strict
        ),
    ]
)

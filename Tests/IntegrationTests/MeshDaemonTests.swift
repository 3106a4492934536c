import CohortCore
import CohortTestKit
import Foundation
import Logging
import Mesh
import NIOCore
import NIOPosix
import Testing

/// The mesh of a real `cohortd` facing hostile or misconfigured peers: it refuses them, counts them, and
/// keeps serving its real peers.
@Suite(.serialized)
struct MeshDaemonTests {
    static let key = Data((0..<32).map { UInt8($0 &* 5 &+ 1) }).base64EncodedString()

    /// The internode port `node` advertises, read from its own member entry.
    static func internodePort(of node: ClusterNodeUnderTest) async throws -> Int {
        var port = 0
        try await waitUntil(within: .seconds(20), "\(node.name) to advertise its internode port") {
            guard let reply = try? await httpGet(node.base + "/v1/members"),
                  let members = try? JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [[String: Any]],
                  let me = members.first(where: { $0["name"] as? String == node.name }),
                  let meta = me["meta"] as? [String: Any], let advertised = meta["internode_port"] as? Int, advertised != 0
            else { return false }
            port = advertised
            return true
        }
        return port
    }

    /// The sum of every series of the handshake-failure and frame-error counters.
    static func refusals(_ node: ClusterNodeUnderTest) async -> Double {
        guard let reply = try? await httpGet(node.base + "/metrics") else { return -1 }
        return reply.body.split(separator: "\n")
            .filter { $0.hasPrefix("internode_handshake_failures_total{") || $0.hasPrefix("internode_frame_errors_total{") }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }
            .reduce(0, +)
    }

    /// Connects to `host:port`, writes `bytes`, and closes.
    static func sendRaw(_ bytes: [UInt8], to host: String, port: Int) async throws {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        try await channel.executeThenClose { _, outbound in
            try await outbound.write(ByteBuffer(bytes: bytes))
        }
    }

    @Test func garbageOnTheMeshPortClosesThatConnectionOnlyAndIsCounted() async throws {
        try await withCluster(2, prefix: "raw", key: Self.key) { nodes in
            let (a, b) = (nodes[0], nodes[1])
            try await ProcessMeshTests.waitForMesh(nodes)
            // A message from a to b makes the mesh connect them (connections are made on demand).
            let receiver = try await b.openSession()
            let sender = try await a.openSession()
            try await ProcessMeshTests.mark(receiver, on: b, via: a, from: sender)
            #expect(await b.metric("internode_connections") == 1)
            let port = try await Self.internodePort(of: b)
            let before = await Self.refusals(b)
            var generator = SplitMix64(seed: 42)
            for _ in 0..<5 {
                let garbage = (0..<Int(generator.next() % 4096 + 16)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
                try await Self.sendRaw(garbage, to: b.ip, port: port)
            }
            // Whatever each connection's garbage looked like (a bad magic, a bad length, a cut hello), each is
            // refused and counted.
            try await waitUntil(within: .seconds(20), "the refusals to be counted") {
                await Self.refusals(b) >= before + 5
            }
            // The real peer's connection is untouched and carries messages.
            #expect(await b.metric("internode_connections") == 1)
            #expect(await b.metric("internode_reconnects_total") == 0)
            try await ProcessMeshTests.mark(receiver, on: b, via: a, from: sender)
        }
    }

    @Test func aPeerWithTheWrongKeyCannotConnect() async throws {
        try await withCluster(1, prefix: "zkey", key: Self.key) { nodes in
            let node = nodes[0]
            let port = try await Self.internodePort(of: node)
            // An in-process mesh with another key dials the daemon.
            var settings = MeshSettings(nodeID: NodeID("a-stranger"), incarnation: Incarnation(1))
            settings.bindHost = uniqueLoopbackAddress()
            settings.keyring = [Array(repeating: 7, count: 32)]
            var logger = Logger(label: "stranger")
            logger.logLevel = .critical
            let stranger = MeshService(settings: settings, logger: logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await stranger.run() }
                await stranger.setPeer(NodeID(node.name), host: node.ip, port: port, incarnation: nil)
                stranger.connect(to: NodeID(node.name))
                try await waitUntil(within: .seconds(15), "the daemon to refuse the wrong key") {
                    await node.metric(#"internode_handshake_failures_total{reason="bad_key"}"#) ?? 0 >= 1
                }
                #expect(!stranger.isConnected(to: NodeID(node.name)))
                #expect(await node.metric("internode_connections") == 0)
                // Logged as a warning that names the reason and where the connection came from.
                let refusal = node.process.output.split(separator: "\n").first { $0.contains("mesh handshake failed; connection closed") }
                #expect(refusal?.contains("reason=bad_key") == true, "\(refusal ?? "no refusal logged")")
                #expect(refusal?.contains("remote=") == true)
                group.cancelAll()
            }
        }
    }
}

extension MeshDaemonTests {
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool"), "needs promtool (apt prometheus)"))
    func aClusterNodesMetricsPassPromtoolLintWithMeshProcessAndRaftSeries() async throws {
        try await withCluster(2, prefix: "prom") { nodes in
            try await ProcessMeshTests.waitForMesh(nodes)
            // A peer's queue-depth series appear with the first message queued for it: send one.
            let receiver = try await nodes[1].openSession()
            let sender = try await nodes[0].openSession()
            try await ProcessMeshTests.mark(receiver, on: nodes[1], via: nodes[0], from: sender)
            let metrics = try await httpGet(nodes[0].base + "/metrics").body
            for series in ["internode_connections", "internode_queue_depth{", "internode_dropped_total{",
                           "internode_bytes_total{", "internode_frames_total{", "processes_live", "gossip_members{",
                           "raft_state ", "raft_term ", "raft_voters ", "raft_non_voters ", "raft_leader_changes_total ",
                           "raft_commit_index ", "raft_fsync_seconds_bucket{", "raft_rpc_duration_seconds_bucket{",
                           "raft_voter_operations_total{", "raft_voter_churn_burst_total ",
                           // Coordination, each at zero from the start.
                           "store_keys{store=\"default\"} ", "store_writes_total{", "locks_held 0", "lock_acquire_total{",
                           "lock_wait_seconds_bucket{", "names_registered{scope=\"consistent\"} 0", "names_registered{scope=\"local\"} 0",
                           "watch_streams 0"] {
                #expect(metrics.contains("\n" + series), "missing \(series)")
            }
            let file = try temporaryFile(metrics, suffix: ".prom")
            defer { removeTemporary(file) }
            let (status, output) = try await runShell("/usr/bin/promtool check metrics < \(file)")
            #expect(status == 0, "promtool: \(output)")
        }
    }
}

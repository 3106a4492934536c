import CohortCore
import CohortTestKit
import Dispatch
import RaftCore
import Synchronization
import Testing
@testable import Mesh
@testable import Raft

/// Chunked snapshot transfer between real nodes: a snapshot far bigger than one chunk catches a follower
/// up, and a transfer cut halfway resumes where the follower stands instead of starting over.
extension RaftServiceClusterTests {
    /// Snapshot chunks of 4 KiB; commands of 12 KiB, so 24 of them make a snapshot of about 280 KiB.
    static let chunkBytes = 4096
    static let commandBytes = 12 * 1024

    /// Crashes a follower of a fresh three-node cluster, writes 24 big commands (the leader compacts its
    /// log past them), and returns the leader, the crashed follower and the commands.
    static func lagBehindASnapshot(_ cluster: RaftTestCluster) async throws -> (RaftTestNode, RaftTestNode, [[UInt8]]) {
        let nodes = try await cluster.start(["a", "b", "c"])
        let leader = try await cluster.waitForLeader()
        let lagging = try #require(nodes.first { $0.id != leader.id })
        await cluster.crash(lagging)
        var expected: [[UInt8]] = []
        for index in 0..<24 {
            let big = command("big", index) + [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: Self.commandBytes)
            _ = try await proposeSafely(big, on: leader)
            expected.append(big)
        }
        try await waitFor("the leader's snapshot to hold at least 200 KiB") {
            (try leader.storage.latestSnapshot()?.data.count ?? 0) >= 200 * 1024
        }
        return (leader, lagging, expected)
    }

    @Test func aLaggingFollowerCatchesUpThroughASnapshotStreamedInChunks() async throws {
        try await withRaftCluster(configure: {
            $0.snapshotThreshold = 5
            $0.trailingLogs = 0
            $0.snapshotChunkBytes = Self.chunkBytes
        }) { cluster in
            let (leader, lagging, expected) = try await Self.lagBehindASnapshot(cluster)
            let restarted = try await cluster.restart(lagging)
            try await waitFor("the restarted node to catch up through a snapshot") { restarted.caughtUpThroughASnapshot(expected) }
            let installed = try #require(try restarted.storage.latestSnapshot())
            #expect(installed.data.count >= 200 * 1024)
            // Far more than one chunk crossed the wire, each well under the mesh's message limit. The leader
            // counts the transfer when the last chunk's reply reaches it, which can be after the follower has
            // installed the snapshot and applied past it.
            try await waitFor("the leader to count the transfer delivered") {
                (leader.metric("raft_snapshot_transfers_total", ["result": "delivered"]) ?? 0) >= 1
            }
            #expect((leader.metric("raft_snapshot_sent_bytes_total") ?? 0) >= Double(installed.data.count))
            #expect((leader.metric("raft_snapshot_transfers_resumed_total") ?? 0) == 0)
            _ = try await proposeSafely(command("after", 0), on: restarted)
            try await waitFor("every node to apply the last write") {
                cluster.running.allSatisfy { $0.machine.all == expected + [command("after", 0)] }
            }
        }
    }

    /// The follower's restore of the leader's snapshot is held at a gate for three election timeouts:
    /// meanwhile the follower's event loop stays free — its actor (which runs there) answers status calls
    /// at once, as health checks and the HTTP API make them —, it keeps stepping the leader's heartbeats
    /// (its last contact stays fresh), and nothing is applied until the snapshot is installed. A restore
    /// on the event loop blocks the actor for as long as it takes, and an input loop that waits for the
    /// Ready stops hearing the leader: either fails this test.
    @Test func aFollowerAnswersWhileASnapshotIsSlowToRestore() async throws {
        try await withRaftCluster(configure: { $0.snapshotThreshold = 5; $0.trailingLogs = 0 }) { cluster in
            let (leader, lagging, expected) = try await Self.lagBehindASnapshot(cluster)
            let machine = ListStateMachine()
            let gate = DispatchSemaphore(value: 0)
            machine.restoreGate.withLock { $0 = gate }
            // Whatever happens below, the blocked restore is let go (or the cluster could not stop).
            defer { gate.signal() }
            let restarted = try await cluster.restart(lagging, machine: machine)
            try await waitFor("the leader's snapshot to reach the restore gate") { machine.restoresWaiting.load(ordering: .relaxed) == 1 }
            let snapshotIndex = try #require(try leader.storage.latestSnapshot()).metadata.index
            // It may hold a few early commands (appends the leader queued for it before it crashed).
            let heldBefore = machine.all.count
            try await holdsThroughout(.seconds(3), "the follower answering, and applying nothing, while its restore is held", pollEvery: .milliseconds(50)) {
                // Within an election timeout (1 s here); a blocked actor would never answer.
                guard let status = await answer(within: .seconds(1), { await restarted.status }) else { return false }
                // Heartbeats go on being stepped while the Ready waits for the restore: the leader's last
                // contact (which the `raft.last_contact` liveness check reads) stays fresh.
                let contact = restarted.raft.lastLeaderContactInstant.map { ContinuousClock.now - $0 }
                return status.state == .follower && status.leader == leader.id && status.appliedIndex < snapshotIndex
                    && machine.all.count == heldBefore && contact.map { $0 < .seconds(1) } == true
            }
            machine.restoreGate.withLock { $0 = nil }
            gate.signal()
            try await waitFor("the restarted node to catch up through a snapshot") { restarted.caughtUpThroughASnapshot(expected) }
            #expect(machine.restoresOnEventLoop.load(ordering: .relaxed) == 0)
            #expect(restarted.metric("raft_snapshots_installed_total") == 1)
            _ = try await proposeSafely(command("after", 0), on: leader)
            try await waitFor("every node to apply the last write") {
                cluster.running.allSatisfy { $0.machine.all == expected + [command("after", 0)] }
            }
        }
    }

    @Test func aSnapshotTransferCutHalfwayResumesWhereTheFollowerStands() async throws {
        let cut = LinkCutter()
        try await withRaftCluster(configure: {
            $0.snapshotThreshold = 5
            $0.trailingLogs = 0
            $0.snapshotChunkBytes = Self.chunkBytes
            $0.snapshotChunkReceivedForTesting = { from, chunk in await cut.chunkArrived(from: from, chunk) }
        }) { cluster in
            let (leader, lagging, expected) = try await Self.lagBehindASnapshot(cluster)
            cut.arm(leader: leader, follower: lagging.id)
            let restarted = try await cluster.restart(lagging)
            try await waitFor("the restarted node to catch up through a snapshot") { restarted.caughtUpThroughASnapshot(expected) }
            let total = try #require(try restarted.storage.latestSnapshot()).data.count
            #expect(cut.cutAt.map { $0 >= UInt64(total / 2) } == true, "the link was cut past half the data")
            #expect((leader.metric("raft_snapshot_transfers_total", ["result": "failed"]) ?? 0) >= 1)
            try await waitFor("the leader to count the second transfer delivered") {
                (leader.metric("raft_snapshot_transfers_total", ["result": "delivered"]) ?? 0) >= 1
            }
            // The second attempt asked where the follower was and went on from there...
            #expect((leader.metric("raft_snapshot_transfers_resumed_total") ?? 0) >= 1)
            // ...so the data crossed about once: starting over would have sent half of it again.
            let sent = leader.metric("raft_snapshot_sent_bytes_total") ?? 0
            #expect(sent < Double(total) * 1.4, "sent \(sent) bytes for a snapshot of \(total)")
            #expect((restarted.metric("raft_snapshots_installed_total") ?? 0) >= 1)
        }
    }
}

/// Cuts the leader's connection to the follower once, when a chunk past half the snapshot reaches the
/// follower, and holds that chunk until the leader has noticed (its transfer failed), so the cut lands
/// mid-transfer every time.
private final class LinkCutter: Sendable {
    private struct State {
        var leader: RaftTestNode?
        var follower: NodeID?
        var cutAt: UInt64?
    }

    private let state = Mutex(State())

    func arm(leader: RaftTestNode, follower: NodeID) {
        state.withLock { $0.leader = leader; $0.follower = follower }
    }

    /// Where the link was cut (the offset of the chunk that was held), once it was.
    var cutAt: UInt64? { state.withLock { $0.cutAt } }

    func chunkArrived(from sender: NodeID, _ chunk: SnapshotChunk) async {
        let leader: RaftTestNode? = state.withLock { state in
            guard state.cutAt == nil, let leader = state.leader, leader.id == sender, !chunk.isQuery,
                  chunk.offset >= chunk.total / 2 else { return nil }
            state.cutAt = chunk.offset
            return leader
        }
        guard let leader, let follower = state.withLock({ $0.follower }) else { return }
        leader.mesh.closeConnectionForTesting(to: follower)
        try? await waitFor("the leader to see its snapshot transfer fail") {
            (leader.metric("raft_snapshot_transfers_total", ["result": "failed"]) ?? 0) >= 1
        }
    }
}

extension RaftTestNode {
    /// The node's state machine holds `expected` and it counted a snapshot installed: a snapshot is
    /// restored off the event loop and installed on the actor after that, so the data alone comes first.
    func caughtUpThroughASnapshot(_ expected: [[UInt8]]) -> Bool {
        machine.all == expected && (metric("raft_snapshots_installed_total") ?? 0) >= 1
    }
}

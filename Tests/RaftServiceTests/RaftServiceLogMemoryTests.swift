import CohortCore
import CohortTestKit
import Foundation
@testable import Raft
import RaftCore
import RaftPersistence
import Testing

/// Neither the log between snapshots nor the newest snapshot is held whole in memory: with
/// `FileRaftStorage`, applied entries beyond `inMemoryLogBytes` leave memory and a lagging follower gets
/// them read back from the segment files; a saved snapshot's data is read from its file, chunk by chunk,
/// when a follower needs it.
@Suite struct RaftServiceLogMemoryTests {
    @Test func aFollowerBehindTheEntriesInMemoryCatchesUpByEntriesReadFromTheLeadersSegments() async throws {
        try await RaftServiceDurableTests.withDurableCluster(configure: { settings in
            settings.inMemoryLogBytes = 4 << 10
            settings.snapshotThreshold = 1_000_000  // no snapshot: only the segments can serve the follower
        }) { cluster in
            let nodes = try await cluster.start(["a", "b", "c"])
            let leader = try await cluster.waitForLeader()
            let follower = try #require(nodes.first { $0.id != leader.id })
            var expected: [[UInt8]] = []
            for index in 0..<20 {
                _ = try await proposeSafely(command("before", index), on: leader)
                expected.append(command("before", index))
            }
            try await waitFor("every node to apply the first writes") { nodes.allSatisfy { $0.machine.all == expected } }
            await cluster.crash(follower)

            // 600 entries of about 230 bytes: about 34 times the budget.
            let padding = String(repeating: "x", count: 200)
            for index in 0..<600 {
                let entry = Array("while-away-\(index)-\(padding)".utf8)
                _ = try await proposeSafely(entry, on: leader)
                expected.append(entry)
            }
            let log = await leader.raft.node.log
            #expect(log.memoryBytes <= 8 << 10, "at most twice the budget in memory")
            #expect(log.firstIndex <= 21 && log.memoryFirst > 400, "the entries the follower lacks are on disk only")
            #expect(leader.metric("raft_log_memory_bytes").map { $0 > 0 && $0 <= Double(8 << 10) } == true)

            let restarted = try await cluster.restart(follower)
            try await waitFor("the restarted follower to catch up") { restarted.machine.all == expected }
            #expect(restarted.metric("raft_snapshots_installed_total") ?? 0 == 0, "by entries, not a snapshot")
        }
    }

    @Test func aSavedSnapshotIsNotKeptInMemoryAndGoesToAFollowerReadFromItsFileChunkByChunk() async throws {
        try await RaftServiceDurableTests.withDurableCluster(configure: { settings in
            settings.snapshotThreshold = 5
            settings.trailingLogs = 0
            settings.snapshotChunkBytes = 4096
        }) { cluster in
            let (leader, follower, expected) = try await RaftServiceClusterTests.lagBehindASnapshot(cluster)
            try await waitFor("the leader to have saved a snapshot") {
                guard let held = await leader.raft.currentSnapshot else { return false }
                return held.data == nil && held.metadata.index >= 5
            }
            let held = try #require(await leader.raft.currentSnapshot)
            #expect(held.size > 20 * 4096, "dozens of chunks")

            let restarted = try await cluster.restart(follower)
            // Through a snapshot: restored off the event loop, then installed on the actor (wait for both).
            try await waitFor("the restarted follower to catch up through a snapshot") {
                restarted.machine.all == expected && restarted.metric("raft_snapshots_installed_total") ?? 0 >= 1
            }
            #expect(leader.metric("raft_snapshot_sent_bytes_total") ?? 0 >= Double(held.size))
            // The follower saved what it installed and holds it the same way.
            try await waitFor("the follower to hold its snapshot without its data") { await restarted.raft.currentSnapshot?.data == nil }
        }
    }
}

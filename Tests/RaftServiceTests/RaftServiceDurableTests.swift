import CohortCore
import CohortTestKit
import RaftCore
import RaftPersistence
import Foundation
import Raft
import Synchronization
import Testing

/// Three RaftService nodes over real loopback TCP with `FileRaftStorage` on the real disk: a crashed
/// process's replacement reopens its files.
@Suite struct RaftServiceDurableTests {
    static func withDurableCluster(
        configure: @escaping @Sendable (inout RaftServiceSettings) -> Void = { _ in },
        _ body: (RaftTestCluster) async throws -> Void
    ) async throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-raft-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: base) }
        try await withRaftCluster(
            configure: configure,
            makeStorage: { id in FileRaftStorage(directory: base + "/" + id.rawValue + "/_sys/raft") },
            reopensStorage: true,
            body
        )
    }

    @Test func aDurableClusterCommitsSurvivesItsLeadersCrashAndARestartedNodeComesBackWithTheLog() async throws {
        try await Self.withDurableCluster { cluster in
            let nodes = try await cluster.start(["a", "b", "c"])
            var expected: [[UInt8]] = []
            let first = try await cluster.waitForLeader()
            for index in 0..<30 {
                _ = try await proposeSafely(command("before", index), on: first)
                expected.append(command("before", index))
            }
            try await waitFor("every node to apply the first writes") { nodes.allSatisfy { $0.machine.all == expected } }

            // The leader's process dies; the other two elect a leader and keep committing.
            await cluster.crash(first)
            let second = try await cluster.waitForLeader()
            #expect(second.id != first.id)
            for index in 0..<30 {
                _ = try await proposeSafely(command("after", index), on: second)
                expected.append(command("after", index))
            }

            // Its replacement reads its files back: term, vote and log; it catches up and agrees.
            let restarted = try await cluster.restart(first)
            try await waitFor("the restarted node to catch up") { restarted.machine.all == expected }
            let status = await restarted.status
            #expect(status.term >= (await second.status).term)
            #expect(try restarted.storage.load().entries.count >= 60)
        }
    }

    @Test func aFullRestartOfEveryNodeComesBackAsTheSameClusterWithItsData() async throws {
        try await Self.withDurableCluster { cluster in
            let nodes = try await cluster.start(["a", "b", "c"])
            let leader = try await cluster.waitForLeader()
            var expected: [[UInt8]] = []
            for index in 0..<20 {
                _ = try await proposeSafely(command("kept", index), on: leader)
                expected.append(command("kept", index))
            }
            try await waitFor("every node to apply every write") { nodes.allSatisfy { $0.machine.all == expected } }
            for node in nodes { await cluster.crash(node) }

            var restarted: [RaftTestNode] = []
            for node in nodes { restarted.append(try await cluster.restart(node)) }
            let newLeader = try await cluster.waitForLeader()
            _ = try await proposeSafely(command("new", 0), on: newLeader)
            expected.append(command("new", 0))
            // The state machines start empty in the new processes: everything they hold came back from disk.
            try await waitFor("every node to hold the old data and the new write") {
                restarted.allSatisfy { $0.machine.all == expected }
            }
        }
    }

    /// Not only process kills: with the third voter down, the leader and the follower lose power together
    /// while a writer is busy, and each keeps only what it had fsynced (`CrashingFileSystem`: unsynced bytes cut, torn, or lost in
    /// stretches). Every write that was acknowledged is still there after both come back.
    @Test func aPowerLossOfTheLeaderAndAFollowerTogetherLosesNoAcknowledgedWrite() async throws {
        let disks = Mutex<[NodeID: CrashingFileSystem]>([:])
        let disk = { @Sendable (id: NodeID) -> CrashingFileSystem in
            disks.withLock { disks in
                if let existing = disks[id] { return existing }
                let fresh = CrashingFileSystem()
                disks[id] = fresh
                return fresh
            }
        }
        try await withRaftCluster(
            makeStorage: { id in FileRaftStorage(directory: "/data/\(id)/_sys/raft", fileSystem: disk(id), segmentBytes: 4096) },
            reopensStorage: true
        ) { cluster in
            let nodes = try await cluster.start(["a", "b", "c"])
            let leader = try await cluster.waitForLeader()
            let follower = try #require(nodes.first { $0.id != leader.id })
            // The third node is down while the writes happen: each acknowledged write lives on exactly the
            // two nodes that then lose power.
            let other = try #require(nodes.first { $0.id != leader.id && $0.id != follower.id })
            await cluster.crash(other)
            let acknowledged = Acknowledged()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    // Through either of the two live nodes (a follower forwards to the leader): a loaded machine
                    // may move leadership between them, and the writer must keep going until both are gone.
                    for index in 0..<400 {
                        var written = false
                        for node in [leader, follower] where !written {
                            written = (try? await node.raft.propose(command("w", index), timeout: .seconds(2))) != nil
                        }
                        guard written else { return }
                        acknowledged.add(command("w", index))
                    }
                }
                try await waitFor("the writer to be under way") { acknowledged.all.count >= 25 }
                for node in [leader, follower] {
                    // The process dies at once: its storage makes no further call.
                    disk(node.id).crash(afterOperations: 0)
                    await cluster.crash(node)
                }
                try await group.waitForAll()
            }
            var generator = SplitMix64(seed: 20261206)
            for node in [leader, follower] { disk(node.id).powerLoss(using: &generator) }
            let restarted = [try await cluster.restart(leader), try await cluster.restart(follower), try await cluster.restart(other)]
            let current = try await cluster.waitForLeader()
            _ = try await proposeSafely(command("after", 0), on: current)
            let written = acknowledged.all
            #expect(written.count >= 25)
            try await waitFor("every node to hold every acknowledged write") {
                restarted.allSatisfy { node in
                    let held = Set(node.machine.all)
                    return written.allSatisfy(held.contains) && held.contains(command("after", 0))
                }
            }
        }
    }
}

/// Commands a writer saw acknowledged, shared with the test's checks.
private final class Acknowledged: Sendable {
    private let commands = Mutex<[[UInt8]]>([])
    func add(_ command: [UInt8]) { commands.withLock { $0.append(command) } }
    var all: [[UInt8]] { commands.withLock { $0 } }
}

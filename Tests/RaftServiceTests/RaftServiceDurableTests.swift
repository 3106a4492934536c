import CohortCore
import CohortTestKit
import Consensus
import Foundation
import RaftService
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
}

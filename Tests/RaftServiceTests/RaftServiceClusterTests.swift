import CohortCore
import CohortTestKit
import Dispatch
import RaftCore
import Mesh
import Raft
import Testing

/// Three RaftService + MeshService nodes over real loopback TCP with in-memory storage and a list state
/// machine: elections, proposals (forwarded from followers), reads, crashes, graceful hand-over, bad
/// input and snapshot catch-up.
@Suite(.serialized) struct RaftServiceClusterTests {
    @Test func proposalsFromLeaderAndFollowerApplyEverywhereInOneOrder() async throws {
        try await withRaftCluster { cluster in
            let nodes = try await cluster.start(["a", "b", "c"])
            let leader = try await cluster.waitForLeader()
            let follower = try #require(nodes.first { $0.id != leader.id })
            var expected: [[UInt8]] = []
            for index in 0..<5 {
                let (at, result) = try await leader.raft.propose(command("leader", index), timeout: .seconds(10))
                expected.append(command("leader", index))
                #expect(result == ListStateMachine.u64(UInt64(expected.count)))
                #expect(at > 1)
            }
            for index in 0..<5 {
                // Forwarded to the leader; the answer is the leader's.
                _ = try await proposeSafely(command("follower", index), on: follower)
                expected.append(command("follower", index))
            }
            try await waitFor("every node to apply the ten commands") {
                nodes.allSatisfy { $0.machine.all == expected }
            }
            let status = await follower.status
            #expect(status.role == .voter)
            #expect(status.voters == nodes.map(\.id).sorted())
            #expect(status.leader == leader.id)
            // The guide's encoding: 2 = leader, 0 = follower.
            #expect(leader.metric("raft_state") == 2)
            #expect(follower.metric("raft_state") == 0)
            #expect(leader.metric("raft_voters") == 3)
            #expect((leader.metric("raft_rpc_total", ["type": "append", "direction": "out"]) ?? 0) > 0)
            #expect((follower.metric("raft_forward_seconds_count") ?? 0) >= 5)
            #expect((follower.metric("raft_rpc_total", ["type": "forward", "direction": "out"]) ?? 0) >= 5)
            #expect((leader.metric("raft_rpc_total", ["type": "forward", "direction": "in"]) ?? 0) >= 5)
            #expect((leader.metric("raft_fsync_seconds_count") ?? 0) > 0)
            // Round trips are timed per request type: the leader's appends were answered.
            #expect((leader.metric("raft_rpc_duration_seconds_count", ["type": "append"]) ?? 0) > 0)
            // Storage blocks on fsync: never on an event loop.
            #expect(nodes.allSatisfy { $0.callsOnEventLoop == 0 })
        }
    }

    /// The follower is down while the write commits, so its own replica lacks it when it comes back: a
    /// read that answered from the follower's own state would miss the write (and fails this test; so
    /// does one that does not wait for the follower to apply up to the leader's commit index).
    @Test func linearizableReadOnAFollowerSeesEveryCommittedWrite() async throws {
        try await withRaftCluster { cluster in
            let nodes = try await cluster.start(["a", "b", "c"])
            let leader = try await cluster.waitForLeader()
            let follower = try #require(nodes.first { $0.id != leader.id })
            await cluster.crash(follower)
            let written = try await leader.raft.propose(command("x", 1), timeout: .seconds(10)).index
            let back = try await cluster.restart(follower)
            // Its replica usually lacks the write here; not always: the mesh may hand the new process the
            // appends it queued for the crashed one at once (seen once in about 17 runs), and then the read
            // below has nothing to wait for. Either way it must return only with the write applied.
            var readIndex: LogIndex?
            try await waitFor("a read on the restarted follower") {
                do {
                    readIndex = try await back.raft.linearizableRead(timeout: .seconds(10))
                    return true
                } catch RaftServiceError.noLeader {
                    return false  // it has not heard from the leader yet
                }
            }
            #expect((readIndex ?? 0) >= written)
            // Returned only once applied here: the write is visible.
            #expect(back.machine.all.contains(command("x", 1)))
            #expect(try await leader.raft.linearizableRead(timeout: .seconds(10)) >= written)
        }
    }

    @Test func aNewLeaderIsElectedAfterTheLeaderCrashesAndWritesCommitAgain() async throws {
        try await withRaftCluster { cluster in
            _ = try await cluster.start(["a", "b", "c"])
            let first = try await cluster.waitForLeader()
            _ = try await first.raft.propose(command("before", 0), timeout: .seconds(10))
            let firstTerm = await first.status.term
            await cluster.crash(first)
            let second = try await cluster.waitForLeader()
            #expect(second.id != first.id)
            #expect(await second.status.term > firstTerm)
            let survivors = cluster.running
            for node in survivors { _ = try await proposeSafely(command("after-\(node.id)", 0), on: node) }
            try await waitFor("both survivors to apply the same three commands") {
                let lists = survivors.map(\.machine.all)
                return lists.allSatisfy { $0.count == 3 && $0 == lists[0] }
            }
            #expect(survivors[0].machine.all.first == command("before", 0))
        }
    }

    @Test func aFollowerFailsAWriteAtOnceWhenItsLeadersConnectionIsGone() async throws {
        try await withRaftCluster { cluster in
            _ = try await cluster.start(["a", "b", "c"])
            let leader = try await cluster.waitForLeader()
            let follower = try #require(cluster.running.first { $0.id != leader.id })
            await cluster.crash(leader)
            try await waitFor("the follower's connection to the crashed leader to close") {
                !follower.mesh.isConnected(to: leader.id)
            }
            // Forwarded, this would wait the whole minute for a reconnect to a dead node. It fails now, saying
            // nothing was written — unless the follower has already left the old leader for an election.
            do {
                _ = try await follower.raft.propose(command("during", 0), timeout: .seconds(60))
                Issue.record("a write with no leader reachable should fail")
            } catch let error as RaftServiceError {
                switch error {
                case .forwardFailed(let target, _, maybeCommitted: false):
                    #expect(target == leader.id)
                case .noLeader:
                    break
                default:
                    Issue.record("unexpected error: \(error)")
                }
            }
            // The survivors elect a leader and writes commit again.
            _ = try await cluster.waitForLeader()
            _ = try await proposeSafely(command("after", 0), on: follower)
        }
    }

    @Test func aLeaderStoppedGracefullyHandsOverLeadershipFirst() async throws {
        try await withRaftCluster { cluster in
            _ = try await cluster.start(["a", "b", "c"])
            let first = try await cluster.waitForLeader()
            _ = try await first.raft.propose(command("x", 0), timeout: .seconds(10))
            let term = await first.status.term
            try await cluster.stop(first)
            // The old leader saw its successor's vote request before it stopped: a crash would not have.
            let stoppedStatus = await first.status
            #expect(stoppedStatus.state == .none)
            #expect(stoppedStatus.term == term + 1)
            let second = try await cluster.waitForLeader()
            #expect(second.id != first.id)
            #expect(await second.status.term == term + 1)
            _ = try await proposeSafely(command("y", 0), on: second)
        }
    }

    @Test func badRaftMessagesAreCountedAndIgnored() async throws {
        try await withRaftCluster { cluster in
            let nodes = try await cluster.start(["a", "b", "c"])
            let leader = try await cluster.waitForLeader()
            let target = try #require(nodes.first { $0.id != leader.id })
            let sender = try #require(nodes.first { $0.id != leader.id && $0.id != target.id })
            #expect(target.metric("raft_dropped_messages_total", ["reason": "malformed"]) == 0)
            #expect(sender.mesh.send([0xDE, 0xAD, 0xBE, 0xEF], to: target.id, endpoint: .raft, class: .raft) == .queued)
            #expect(sender.mesh.send([0, 0, 0, 9, 1], to: target.id, endpoint: .raftSnapshot, class: .bulk) == .queued)
            // Well formed, but claiming to come from the leader: the mesh says otherwise.
            let spoofed = Message(from: leader.id, to: target.id, term: 99, kind: .timeoutNow)
            #expect(sender.mesh.send(MessageCodec().encode(spoofed), to: target.id, endpoint: .raft, class: .raft) == .queued)
            try await waitFor("the target to count two malformed and one misaddressed message") {
                target.metric("raft_dropped_messages_total", ["reason": "malformed"]) == 2
                    && target.metric("raft_dropped_messages_total", ["reason": "misaddressed"]) == 1
            }
            let status = await target.status
            #expect(status.term < 99)
            _ = try await proposeSafely(command("still", 0), on: target)
            try await waitFor("every node to apply the write") { nodes.allSatisfy { $0.machine.all == [command("still", 0)] } }
        }
    }

    @Test func trailingLogsLetARestartedFollowerCatchUpByEntries() async throws {
        try await withRaftCluster(configure: { $0.snapshotThreshold = 5; $0.trailingLogs = 50 }) { cluster in
            let (leader, restarted, _) = try await Self.restartAFollowerThatMissedSnapshots(cluster, throughASnapshot: false)
            // The leader still held the entries its snapshots cover: no snapshot crossed the wire.
            #expect((restarted.metric("raft_snapshots_installed_total") ?? 0) == 0)
            #expect((leader.metric("raft_snapshots_taken_total") ?? 0) >= 2)
        }
    }

    @Test func aLeaderGoesOnLeadingAndCommittingWhileItsSnapshotIsSlowToWrite() async throws {
        try await withRaftCluster(configure: { $0.snapshotThreshold = 5; $0.trailingLogs = 0 }) { cluster in
            _ = try await cluster.start(["a", "b", "c"])
            let leader = try await cluster.waitForLeader()
            let gate = DispatchSemaphore(value: 0)
            leader.machine.snapshotGate.withLock { $0 = gate }
            // Whatever happens below, the blocked serialization is let go (or the cluster could not stop).
            defer { gate.signal() }
            for index in 0..<6 { _ = try await proposeSafely(command("before", index), on: leader) }
            try await waitFor("the leader's snapshot to reach the gate") { leader.machine.serializationsWaiting.load(ordering: .relaxed) == 1 }
            let term = await leader.status.term
            // The snapshot is stuck for as long as the test wants (here about 3 election timeouts): the
            // leader still heartbeats and commits, and nobody takes over.
            var index = 0
            try await holdsThroughout(.seconds(3), "leadership held and writes committed while a snapshot is written", pollEvery: .milliseconds(50)) {
                _ = try await leader.raft.propose(command("during", index), timeout: .seconds(2))
                index += 1
                let status = await leader.status
                return status.state == .leader && status.term == term
            }
            #expect(index >= 3)
            gate.signal()
            try await waitFor("the snapshot to be taken") { (leader.metric("raft_snapshots_taken_total") ?? 0) >= 1 }
            leader.machine.snapshotGate.withLock { $0 = nil }
            _ = try await proposeSafely(command("after", 0), on: leader)
            try await waitFor("every node to apply every write") {
                cluster.running.allSatisfy { $0.machine.all.count == 6 + index + 1 }
            }
        }
    }

    @Test func aLargeStateIsNotRewrittenEveryFewEntries() async throws {
        try await withRaftCluster(configure: { $0.snapshotThreshold = 5; $0.trailingLogs = 0 }) { cluster in
            _ = try await cluster.start(["a", "b", "c"])
            let leader = try await cluster.waitForLeader()
            _ = try await proposeSafely(Array(repeating: 7, count: 64 << 10), on: leader)
            for index in 0..<5 { _ = try await proposeSafely(command("small", index), on: leader) }
            try await waitFor("a snapshot holding the 64 KiB entry") {
                ((try? leader.storage.latestSnapshot())??.data.count ?? 0) >= 64 << 10
            }
            let taken = leader.metric("raft_snapshots_taken_total") ?? 0
            // 40 small entries: 8 times the threshold, but their ~1 KiB is far from half of 64 KiB.
            for index in 0..<40 { _ = try await proposeSafely(command("more", index), on: leader) }
            try await holdsThroughout(.seconds(1), "no snapshot for a few small entries on a large state") {
                leader.metric("raft_snapshots_taken_total") == taken
            }
            // 40 KiB more passes half of the last snapshot: the next one is taken.
            _ = try await proposeSafely(Array(repeating: 8, count: 40 << 10), on: leader)
            for index in 0..<5 { _ = try await proposeSafely(command("last", index), on: leader) }
            try await waitFor("the next snapshot") { (leader.metric("raft_snapshots_taken_total") ?? 0) > taken }
        }
    }

    @Test func aRestartedFollowerCatchesUpThroughASnapshot() async throws {
        try await withRaftCluster(configure: { $0.snapshotThreshold = 5; $0.trailingLogs = 0 }) { cluster in
            let (_, caughtUpNode, caughtUp) = try await Self.restartAFollowerThatMissedSnapshots(cluster, throughASnapshot: true)
            var expected = caughtUp
            #expect((caughtUpNode.metric("raft_snapshots_installed_total") ?? 0) >= 1)
            #expect(try caughtUpNode.storage.latestSnapshot() != nil)
            #expect(cluster.running.allSatisfy { $0.callsOnEventLoop == 0 })
            // Started again, it restores the snapshot it stored, off the event loop.
            await cluster.crash(caughtUpNode)
            let restarted = try await cluster.restart(caughtUpNode)
            try await waitFor("the node to restore its state") { restarted.machine.all == expected }
            #expect(restarted.machine.restores.load(ordering: .relaxed) == 1)
            #expect(restarted.machine.restoresOnEventLoop.load(ordering: .relaxed) == 0)
            // And it keeps up with what comes next.
            _ = try await proposeSafely(command("after", 0), on: restarted)
            expected.append(command("after", 0))
            try await waitFor("every node to apply the last write") { cluster.running.allSatisfy { $0.machine.all == expected } }
        }
    }

    /// Three nodes; a follower applies one write and crashes; 20 writes commit without it while the leader
    /// takes at least two snapshots; the follower restarts and catches up (by entries or by a snapshot,
    /// as the cluster's `trailingLogs` allows: say which with `throughASnapshot`, so the wait covers the
    /// install too). Returns the leader, the restarted node and every command.
    static func restartAFollowerThatMissedSnapshots(
        _ cluster: RaftTestCluster, throughASnapshot: Bool
    ) async throws -> (RaftTestNode, RaftTestNode, [[UInt8]]) {
        let nodes = try await cluster.start(["a", "b", "c"])
        let leader = try await cluster.waitForLeader()
        let lagging = try #require(nodes.first { $0.id != leader.id })
        _ = try await leader.raft.propose(command("early", 0), timeout: .seconds(10))
        try await waitFor("the lagging node to apply the first write") { lagging.machine.all.count == 1 }
        await cluster.crash(lagging)
        var expected = [command("early", 0)]
        for index in 0..<20 {
            _ = try await proposeSafely(command("while-down", index), on: leader)
            expected.append(command("while-down", index))
        }
        try await waitFor("the leader to take snapshots") { (leader.metric("raft_snapshots_taken_total") ?? 0) >= 2 }
        let restarted = try await cluster.restart(lagging)
        try await waitFor("the restarted node to catch up") {
            throughASnapshot ? restarted.caughtUpThroughASnapshot(expected) : restarted.machine.all == expected
        }
        return (leader, restarted, expected)
    }
}

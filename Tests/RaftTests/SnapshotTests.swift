import CohortCore
@testable import RaftCore
import Testing

@Suite("Raft snapshots")
struct SnapshotTests {
    @Test("a follower whose log conflicts with the installed snapshot discards its whole log")
    func conflictingSnapshotDiscardsLog() throws {
        let configuration = Configuration(voters: ["a", "b", "c"].map(NodeID.init))
        var cluster = TestCluster(storages: [
            ("a", .log(configuration, terms: [1, 1], term: 3, commit: 2)),
            ("b", .log(configuration, terms: [1, 1], term: 3, commit: 2)),
            ("c", .log(configuration, terms: [1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2], term: 3, commit: 2)),
        ])
        cluster.isolate("c")
        cluster.elect("a")
        for index in 0..<10 { try cluster.propose("a", "v\(index)") }
        cluster["a"].compact(through: cluster["a"].appliedIndex)
        let snapshot = cluster["a"].log.snapshot
        #expect(snapshot.index == 13 && snapshot.configuration == configuration)
        cluster.heal()
        cluster.tick(times: 3)
        #expect(cluster.installedSnapshots[NodeID("c")] == [snapshot])
        #expect(cluster["c"].log.snapshot == snapshot)
        #expect(cluster["c"].log.entry(at: 5) == nil, "the conflicting entries are gone")
        #expect(cluster["c"].log.term(at: snapshot.index) == snapshot.term)
        #expect(cluster["c"].configuration == configuration, "the snapshot restores the configuration")
        try cluster.propose("a", "after")
        #expect(cluster["c"].lastIndex == cluster["a"].lastIndex)
        #expect(cluster["c"].commitIndex == cluster["a"].commitIndex)
        #expect(cluster.appliedCommands("c") == ["after"], "entries after the snapshot are applied on top of it")
    }

    @Test("a compaction that keeps trailing entries catches a slightly lagging follower up by entries, a far one by the newest snapshot")
    func trailingEntriesSpareASnapshot() throws {
        var cluster = TestCluster(voters: ["a", "b", "c"])
        cluster.elect("a")
        cluster.isolate("c")
        for index in 0..<4 { try cluster.propose("a", "v\(index)") }
        let lagging = cluster["c"].lastIndex
        for index in 4..<10 { try cluster.propose("a", "v\(index)") }
        let applied = cluster["a"].appliedIndex
        // Keep enough trailing entries to cover what c lacks, and no more.
        let trailing = applied - lagging
        cluster["a"].compact(through: applied, keepingTrailing: trailing)
        #expect(cluster["a"].log.latestSnapshot.index == applied)
        #expect(cluster["a"].log.snapshot.index == lagging, "the log still holds the trailing entries")
        #expect(cluster["a"].log.entry(at: lagging + 1) != nil)
        cluster.heal()
        cluster.tick(times: 3)
        #expect(cluster.installedSnapshots[NodeID("c")] == nil, "c caught up by entries the snapshot covers")
        #expect(cluster["c"].lastIndex == cluster["a"].lastIndex)
        #expect(cluster.appliedCommands("c") == (0..<10).map { "v\($0)" })

        // One entry less kept: c lacks an entry that is gone and gets the newest snapshot, not the boundary.
        var far = TestCluster(voters: ["a", "b", "c"])
        far.elect("a")
        far.isolate("c")
        for index in 0..<4 { try far.propose("a", "v\(index)") }
        let behind = far["c"].lastIndex
        for index in 4..<10 { try far.propose("a", "v\(index)") }
        let through = far["a"].appliedIndex
        far["a"].compact(through: through, keepingTrailing: through - behind - 1)
        far.heal()
        far.tick(times: 3)
        #expect(far.installedSnapshots[NodeID("c")] == [far["a"].log.latestSnapshot])
        #expect(far["a"].log.latestSnapshot.index == through)
        #expect(far["c"].lastIndex == far["a"].lastIndex)
    }

    @Test("a lost snapshot is sent again after the snapshot timeout, or at once when the shell reports a failure")
    func lostSnapshotIsResent() throws {
        var cluster = TestCluster(voters: ["a", "b", "c"], settings: RaftNodeSettings(snapshotTimeoutTicks: 5))
        cluster.elect("a")
        cluster.isolate("c")
        for index in 0..<5 { try cluster.propose("a", "v\(index)") }
        cluster["a"].compact(through: cluster["a"].appliedIndex)
        cluster.heal()
        cluster.dropIf = { message in
            if case .snapshot = message.kind { return true }
            return false
        }
        cluster.tick(["a"], times: 2)
        #expect(cluster["a"].progress[NodeID("c")]?.state == .snapshot(index: cluster["a"].log.snapshot.index))
        cluster.dropIf = nil
        cluster.tick(["a"], times: 2)
        #expect(cluster.installedSnapshots[NodeID("c")] == nil, "still waiting for the lost one")
        cluster.tick(["a"], times: 5)
        #expect(cluster.installedSnapshots[NodeID("c")]?.count == 1)
        #expect(cluster["c"].lastIndex == cluster["a"].lastIndex)

        // The shell's report short-cuts the timeout.
        var reported = TestCluster(voters: ["a", "b", "c"], settings: RaftNodeSettings(snapshotTimeoutTicks: 1000))
        reported.elect("a")
        reported.isolate("c")
        try reported.propose("a", "x")
        reported["a"].compact(through: reported["a"].appliedIndex)
        reported.heal()
        reported.dropIf = { message in
            if case .snapshot = message.kind { return true }
            return false
        }
        reported.tick(["a"], times: 1)
        reported.dropIf = nil
        reported["a"].reportSnapshot(to: NodeID("c"), delivered: false)
        reported.tick(["a"], times: 2)
        #expect(reported.installedSnapshots[NodeID("c")]?.count == 1)
    }

    @Test("a snapshot whose last entry the follower already holds only moves its commit index")
    func matchingSnapshotKeepsLog() {
        let configuration = Configuration(voters: ["a", "b"].map(NodeID.init))
        var node = RaftNode(id: NodeID("b"), storage: .log(configuration, terms: [1, 1, 1, 1], term: 1, commit: 1))
        let metadata = SnapshotMetadata(index: 3, term: 1, configuration: configuration)
        node.step(Message(from: NodeID("a"), to: NodeID("b"), term: 1, kind: .snapshot(metadata)))
        #expect(node.commitIndex == 3)
        #expect(node.lastIndex == 4)
        let ready = node.ready()
        #expect(ready.snapshot == nil)
        #expect(ready.messages.map(\.message.kind) == [.appendResponse(.accept(3))])
    }

    @Test("a stale snapshot (at or below the commit index) is acknowledged and ignored")
    func staleSnapshotIgnored() {
        let configuration = Configuration(voters: ["a", "b"].map(NodeID.init))
        var node = RaftNode(id: NodeID("b"), storage: .log(configuration, terms: [1, 1, 1, 1], term: 1, commit: 4))
        node.step(Message(from: NodeID("a"), to: NodeID("b"), term: 1, kind: .snapshot(SnapshotMetadata(index: 2, term: 1, configuration: configuration))))
        let ready = node.ready()
        #expect(ready.snapshot == nil && node.lastIndex == 4)
        #expect(ready.messages.map(\.message.kind) == [.appendResponse(.accept(4))])
    }

    @Test("compaction keeps the configuration in force at the snapshot index")
    func compactionKeepsConfiguration() throws {
        var cluster = TestCluster(voters: ["a", "b", "c"], empty: ["d"])
        cluster.elect("a")
        try cluster["a"].proposeConfigurationChange(.addStandby(NodeID("d")))
        cluster.stabilize()
        try cluster.propose("a", "x")
        cluster["a"].compact(through: cluster["a"].appliedIndex)
        #expect(cluster["a"].log.snapshot.configuration.standbys == [NodeID("d")])
        #expect(cluster["a"].configuration.standbys == [NodeID("d")])
    }
}

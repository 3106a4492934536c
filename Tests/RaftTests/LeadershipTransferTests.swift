import CohortCore
@testable import RaftCore
import Testing

@Suite("Raft leadership transfer")
struct LeadershipTransferTests {
    @Test("transfer to a caught-up voter: it campaigns at once and wins the next term")
    func transferSucceeds() throws {
        var cluster = TestCluster(voters: ["a", "b", "c"])
        cluster.elect("a")
        try cluster["a"].transferLeadership(to: NodeID("b"))
        cluster.stabilize()
        #expect(cluster["b"].state == .leader)
        #expect(cluster["b"].term == 3)
        #expect(cluster["a"].state == .follower && cluster["a"].leader == NodeID("b"))
    }

    @Test("a target that is behind is caught up first, then takes over")
    func targetCatchesUpThenTransfers() throws {
        var cluster = TestCluster(voters: ["a", "b", "c"])
        cluster.elect("a")
        cluster.isolate("b")
        for index in 0..<5 { try cluster.propose("a", "v\(index)") }
        cluster.heal()
        #expect(cluster["b"].lastIndex < cluster["a"].lastIndex)
        try cluster["a"].transferLeadership(to: NodeID("b"))
        #expect(throws: ProposalError.transferInProgress(transferee: NodeID("b"))) { try cluster["a"].propose([1]) }
        cluster.stabilize()
        cluster.tick(times: 2)
        #expect(cluster["b"].state == .leader)
        #expect(cluster.appliedCommands("b") == ["v0", "v1", "v2", "v3", "v4"])
    }

    @Test("a transfer that cannot finish is abandoned after an election timeout and proposals resume")
    func transferAbortsOnTimeout() throws {
        var cluster = TestCluster(voters: ["a", "b", "c"])
        cluster.elect("a")
        cluster.isolate("b")
        try cluster.propose("a", "x")
        try cluster["a"].transferLeadership(to: NodeID("b"))
        #expect(cluster["a"].transferee == NodeID("b"))
        cluster.tick(["a", "c"], times: 10)
        #expect(cluster["a"].transferee == nil)
        #expect(cluster["a"].state == .leader)
        _ = try cluster.propose("a", "y")
    }

    @Test("a late timeoutNow is obeyed only from the leader the node follows: a restarted node ignores it")
    func staleTimeoutNowIsIgnored() throws {
        var cluster = TestCluster(voters: ["a", "b", "c"])
        cluster.elect("a")
        try cluster.propose("a", "x")
        let term = cluster["a"].term
        let late = Message(from: NodeID("a"), to: NodeID("b"), term: term, kind: .timeoutNow)
        // b restarts in the same term: it knows no leader yet when the old transfer's message arrives.
        cluster.restart("b")
        cluster["b"].step(late)
        cluster.stabilize()
        #expect(cluster["b"].state == .follower && cluster["b"].term == term, "b campaigned on a transfer it knows nothing of")
        #expect(cluster["a"].state == .leader)
        // From the leader it follows, in its term, it is obeyed.
        cluster.tick(["a"])
        #expect(cluster["b"].leader == NodeID("a"))
        cluster["b"].step(late)
        cluster.stabilize()
        #expect(cluster["b"].state == .leader && cluster["b"].term == term + 1)
    }

    @Test("transfer is refused to a standby and on a follower")
    func transferRefused() {
        var cluster = TestCluster(voters: ["a", "b", "c"], standbys: ["s"])
        cluster.elect("a")
        #expect(throws: TransferError.notVoter(NodeID("s"))) { try cluster["a"].transferLeadership(to: NodeID("s")) }
        #expect(throws: TransferError.notLeader(leader: NodeID("a"))) { try cluster["b"].transferLeadership(to: NodeID("c")) }
    }
}

import CohortCore
@testable import Consensus
import Testing

@Suite("Raft ReadIndex")
struct ReadIndexTests {
    @Test("on the leader: confirmed by a heartbeat round, answered with the commit index")
    func readOnLeader() throws {
        var cluster = TestCluster(voters: ["a", "b", "c"])
        cluster.elect("a")
        try cluster.propose("a", "x")
        try cluster["a"].readIndex(context: 7)
        #expect(cluster["a"].hasReady)
        cluster.stabilize()
        #expect(cluster.readStates[NodeID("a")] == [ReadState(context: 7, index: cluster["a"].commitIndex)])
    }

    @Test("the leader needs a majority's heartbeat answers before it answers")
    func readNeedsQuorum() throws {
        var cluster = TestCluster(voters: ["a", "b", "c"])
        cluster.elect("a")
        cluster.isolate("b")
        cluster.isolate("c")
        try cluster["a"].readIndex(context: 1)
        cluster.stabilize()
        #expect(cluster.readStates[NodeID("a")] ?? [] == [])
        cluster.heal()
        cluster.tick(["a"], times: 1)
        #expect(cluster.readStates[NodeID("a")]?.map(\.context) == [1])
    }

    @Test("via a follower: forwarded to the leader, the index comes back")
    func readViaFollower() throws {
        var cluster = TestCluster(voters: ["a", "b", "c"])
        cluster.elect("a")
        try cluster.propose("a", "x")
        try cluster["b"].readIndex(context: 42)
        cluster.stabilize()
        #expect(cluster.readStates[NodeID("b")] == [ReadState(context: 42, index: cluster["a"].commitIndex)])
        var leaderless = TestCluster(voters: ["a", "b", "c"])
        #expect(throws: ReadIndexError.noLeader) { try leaderless["b"].readIndex(context: 1) }
    }

    @Test("a new leader waits for an entry of its term to commit before answering")
    func readWaitsForCommitInTerm() throws {
        var blocked = TestCluster(voters: ["a", "b", "c"])
        blocked.dropIf = { message in
            if case .append = message.kind { return true }
            return false
        }
        blocked.elect("a")
        try blocked["a"].readIndex(context: 5)
        blocked.stabilize()
        #expect(blocked.readStates[NodeID("a")] ?? [] == [])
        blocked.heal()
        blocked.tick(["a"], times: 1)
        #expect(blocked.readStates[NodeID("a")]?.map(\.context) == [5])
        #expect(blocked.readStates[NodeID("a")]?.first?.index == blocked["a"].commitIndex)
    }

    @Test("a stale leader cut off from the majority cannot serve a read; it drops it when it learns")
    func staleLeaderCannotServe() throws {
        var cluster = TestCluster(voters: ["a", "b", "c"], settings: RaftSettings(checkQuorum: false))
        cluster.elect("a")
        cluster.isolate("a")
        cluster.elect("b")
        #expect(cluster["b"].role == .leader && cluster["a"].role == .leader)
        try cluster.propose("b", "newer")
        try cluster["a"].readIndex(context: 9)
        cluster.tick(["a"], times: 3)
        #expect(cluster.readStates[NodeID("a")] ?? [] == [], "no answer without a majority")
        cluster.heal()
        cluster.tick(times: 2)
        #expect(cluster["a"].role == .follower)
        #expect(cluster.readStates[NodeID("a")] ?? [] == [])
        #expect(cluster.droppedReads[NodeID("a")] == [9])
    }
}

import CohortCore
@testable import RaftCore
import Synchronization
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
        var cluster = TestCluster(voters: ["a", "b", "c"], settings: RaftNodeSettings(checkQuorum: false))
        cluster.elect("a")
        cluster.isolate("a")
        cluster.elect("b")
        #expect(cluster["b"].state == .leader && cluster["a"].state == .leader)
        try cluster.propose("b", "newer")
        try cluster["a"].readIndex(context: 9)
        cluster.tick(["a"], times: 3)
        #expect(cluster.readStates[NodeID("a")] ?? [] == [], "no answer without a majority")
        cluster.heal()
        cluster.tick(times: 2)
        #expect(cluster["a"].state == .follower)
        #expect(cluster.readStates[NodeID("a")] ?? [] == [])
        #expect(cluster.droppedReads[NodeID("a")] == [9])
    }

    /// The leader's answer to a follower's read is delayed past the follower's restart. With contexts that
    /// restart at the same value in every boot, the old answer completes the new boot's read with an index
    /// from before a later commit: a stale read. Contexts drawn from the incarnation never repeat.
    @Test("an answer to a read of an earlier boot never completes a read of the next boot")
    func readContextsAreUniqueAcrossRestarts() throws {
        var cluster = TestCluster(voters: ["a", "b", "c"])
        cluster.elect("a")
        try cluster.propose("a", "x")
        let held = Mutex<[Message]>([])
        cluster.dropIf = { message in
            guard case .readIndexResponse = message.kind else { return false }
            held.withLock { $0.append(message) }
            return true
        }
        var firstBoot = ReadContextSequence(incarnation: 1_700_000_000_000)
        try cluster["b"].readIndex(context: firstBoot.take())
        cluster.stabilize()
        let oldAnswer = try #require(held.withLock { $0.first })

        cluster.restart("b")
        cluster.tick(["a"])  // b follows a again
        try cluster.propose("a", "y")
        let floor = cluster["a"].commitIndex
        var secondBoot = ReadContextSequence(incarnation: 1_700_000_000_001)
        let context = secondBoot.take()
        try cluster["b"].readIndex(context: context)
        cluster.stabilize()
        cluster["b"].step(oldAnswer)
        cluster.stabilize()
        let answered = cluster.readStates[NodeID("b")] ?? []
        #expect(answered.allSatisfy { $0.index >= floor }, "stale answer \(answered) for a read that started at commit \(floor)")
        #expect(!answered.contains { $0.context == context }, "only the new read's own answer may complete it")

        // Its own answer does.
        cluster.dropIf = nil
        let fresh = held.withLock { $0.last! }
        cluster["b"].step(fresh)
        cluster.stabilize()
        #expect(cluster.readStates[NodeID("b")] == [ReadState(context: context, index: floor)])
    }

    @Test("a follower's forwarded read is dropped when its leader changes, and a late or abandoned answer is ignored")
    func forwardedReadsFollowTheLeader() throws {
        var cluster = TestCluster(voters: ["a", "b", "c"])
        cluster.elect("a")
        let held = Mutex<[Message]>([])
        cluster.dropIf = { message in
            guard case .readIndexResponse = message.kind else { return false }
            held.withLock { $0.append(message) }
            return true
        }
        try cluster["b"].readIndex(context: 5)
        try cluster["b"].readIndex(context: 6)
        cluster.stabilize()
        #expect(held.withLock { $0.count } == 2)
        cluster["b"].abandonRead(context: 6)
        cluster["b"].step(held.withLock { $0[1] })
        cluster.stabilize()
        #expect(cluster.readStates[NodeID("b")] ?? [] == [], "the caller gave up on 6")

        cluster.dropIf = nil
        try cluster["a"].transferLeadership(to: NodeID("c"))
        cluster.stabilize()
        #expect(cluster["c"].state == .leader && cluster["b"].leader == NodeID("c"))
        #expect(cluster.droppedReads[NodeID("b")] == [5], "a new leader never answers a read sent to the old one")
        cluster["b"].step(held.withLock { $0[0] })
        cluster.stabilize()
        #expect(cluster.readStates[NodeID("b")] ?? [] == [])
    }
}

import CohortCore
@testable import RaftCore
import Testing

@Suite("Raft Ready contract")
struct ReadyContractTests {
    @Test("votes, vote requests and append acknowledgements wait for persistence; leader appends do not")
    func afterPersistTags() throws {
        let configuration = Configuration(voters: ["a", "b", "c"].map(NodeID.init))
        var a = RaftNode(id: NodeID("a"), settings: RaftNodeSettings(preVote: false), storage: .bootstrap(configuration))
        var b = RaftNode(id: NodeID("b"), settings: RaftNodeSettings(preVote: false), storage: .bootstrap(configuration))
        a.campaign()
        let campaign = a.ready()
        #expect(campaign.hardState == HardState(term: 2, vote: NodeID("a"), commit: 0))
        #expect(campaign.messages.count == 2 && campaign.messages.allSatisfy { $0.afterPersist })
        a.advance()
        b.step(campaign.messages[0].message)
        let vote = b.ready()
        #expect(vote.hardState?.vote == NodeID("a"))
        #expect(vote.messages.map(\.afterPersist) == [true])
        b.advance()
        a.step(vote.messages[0].message)
        #expect(a.state == .leader)
        let lead = a.ready()
        #expect(lead.entries.count == 1)
        #expect(lead.messages.allSatisfy { !$0.afterPersist }, "a leader's appends go out in parallel with its write")
        a.advance()
        b.step(lead.messages.first { $0.message.to == NodeID("b") }!.message)
        let ack = b.ready()
        #expect(ack.entries.count == 1)
        #expect(ack.messages.allSatisfy { $0.afterPersist })
    }

    @Test("ready and advance: stable, applied and hard state move only on advance")
    func advanceMovesState() throws {
        var node = RaftNode(id: NodeID("a"), storage: .bootstrap(Configuration(voters: [NodeID("a")])))
        node.campaign()
        var ready = node.ready()
        #expect(!ready.entries.isEmpty)
        #expect(!node.hasReady, "nothing new until advance")
        node.advance()
        #expect(node.hasReady)
        ready = node.ready()
        #expect(ready.committedEntries.map(\.index) == [1, 2])
        #expect(ready.hardState?.commit == 2)
        node.advance()
        #expect(!node.hasReady)
        #expect(node.appliedIndex == 2)
    }

    @Test("a restarted node keeps its term, vote, log and commit index")
    func restartRestoresState() throws {
        var cluster = TestCluster(voters: ["a", "b", "c"])
        cluster.elect("a")
        try cluster.propose("a", "x")
        let before = cluster["b"]
        cluster.restart("b")
        #expect(cluster["b"].term == before.term && cluster["b"].vote == before.vote)
        #expect(cluster["b"].lastIndex == before.lastIndex && cluster["b"].commitIndex == before.commitIndex)
        #expect(cluster["b"].state == .follower && cluster["b"].leader == nil)
    }
}

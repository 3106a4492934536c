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

    @Test("a ready carries the soft state when the leader or the node's state changed, and only then")
    func softStateOnlyWhenChanged() {
        var node = RaftNode(id: NodeID("a"), storage: .bootstrap(Configuration(voters: [NodeID("a")])))
        node.campaign()
        let first = node.ready()
        #expect(first.softState == SoftState(leader: NodeID("a"), state: .leader), "a single voter wins at once")
        node.advance()
        let second = node.ready()
        #expect(second.softState == nil, "nothing changed since")
        node.advance()
        // A heartbeat of a higher term from another leader: it follows that leader.
        node.step(Message(from: NodeID("b"), to: NodeID("a"), term: 9, kind: .heartbeat(commit: 0, readSequence: 0)))
        #expect(node.ready().softState == SoftState(leader: NodeID("b"), state: .follower))
    }

    @Test("the ready that clears the blank mark says the replica was admitted, once")
    func admittedOnce() {
        var node = RaftNode(id: NodeID("x"), storage: .empty)
        let leader = NodeID("l")
        node.step(Message(from: leader, to: node.id, term: 2, kind: .append(AppendRequest(previous: .zero, entries: [
            LogEntry(term: 1, index: 1, payload: .configuration(Configuration(voters: [leader, NodeID("x")]))),
        ], commit: 1))))
        #expect(!node.ready().admitted)
        node.advance()
        node.step(Message(from: leader, to: node.id, term: 2, kind: .admit(through: LogPosition(term: 1, index: 1))))
        #expect(node.ready().admitted && !node.isBlank)
        node.advance()
        node.step(Message(from: leader, to: node.id, term: 2, kind: .heartbeat(commit: 1, readSequence: 0)))
        #expect(!node.ready().admitted)
    }
}

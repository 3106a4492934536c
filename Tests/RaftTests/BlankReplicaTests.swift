import CohortCore
@testable import RaftCore
import Testing

/// A voter whose data directory is lost and that comes back under the same name starts from empty storage:
/// it forgot the votes it cast and the entries it acknowledged. It must neither vote nor count until a
/// leader that a quorum still follows has brought it up to date and admitted it.
@Suite("Raft: blank replicas (wiped disks) neither vote nor count until admitted")
struct BlankReplicaTests {
    /// No PreVote and no CheckQuorum lease: nothing but the blank rule stands between a wiped voter and a
    /// second vote.
    static let bare = RaftNodeSettings(preVote: false, checkQuorum: false)

    @Test("a node that starts from empty storage is blank, persists the mark, and never campaigns")
    func pristineNodeIsBlank() {
        var node = RaftNode(id: NodeID("x"), settings: Self.bare, storage: .empty)
        #expect(node.isBlank && !node.isPromotable)
        #expect(!node.hasReady, "term 0 reads as blank on every start: nothing to write yet")
        // The first term it learns is written with the mark.
        node.step(Message(from: NodeID("l"), to: NodeID("x"), term: 3, kind: .heartbeat(commit: 0, readSequence: 0)))
        let ready = node.ready()
        #expect(ready.hardState == HardState(term: 3, vote: nil, commit: 0, blank: true))
        #expect(ready.messages.map(\.message.kind) == [.appendResponse(.blankNotice)])
        node.advance()
        let torn = RaftNode(id: NodeID("x"), settings: Self.bare, storage: LogStorage(entries: [LogEntry(term: 3, index: 1, payload: .noop)]))
        #expect(torn.isBlank, "entries whose hard state a crash tore off: term 0 is still blank")
        let founder = RaftNode(id: NodeID("x"), settings: Self.bare, storage: .bootstrap(Configuration(voters: [NodeID("x")])))
        #expect(!founder.isBlank, "founding a group is its own admission")
        let restarted = RaftNode(id: NodeID("x"), settings: Self.bare, storage: LogStorage(hardState: HardState(term: 4, blank: true)))
        #expect(restarted.isBlank, "the mark survives a restart")
    }

    @Test("a wiped voter refuses a second vote in a term it already voted in")
    func wipedVoterDoesNotVoteTwice() {
        var cluster = TestCluster(voters: ["a", "b", "c"], settings: Self.bare)
        cluster.cutLink("a", "c")
        cluster.elect("a")
        #expect(cluster["a"].state == .leader && cluster["a"].term == 2, "a won term 2 with b's vote")
        #expect(cluster["b"].vote == NodeID("a"))

        cluster.wipe("b")
        cluster.isolate("a")
        // c never heard of term 2: it campaigns in it, and asks b.
        cluster["c"].campaign()
        cluster.stabilize()
        #expect(cluster["c"].term == 2)
        #expect(cluster.leadersByTerm[2] == [NodeID("a")], "two leaders in term 2: \(cluster.leadersByTerm[2] ?? [])")
        #expect(cluster["c"].state != .leader)
        #expect(cluster["b"].vote == nil && cluster["b"].isBlank)
    }

    @Test("an entry committed with a wiped voter's acknowledgement is not lost when that voter comes back empty")
    func committedEntrySurvivesWipe() throws {
        var cluster = TestCluster(voters: ["a", "b", "c"], settings: Self.bare)
        cluster.elect("a")
        cluster.isolate("c")
        let index = try cluster.propose("a", "x")
        #expect(cluster["a"].commitIndex >= index, "committed by a and b")
        #expect(cluster["c"].lastIndex < index)

        // b loses its disk, a goes away: c (without x) campaigns and asks the blank b.
        cluster.wipe("b")
        cluster.heal()
        cluster.isolate("a")
        for _ in 0..<5 {
            cluster["c"].campaign()
            cluster.stabilize()
        }
        #expect(cluster["c"].state != .leader, "c would lead without the committed x")

        // a comes back: it leads again with c's vote, x survives, and b is brought up to date and admitted.
        cluster.heal()
        cluster.tick(times: 60)
        let leader = try #require(cluster.leaders.first)
        #expect(cluster[leader.rawValue].log.entry(at: index)?.payload == .command(Array("x".utf8)))
        try cluster.propose(leader.rawValue, "after")
        #expect(cluster.appliedCommands("c").contains("x"))
        #expect(!cluster["b"].isBlank, "admitted once caught up")
        #expect(cluster["b"].log.entry(at: index)?.payload == .command(Array("x".utf8)))
    }

    @Test("a blank replica's acknowledgements count towards no commit until it is admitted")
    func blankAcknowledgementsDoNotCount() throws {
        var cluster = TestCluster(voters: ["a", "b", "c"], settings: Self.bare)
        cluster.elect("a")
        try cluster.propose("a", "before")
        cluster.wipe("b")
        cluster.isolate("c")
        cluster.tick(["a"], times: 3)
        #expect(cluster["a"].progress[NodeID("b")]?.isBlank == true, "the leader learned that b is blank")
        let commit = cluster["a"].commitIndex
        let index = try cluster.propose("a", "y")
        cluster.tick(["a"], times: 3)
        #expect(cluster["b"].lastIndex >= index, "b holds y")
        #expect(cluster["a"].commitIndex == commit, "b's acknowledgement of y is not counted")
        #expect(cluster["b"].isBlank, "without c no round confirms the leader, so b is not admitted")

        cluster.heal()
        cluster.tick(["a"], times: 3)
        #expect(cluster["a"].commitIndex >= index)
        #expect(!cluster["b"].isBlank && cluster["a"].progress[NodeID("b")]?.isBlank == false)
        #expect(cluster.delivered.contains { $0.to == NodeID("b") && $0.kind == .admit(through: LogPosition(term: cluster["a"].term, index: $0.admittedIndex)) })
    }

    @Test("a deposed leader cannot admit a blank replica; the new leader does")
    func deposedLeaderCannotAdmit() throws {
        var cluster = TestCluster(voters: ["a", "b", "c", "d", "e"], settings: Self.bare)
        cluster.elect("a")
        try cluster.propose("a", "x")
        cluster.wipe("b")
        // a and the blank b on one side; c, d and e elect c and move on.
        for (left, right) in [("a", "c"), ("a", "d"), ("a", "e"), ("b", "c"), ("b", "d"), ("b", "e")] { cluster.cutLink(left, right) }
        cluster.elect("c")
        try cluster.propose("c", "newer")
        cluster.tick(["a"], times: 20)
        #expect(cluster["a"].state == .leader, "a does not know it was deposed")
        #expect(cluster["b"].lastIndex >= cluster["a"].lastIndex, "b caught up with a's log")
        #expect(cluster["b"].isBlank, "a cannot get a quorum to confirm the admission")

        cluster.heal()
        cluster.tick(times: 20)
        #expect(cluster["c"].state == .leader && cluster["a"].state == .follower)
        #expect(!cluster["b"].isBlank)
        #expect(cluster["b"].log.entries(from: 1)?.contains { $0.payload == .command(Array("newer".utf8)) } == true)
    }

    @Test("a new server added as a standby is admitted once caught up, and can then be promoted and vote")
    func newStandbyIsAdmitted() throws {
        var cluster = TestCluster(voters: ["a", "b", "c"], empty: ["d"], settings: Self.bare)
        cluster.elect("a")
        try cluster.propose("a", "x")
        try cluster["a"].proposeConfigurationChange(.addStandby(NodeID("d")))
        cluster.stabilize()
        #expect(!cluster["d"].isBlank)
        try cluster["a"].proposeConfigurationChange(.promote(NodeID("d")))
        cluster.stabilize()
        #expect(cluster["d"].isPromotable)
    }
}

private extension Message {
    /// The index an admission names (0 for any other message).
    var admittedIndex: LogIndex {
        if case .admit(let position) = kind { position.index } else { 0 }
    }
}

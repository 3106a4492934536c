import CohortCore
@testable import RaftCore
import Testing

@Suite("Raft configuration changes")
struct MembershipTests {
    @Test("add standby → promote → demote → remove, one at a time; a second change waits for the first")
    func fullLifecycle() throws {
        let d = NodeID("d")
        var cluster = TestCluster(voters: ["a", "b", "c"], empty: ["d"])
        cluster.elect("a")
        try cluster["a"].proposeConfigurationChange(.addStandby(d))
        #expect(cluster["a"].standbys == [d], "in force as soon as appended")
        #expect(throws: ProposalError.configurationChangePending(index: cluster["a"].lastIndex)) {
            try cluster["a"].proposeConfigurationChange(.promote(d))
        }
        cluster.stabilize()
        #expect(cluster["d"].standbys == [d] && cluster["d"].lastIndex == cluster["a"].lastIndex)
        #expect(cluster["a"].progress[d] != nil)

        try cluster["a"].proposeConfigurationChange(.promote(d))
        cluster.stabilize()
        #expect(cluster["a"].voters.contains(d) && cluster["c"].voters.contains(d))
        #expect(cluster["d"].isPromotable)

        try cluster["a"].proposeConfigurationChange(.demote(d))
        cluster.stabilize()
        #expect(cluster["b"].standbys == [d] && !cluster["b"].voters.contains(d))

        try cluster["a"].proposeConfigurationChange(.remove(d))
        cluster.stabilize()
        #expect(cluster["a"].configuration == Configuration(voters: ["a", "b", "c"].map(NodeID.init)))
        #expect(cluster["a"].progress[d] == nil)
        try cluster.propose("a", "after")
        #expect(cluster.appliedCommands("c") == ["after"])
    }

    @Test("a new leader may not change the configuration before it commits an entry of its term")
    func leaderNotReadyBeforeCommitInTerm() {
        let configuration = Configuration(voters: ["a", "b", "c"].map(NodeID.init))
        var cluster = TestCluster(storages: ["a", "b", "c"].map { ($0, .log(configuration, terms: [1], term: 1, commit: 1)) })
        cluster.dropIf = { message in
            if case .appendResponse = message.kind { return true }
            return false
        }
        cluster.elect("a")
        #expect(throws: ProposalError.leaderNotReady) { try cluster["a"].proposeConfigurationChange(.addStandby(NodeID("d"))) }
    }

    @Test("invalid changes are refused with the reason")
    func invalidChanges() {
        var cluster = TestCluster(voters: ["a", "b", "c"], standbys: ["s"])
        cluster.elect("a")
        #expect(throws: ProposalError.invalidChange(.alreadyMember(NodeID("b")))) { try cluster["a"].proposeConfigurationChange(.addStandby(NodeID("b"))) }
        #expect(throws: ProposalError.invalidChange(.notStandby(NodeID("b")))) { try cluster["a"].proposeConfigurationChange(.promote(NodeID("b"))) }
        #expect(throws: ProposalError.invalidChange(.notVoter(NodeID("s")))) { try cluster["a"].proposeConfigurationChange(.demote(NodeID("s"))) }
        #expect(throws: ProposalError.invalidChange(.notMember(NodeID("x")))) { try cluster["a"].proposeConfigurationChange(.remove(NodeID("x"))) }
        var single = TestCluster(voters: ["a"])
        single.elect("a")
        #expect(throws: ProposalError.invalidChange(.lastVoter(NodeID("a")))) { try single["a"].proposeConfigurationChange(.remove(NodeID("a"))) }
        #expect(throws: ProposalError.notLeader(leader: NodeID("a"))) { try cluster["b"].proposeConfigurationChange(.remove(NodeID("s"))) }
    }

    @Test("a leader that removes itself hands leadership to a caught-up voter, then steps down")
    func removedLeaderHandsOver() throws {
        var cluster = TestCluster(voters: ["a", "b", "c"])
        cluster.elect("a")
        try cluster["a"].proposeConfigurationChange(.remove(NodeID("a")))
        cluster.stabilize()
        cluster.tick(times: 2)
        #expect(cluster["a"].state == .follower)
        let leaders = cluster.leaders
        #expect(leaders.count == 1 && leaders.first != NodeID("a"))
        let leader = leaders[0].rawValue
        #expect(cluster[leader].configuration == Configuration(voters: ["b", "c"].map(NodeID.init)))
        try cluster.propose(leader, "after")
        #expect(cluster.appliedCommands(leader == "b" ? "c" : "b") == ["after"])
    }

    @Test("a leader that demotes itself hands over and stays as a standby")
    func demotedLeaderHandsOver() throws {
        var cluster = TestCluster(voters: ["a", "b", "c"])
        cluster.elect("a")
        try cluster["a"].proposeConfigurationChange(.demote(NodeID("a")))
        cluster.stabilize()
        cluster.tick(times: 2)
        #expect(cluster["a"].state == .follower)
        #expect(cluster.leaders.count == 1)
        let leader = cluster.leaders[0].rawValue
        try cluster.propose(leader, "after")
        #expect(cluster.appliedCommands("a") == ["after"], "the demoted leader is still replicated")
        cluster.tick(["a"], times: 100)
        #expect(cluster["a"].state == .follower, "and, as a standby, never campaigns")
    }

    @Test("removing a voter shrinks the quorum: two of the remaining three commit")
    func removalShrinksQuorum() throws {
        var cluster = TestCluster(voters: ["a", "b", "c", "d"])
        cluster.elect("a")
        cluster.isolate("d")
        try cluster["a"].proposeConfigurationChange(.remove(NodeID("d")))
        cluster.stabilize()
        cluster.isolate("c")
        try cluster.propose("a", "x")
        #expect(cluster.appliedCommands("b") == ["x"], "a and b are a majority of a, b, c")
    }
}

@Suite("Heartbeats to standbys")
struct StandbyHeartbeatTests {
    static func heartbeats(to name: String, in messages: [Message]) -> Int {
        messages.filter { message in
            guard message.to == NodeID(name), case .heartbeat = message.kind else { return false }
            return true
        }.count
    }

    @Test("with standbyHeartbeatRounds 4, voters hear every round and a standby every 4th; read rounds skip standbys")
    func standbysHearEveryFourthRound() throws {
        var cluster = TestCluster(
            voters: ["a", "b", "c"], standbys: ["s"], settings: RaftNodeSettings(standbyHeartbeatRounds: 4)
        )
        cluster.elect("a")
        cluster.delivered = []
        cluster.tick(["a"], times: 8)
        #expect(Self.heartbeats(to: "b", in: cluster.delivered) == 8)
        #expect(Self.heartbeats(to: "c", in: cluster.delivered) == 8)
        #expect(Self.heartbeats(to: "s", in: cluster.delivered) == 2)
        // A read is confirmed by the voters alone; the standby hears nothing of it.
        cluster.delivered = []
        try cluster["a"].readIndex(context: 3)
        cluster.stabilize()
        #expect(cluster.readStates[NodeID("a")]?.map(\.context) == [3])
        #expect(Self.heartbeats(to: "b", in: cluster.delivered) == 1)
        #expect(Self.heartbeats(to: "s", in: cluster.delivered) == 0)
        // New entries still reach the standby at once.
        let index = try cluster.propose("a", "x")
        #expect(cluster["s"].lastIndex == index)
    }

    @Test("by default every member hears every round")
    func defaultIsEveryRound() {
        var cluster = TestCluster(voters: ["a", "b", "c"], standbys: ["s"])
        cluster.elect("a")
        cluster.delivered = []
        cluster.tick(["a"], times: 4)
        #expect(Self.heartbeats(to: "s", in: cluster.delivered) == 4)
        #expect(Self.heartbeats(to: "b", in: cluster.delivered) == 4)
    }
}

import CohortCore
import RaftCore
import RaftMembership
import Testing

@Suite("Voter planner")
struct VoterPlannerTests {
    private let four = ["a", "b", "c", "d"].map { member($0) }

    @Test("a configuration that already matches the targets yields no operation")
    func matchingConfigurationIsLeftAlone() {
        let plan = VoterPlanner.plan(.of(leader: "a", members: four, voters: ["a", "b", "c"], standbys: ["d"]))
        #expect(plan.targetVoters == ids("a", "b", "c") && plan.targetStandbys == ids("d"))
        #expect(plan.operations.isEmpty && plan.nextOperation == nil)
    }

    @Test("when a voter dies, the caught-up standby is promoted into its slot, then the dead voter is removed")
    func standbyIsPromotedWhenVoterDies() {
        let members = [member("a"), member("b"), member("c", alive: false), member("d")]
        let plan = VoterPlanner.plan(.of(leader: "a", members: members, voters: ["a", "b", "c"], standbys: ["d"], silent: ["c"]))
        #expect(plan.targetVoters == ids("a", "b", "d"))
        #expect(plan.operations == [.promote(NodeID("d")), .remove(NodeID("c"))])
    }

    @Test("a gossip-dead voter that still answers heartbeats is left alone; its slot is filled meanwhile")
    func gossipDeadButHeardVoterIsLeftAlone() {
        let members = [member("a"), member("b"), member("c", alive: false), member("d")]
        let plan = VoterPlanner.plan(.of(leader: "a", members: members, voters: ["a", "b", "c"], standbys: ["d"]))
        #expect(plan.operations == [.promote(NodeID("d"))])
        let later = VoterPlanner.plan(.of(leader: "a", members: members, voters: ["a", "b", "c", "d"]))
        #expect(later.operations.isEmpty)
        let silentLater = VoterPlanner.plan(.of(leader: "a", members: members, voters: ["a", "b", "c", "d"], silent: ["c"]))
        #expect(silentLater.operations == [.remove(NodeID("c"))], "silent and gossip-dead: now it goes")
    }

    @Test("new target voters are added as standbys first and promoted only once caught up")
    func newVotersAreAddedThenPromoted() {
        let members = [member("a"), member("b"), member("c")]
        let first = VoterPlanner.plan(.of(leader: "a", members: members, voters: ["a"], maxVoters: 3))
        #expect(first.targetVoters == ids("a", "b", "c"))
        #expect(first.operations == [.addStandby(NodeID("b")), .addStandby(NodeID("c"))])
        let lagging = VoterPlanner.plan(.of(leader: "a", members: members, voters: ["a"], standbys: ["b", "c"], caughtUp: ["a"], maxVoters: 3))
        #expect(lagging.operations.isEmpty, "waits for the standbys to catch up")
        let caughtUp = VoterPlanner.plan(.of(leader: "a", members: members, voters: ["a"], standbys: ["b", "c"], maxVoters: 3))
        #expect(caughtUp.operations == [.promote(NodeID("b")), .promote(NodeID("c"))])
    }

    @Test("a node of strictly better priority replaces the worst voter: add, catch up, promote, then demote")
    func betterPriorityReplacesWorstVoter() {
        let members = ["a", "b", "c"].map { member($0) } + [member("x", priority: 50)]
        let first = VoterPlanner.plan(.of(leader: "a", members: members, voters: ["a", "b", "c"], maxVoters: 3))
        #expect(first.targetVoters == ids("x", "a", "b") && first.targetStandbys == ids("c"))
        #expect(first.operations == [.addStandby(NodeID("x"))], "c stays a voter until x can take its place")
        let second = VoterPlanner.plan(.of(leader: "a", members: members, voters: ["a", "b", "c"], standbys: ["x"], maxVoters: 3))
        #expect(second.operations == [.promote(NodeID("x")), .demote(NodeID("c"))])
    }

    @Test("an equal newcomer displaces neither a voter nor a standby (no churn)")
    func equalNewcomersDoNotChurn() {
        let members = ["b", "c", "d"].map { member($0, priority: 10) } + [member("s2"), member("a"), member("s1")]
        let plan = VoterPlanner.plan(.of(leader: "b", members: members, voters: ["b", "c", "d"], standbys: ["s2"], maxVoters: 3, maxStandbys: 1))
        #expect(plan.targetVoters == ids("b", "c", "d") && plan.targetStandbys == ids("s2"))
        #expect(plan.operations.isEmpty)
        var better = members
        better[better.count - 1].priority = 50
        let replaced = VoterPlanner.plan(.of(leader: "b", members: better, voters: ["b", "c", "d"], standbys: ["s2"], maxVoters: 3, maxStandbys: 1))
        #expect(replaced.targetStandbys == ids("s1"))
        #expect(replaced.operations == [.addStandby(NodeID("s1")), .remove(NodeID("s2"))], "strictly better priority wins")
    }

    @Test("four eligible servers make three voters and one standby")
    func evenCountBecomesOdd() {
        let plan = VoterPlanner.plan(.of(leader: "a", members: four, voters: ["a", "b", "c", "d"]))
        #expect(plan.targetVoters == ids("a", "b", "c") && plan.targetStandbys == ids("d"))
        #expect(plan.operations == [.demote(NodeID("d"))])
    }

    @Test("max_voters shrinking from 5 to 3 demotes, then removes, the worst voters; the leader keeps its seat")
    func shrinkingKeepsTheLeader() {
        let members = ["a", "b", "c", "d", "e"].map { member($0) }
        let plan = VoterPlanner.plan(.of(leader: "c", members: members, voters: ["a", "b", "c", "d", "e"], maxVoters: 3, maxStandbys: 1))
        #expect(plan.targetVoters == ids("a", "b", "c") && plan.targetStandbys == ids("d"))
        #expect(plan.operations == [.demote(NodeID("d")), .remove(NodeID("e"))])
    }

    @Test("an ineligible server is never a voter but may be a standby")
    func ineligibleServerBecomesStandby() {
        let members = [member("a"), member("b"), member("c", eligible: false), member("d")]
        let plan = VoterPlanner.plan(.of(leader: "a", members: members, voters: ["a", "b", "c"], standbys: ["d"]))
        #expect(plan.targetVoters == ids("a", "b", "d") && plan.targetStandbys == ids("c"))
        #expect(plan.operations == [.promote(NodeID("d")), .demote(NodeID("c"))])
    }

    @Test("clients and dead or absent standbys are removed from the configuration")
    func clientsAndDeadStandbysAreRemoved() {
        let members = ["a", "b", "c"].map { member($0) } + [member("x", server: false), member("y", alive: false)]
        let plan = VoterPlanner.plan(.of(leader: "a", members: members, voters: ["a", "b", "c"], standbys: ["x", "y", "z"]))
        #expect(plan.targetStandbys.isEmpty)
        #expect(plan.operations == [.remove(NodeID("x")), .remove(NodeID("y")), .remove(NodeID("z"))])
    }

    @Test("the leader hands over to a caught-up voter before it demotes itself")
    func leaderTransfersBeforeDemotingItself() {
        let members = [member("a", eligible: false), member("b"), member("c"), member("d")]
        let plan = VoterPlanner.plan(.of(leader: "a", members: members, voters: ["a", "b", "c"], standbys: ["d"]))
        #expect(plan.targetVoters == ids("b", "c", "d") && plan.targetStandbys == ids("a"))
        #expect(plan.operations == [.promote(NodeID("d")), .transferLeadership(to: NodeID("b")), .demote(NodeID("a"))])
    }

    @Test("without a caught-up successor the leader keeps its seat")
    func leaderWithoutSuccessorStays() {
        let members = [member("a", eligible: false), member("b"), member("c")]
        let stuck = VoterPlanner.plan(.of(leader: "a", members: members, voters: ["a", "b", "c"], caughtUp: [], maxVoters: 1))
        #expect(stuck.targetVoters == ids("b") && stuck.targetStandbys == ids("c", "a"))
        #expect(stuck.operations == [.demote(NodeID("c"))])
        let ready = VoterPlanner.plan(.of(leader: "a", members: members, voters: ["a", "b", "c"], caughtUp: ["b"], maxVoters: 1))
        #expect(ready.operations == [.demote(NodeID("c")), .transferLeadership(to: NodeID("b")), .demote(NodeID("a"))])
    }

    @Test("a leader leaving gossip fills its slot, hands over and is removed")
    func leavingLeaderIsReplaced() {
        let members = [member("a", alive: false), member("b"), member("c"), member("d")]
        let plan = VoterPlanner.plan(.of(leader: "a", members: members, voters: ["a", "b", "c"], standbys: ["d"]))
        #expect(plan.operations == [.promote(NodeID("d")), .transferLeadership(to: NodeID("b")), .remove(NodeID("a"))])
    }

    @Test("dead voters are removed while a live quorum remains; a leader without one changes nothing")
    func deadVotersAndQuorum() {
        let five = ["a", "b", "c", "d", "e"]
        let twoDead = ["a", "b", "c"].map { member($0) } + [member("d", alive: false), member("e", alive: false)]
        let plan = VoterPlanner.plan(.of(leader: "a", members: twoDead, voters: five, silent: ["d", "e"]))
        #expect(plan.operations == [.remove(NodeID("d")), .remove(NodeID("e"))])
        let threeDead = ["a", "b"].map { member($0) } + ["c", "d", "e"].map { member($0, alive: false) }
        let none = VoterPlanner.plan(.of(leader: "a", members: threeDead, voters: five, silent: ["c", "d", "e"]))
        #expect(none.operations.isEmpty, "removing any would leave live voters short of a quorum")
    }

    @Test("a live voter is not demoted when the silent voters would outnumber the live ones")
    func demotionKeepsALiveQuorum() {
        let members = ["a", "b", "c"].map { member($0) } + [member("d", priority: 50), member("e", priority: 50)]
        let plan = VoterPlanner.plan(.of(leader: "a", members: members, voters: ["a", "b", "c", "d", "e"], silent: ["d", "e"], maxVoters: 3))
        #expect(plan.targetVoters == ids("d", "e", "a") && plan.targetStandbys == ids("b", "c"))
        #expect(plan.operations.isEmpty)
    }

    @Test("an alive voter that is only heartbeat-silent keeps its seat")
    func silentAliveVoterStays() {
        let plan = VoterPlanner.plan(.of(leader: "a", members: four, voters: ["a", "b", "c"], standbys: ["d"], silent: ["c"]))
        #expect(plan.targetVoters == ids("a", "b", "c") && plan.operations.isEmpty)
    }

    @Test("voters are spread over failure domains before being filled by rank")
    func votersSpreadOverDomains() {
        let members = ["a", "b", "c"].map { member($0, domain: "z1") } + [member("d", domain: "z2")]
        let plan = VoterPlanner.plan(.of(leader: "a", members: members, voters: ["a", "b", "c"], standbys: ["d"]))
        #expect(plan.targetVoters == ids("a", "b", "d") && plan.targetStandbys == ids("c"))
        #expect(plan.operations == [.promote(NodeID("d")), .demote(NodeID("c"))])
    }

    @Test("a departed voter's slot is filled by a caught-up stand-in while the preferred successor catches up")
    func standInFillsTheSlot() {
        let members = [member("a"), member("b"), member("c", alive: false), member("d", priority: 50), member("e")]
        let first = VoterPlanner.plan(.of(leader: "a", members: members, voters: ["a", "b", "c"], standbys: ["d", "e"], caughtUp: ["a", "b", "e"], silent: ["c"]))
        #expect(first.targetVoters == ids("d", "a", "b"))
        #expect(first.operations == [.promote(NodeID("e")), .remove(NodeID("c"))])
        let lagging = VoterPlanner.plan(.of(leader: "a", members: members, voters: ["a", "b", "e"], standbys: ["d"], caughtUp: ["a", "b", "e"]))
        #expect(lagging.operations.isEmpty, "the stand-in keeps the seat until d can take it")
        let second = VoterPlanner.plan(.of(leader: "a", members: members, voters: ["a", "b", "e"], standbys: ["d"]))
        #expect(second.operations == [.promote(NodeID("d")), .demote(NodeID("e"))])
    }

    @Test("max_standbys Int.max puts every server in the configuration")
    func unlimitedStandbys() {
        let members = ["a", "b", "c", "d", "e"].map { member($0) } + [member("x", server: false)]
        let plan = VoterPlanner.plan(.of(leader: "a", members: members, voters: ["a"], maxVoters: 1, maxStandbys: .max))
        #expect(plan.targetStandbys == ids("b", "c", "d", "e"))
        #expect(plan.operations == ids("b", "c", "d", "e").map(VoterOperation.addStandby))
    }

    @Test("with no eligible live server the live voters are left alone")
    func noCandidatesLeavesVotersAlone() {
        let members = ["a", "b", "c"].map { member($0, eligible: false) }
        let plan = VoterPlanner.plan(.of(leader: "a", members: members, voters: ["a", "b", "c"]))
        #expect(plan.targetVoters.isEmpty && plan.operations.isEmpty)
    }

    @Test("the target voter count is the largest odd number within the candidates and max_voters")
    func targetVoterCount() {
        let cases: [(candidates: Int, maxVoters: Int, expected: Int)] = [
            (0, 5, 0), (1, 5, 1), (2, 5, 1), (3, 5, 3), (4, 5, 3), (6, 5, 5), (9, 4, 3), (9, 0, 1), (9, 7, 7),
        ]
        for (candidates, maxVoters, expected) in cases {
            #expect(VoterPlanner.targetVoterCount(candidates: candidates, maxVoters: maxVoters) == expected)
        }
    }
}

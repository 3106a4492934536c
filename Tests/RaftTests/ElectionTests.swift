import CohortCore
@testable import RaftCore
import Testing

@Suite("Raft elections")
struct ElectionTests {
    @Test("a campaigning voter wins a three-node election and everyone follows it")
    func leaderElectionBasic() {
        var cluster = TestCluster(voters: ["a", "b", "c"])
        cluster.elect("a")
        #expect(cluster["a"].state == .leader)
        #expect(cluster["a"].term == 2)
        for name in ["b", "c"] {
            #expect(cluster[name].state == .follower)
            #expect(cluster[name].leader == NodeID("a"))
            #expect(cluster[name].term == 2)
        }
        // The new leader's no-op commits and is applied everywhere.
        #expect(cluster["a"].commitIndex == 2)
        #expect(cluster.applied[NodeID("c")]?.last?.payload == .noop)
    }

    @Test("election timeouts alone produce exactly one leader", arguments: [3, 5])
    func timeoutsElectOneLeader(size: Int) {
        let names = (0..<size).map { "n\($0)" }
        var cluster = TestCluster(voters: names)
        cluster.tick(times: 40)
        #expect(cluster.leaders.count == 1)
        #expect(cluster.leadersByTerm.values.allSatisfy { $0.count == 1 })
    }

    @Test("when the leader is unreachable, the first surviving voter by ID campaigns as soon as the lease ends, the next one tick later", arguments: [1, 2, 3, 4, 5] as [UInt64])
    func leaderUnreachableCampaignsWhenTheLeaseEnds(seed: UInt64) {
        var settings = RaftNodeSettings(electionTicks: 10)
        settings.randomSeed = seed
        var cluster = TestCluster(voters: ["a", "b", "c"], settings: settings)
        cluster.elect("a")
        cluster.isolate("a")
        // Without the hint the survivors' timeouts are random in [10, 20) ticks; with it b goes at 10, c at 11.
        cluster["b"].leaderUnreachable(NodeID("a"))
        cluster["c"].leaderUnreachable(NodeID("a"))
        cluster.tick(["b", "c"], times: 9)
        #expect(cluster["b"].state == .follower && cluster["c"].state == .follower, "the lease still holds")
        cluster.tick(["b", "c"], times: 1)
        #expect(cluster["b"].state == .leader)
        #expect(cluster["c"].leader == NodeID("b"))
        // A hint about a node that is not the leader changes nothing.
        var other = TestCluster(voters: ["a", "b", "c"], settings: settings)
        other.elect("a")
        let before = other["b"].randomizedElectionTimeout
        other["b"].leaderUnreachable(NodeID("c"))
        #expect(other["b"].randomizedElectionTimeout == before)
    }

    @Test("randomised election timeouts fall in [electionTicks, 2 × electionTicks)")
    func randomisedTimeoutRange() {
        var seen = Set<Int>()
        for seed in 0..<200 as Range<UInt64> {
            var node = RaftNode(id: NodeID("a"), settings: RaftNodeSettings(electionTicks: 10, randomSeed: seed), storage: .bootstrap(Configuration(voters: [NodeID("a"), NodeID("b")])))
            for _ in 0..<3 {
                node.resetRandomizedElectionTimeout()
                seen.insert(node.randomizedElectionTimeout)
            }
        }
        #expect(seen == Set(10..<20))
    }

    @Test("PreVote: a partitioned node that returns does not bump the term or disturb the leader")
    func preVotePreventsDisruption() {
        var cluster = TestCluster(voters: ["a", "b", "c"])
        cluster.elect("a")
        cluster.isolate("c")
        cluster.tick(times: 100)
        #expect(cluster["c"].term == 2, "pre-votes never raise the term")
        #expect(cluster["c"].state == .preCandidate || cluster["c"].state == .follower)
        cluster.heal()
        cluster.tick(times: 5)
        #expect(cluster["a"].state == .leader)
        #expect(cluster["a"].term == 2)
        #expect(cluster["c"].leader == NodeID("a"))
    }

    @Test("without PreVote and CheckQuorum the same returning node forces a new term (contrast)")
    func withoutPreVoteTheTermBumps() {
        var cluster = TestCluster(voters: ["a", "b", "c"], settings: RaftNodeSettings(preVote: false, checkQuorum: false))
        cluster.elect("a")
        cluster.isolate("c")
        cluster.tick(["c"], times: 30)
        #expect(cluster["c"].term > 2)
        cluster.heal()
        cluster.tick(times: 40)
        #expect(cluster["a"].term > 2, "the returning node's term disturbed the leader")
    }

    @Test("CheckQuorum: a leader cut off from its majority steps down within an election timeout")
    func isolatedLeaderStepsDown() {
        var cluster = TestCluster(voters: ["a", "b", "c"])
        cluster.elect("a")
        cluster.isolate("a")
        cluster.tick(["a"], times: 2 * 10)
        #expect(cluster["a"].state == .follower)
        #expect(cluster["a"].leader == nil)
    }

    @Test("a follower ignores vote requests while it hears from a live leader (lease)")
    func leaseIgnoresVoteRequests() {
        var cluster = TestCluster(voters: ["a", "b", "c"], settings: RaftNodeSettings(preVote: false))
        cluster.elect("a")
        let request = Message(from: NodeID("c"), to: NodeID("b"), term: 9, kind: .vote(lastLog: LogPosition(term: 9, index: 99), transfer: false))
        cluster["b"].step(request)
        #expect(cluster["b"].term == 2, "the higher term was not adopted")
        #expect(cluster["b"].vote == nil || cluster["b"].vote == NodeID("a"))
        // A transfer's forced campaign is not held back by the lease.
        let forced = Message(from: NodeID("c"), to: NodeID("b"), term: 9, kind: .vote(lastLog: LogPosition(term: 9, index: 99), transfer: true))
        cluster["b"].step(forced)
        #expect(cluster["b"].term == 9 && cluster["b"].vote == NodeID("c"))
    }

    @Test(
        "a removed node that never learned of its removal does not disturb the group, and learns it is out",
        arguments: [RaftNodeSettings(), RaftNodeSettings(preVote: false), RaftNodeSettings(checkQuorum: false), RaftNodeSettings(preVote: false, checkQuorum: false)]
    )
    func removedNodeDoesNotDisrupt(settings: RaftNodeSettings) throws {
        var cluster = TestCluster(voters: ["a", "b", "c"], settings: settings)
        cluster.elect("a")
        cluster.isolate("c")
        try cluster["a"].proposeConfigurationChange(.remove(NodeID("c")))
        cluster.stabilize()
        #expect(cluster["c"].voters.contains(NodeID("c")), "c still believes it votes")
        // Cut off, c campaigns (its term climbs without PreVote).
        cluster.tick(["c"], times: 60)
        cluster.heal()
        cluster.tick(times: 100)
        #expect(cluster["a"].state == .leader && cluster["a"].term == 2, "the group was deposed: a is \(cluster["a"].state) in term \(cluster["a"].term)")
        #expect(cluster["b"].term == 2)
        // c was told it is out: it stops campaigning and routes like a node outside the configuration.
        #expect(cluster["c"].isKnownRemoved && cluster["c"].memberRole == nil && !cluster["c"].isPromotable)
        let term = cluster["c"].term
        cluster.tick(["c"], times: 60)
        #expect(cluster["c"].term == term && cluster["c"].state == .follower)
    }

    @Test("a removed node that is added again is a member again as soon as the leader contacts it")
    func removedNodeAddedAgain() throws {
        var cluster = TestCluster(voters: ["a", "b", "c"])
        cluster.elect("a")
        cluster.isolate("c")
        try cluster["a"].proposeConfigurationChange(.remove(NodeID("c")))
        cluster.stabilize()
        cluster.tick(["c"], times: 60)
        cluster.heal()
        cluster.tick(times: 30)
        #expect(cluster["c"].isKnownRemoved)
        try cluster["a"].proposeConfigurationChange(.addStandby(NodeID("c")))
        cluster.stabilize()
        #expect(!cluster["c"].isKnownRemoved && cluster["c"].memberRole == .standby)
    }

    @Test("a standby never campaigns, even with no leader for a long time")
    func standbyNeverCampaigns() {
        var cluster = TestCluster(voters: ["a", "b", "c"], standbys: ["s"])
        cluster.isolate("s")
        cluster.tick(["s"], times: 200)
        #expect(cluster["s"].state == .follower)
        #expect(cluster["s"].term == 1)
        cluster["s"].campaign()
        #expect(cluster["s"].state == .follower)
        // A node outside the configuration never campaigns either.
        var outsider = TestCluster(voters: ["a"], empty: ["x"])
        outsider.tick(["x"], times: 200)
        #expect(outsider["x"].state == .follower && outsider["x"].term == 0)
    }

    @Test("a standby's acknowledgement is never counted towards a commit")
    func standbyNeverCounted() throws {
        var cluster = TestCluster(voters: ["a", "b", "c"], standbys: ["s"])
        cluster.elect("a")
        let before = cluster["a"].commitIndex
        cluster.isolate("b")
        cluster.isolate("c")
        let index = try cluster.propose("a", "x")
        #expect(cluster["s"].lastIndex == index, "the standby is replicated")
        #expect(cluster["a"].commitIndex == before, "leader + standby are not a majority of voters")
        cluster.heal()
        cluster.tick(times: 2)
        #expect(cluster["a"].commitIndex == index)
    }

    @Test("a single voter elects itself and commits only after its own write is durable")
    func singleVoterCommitsAfterPersist() throws {
        var node = RaftNode(id: NodeID("a"), storage: .bootstrap(Configuration(voters: [NodeID("a")])))
        node.campaign()
        #expect(node.state == .leader)
        let index = try node.propose(Array("x".utf8))
        #expect(node.commitIndex < index, "not durable yet")
        let ready = node.ready()
        #expect(ready.entries.last?.index == index)
        node.advance()
        #expect(node.commitIndex == index)
        #expect(node.ready().committedEntries.last?.index == index)
        node.advance()
        #expect(node.appliedIndex == index)
    }
}

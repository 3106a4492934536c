import CohortCore
import RaftCore
import RaftMembership
import Testing

@Suite("Ranking, operations and defaults")
struct RankingAndOperationTests {
    @Test("ranking: alive servers only, eligible first, then priority ascending, then node ID; order-independent")
    func ranking() {
        let members = [
            member("e", eligible: false, priority: 1), member("d", priority: 200), member("c"), member("b"),
            member("a", priority: 50), member("x", alive: false, priority: 1), member("y", server: false, priority: 1),
        ]
        let expected = ids("a", "b", "c", "d", "e")
        #expect(Ranking.rank(members).map(\.id) == expected)
        #expect(Ranking.rank(members.reversed()).map(\.id) == expected)
    }

    @Test("a node listed twice keeps its most favourable entry, whatever the order")
    func duplicates() {
        let dead = member("a", alive: false), alive = member("a", priority: 300)
        #expect(Ranking.deduplicated([dead, alive]) == [alive])
        #expect(Ranking.deduplicated([alive, dead]) == [alive])
    }

    @Test("operations map to configuration changes and metric labels")
    func operations() {
        let n = NodeID("n")
        let cases: [(VoterOperation, ConfigurationChange?, String, String)] = [
            (.addStandby(n), .addStandby(n), "add_standby", "add standby n"),
            (.promote(n), .promote(n), "promote", "promote n"),
            (.demote(n), .demote(n), "demote", "demote n"),
            (.remove(n), .remove(n), "remove", "remove n"),
            (.transferLeadership(to: n), nil, "transfer_leadership", "transfer leadership to n"),
        ]
        for (operation, change, label, description) in cases {
            #expect(operation.configurationChange == change && operation.metricLabel == label)
            #expect(operation.description == description && operation.node == n)
        }
    }

    @Test("defaults: a live eligible server of priority 100, 5 s stability window, 5x debounce cap, bursts of > 3 ops in 60 s")
    func defaults() {
        let view = RaftMemberView(id: NodeID("n"))
        #expect(view.isAlive && view.isServer && view.eligible && view.priority == 100)
        #expect(view.failureDomain == "" && !view.inCluster && view.bootstrapExpect == 1)
        #expect(BootstrapPlanner(selfID: NodeID("n"), expect: 3).stabilityWindow == .seconds(5))
        #expect(ReconcileDebouncer(debounce: .seconds(1)).capMultiplier == 5)
        let tracker = ChurnTracker()
        #expect(tracker.threshold == 3 && tracker.window == .seconds(60))
    }
}

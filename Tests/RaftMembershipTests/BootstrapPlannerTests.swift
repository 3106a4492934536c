import CohortCore
import RaftMembership
import Testing

@Suite("Bootstrap decision")
struct BootstrapPlannerTests {
    private let start = ContinuousClock.now

    /// The view with every node that sees the same exactly-`expect` qualifying set proposing it (what the
    /// nodes advertise once each has seen that set).
    private func agreed(_ view: [RaftMemberView], alsoQualifying extra: [NodeID] = []) -> [RaftMemberView] {
        let qualifying = view.filter { $0.isAlive && $0.isServer && $0.eligible && !$0.inCluster && $0.bootstrapExpect == 3 }
        let proposal = BootstrapPlanner.proposal(for: qualifying.map(\.id) + extra)
        return view.map { member in
            var member = member
            if qualifying.contains(where: { $0.id == member.id }) { member.bootstrapProposal = proposal }
            return member
        }
    }

    private func three(expect: Int = 3) -> [RaftMemberView] {
        [member("a", priority: 100, expect: expect), member("b", priority: 50, expect: expect), member("c", priority: 100, expect: expect)]
    }

    @Test("expect 1 bootstraps at once with self as the only voter")
    func expectOneBootstrapsAtOnce() {
        var planner = BootstrapPlanner(selfID: NodeID("a"), expect: 1)
        #expect(planner.decide(view: agreed([member("a")]), now: start) == .bootstrap(voters: ids("a")))
        #expect(planner.decide(view: agreed([member("a"), member("b", expect: 3)]), now: start) == .bootstrap(voters: ids("a")))
    }

    @Test("expect 0 never bootstraps")
    func expectZeroNever() {
        var planner = BootstrapPlanner(selfID: NodeID("a"), expect: 0)
        #expect(planner.decide(view: agreed(three(expect: 0)), now: start) == .never)
    }

    @Test("expect N with N-1 qualifying nodes waits; with N+1 too")
    func waitsForExactlyN() {
        var planner = BootstrapPlanner(selfID: NodeID("a"), expect: 3)
        #expect(planner.decide(view: agreed(Array(three().prefix(2))), now: start) == .waiting(visible: 2, expect: 3))
        let four = three() + [member("d", expect: 3)]
        #expect(planner.decide(view: agreed(four), now: start + .seconds(10)) == .waiting(visible: 4, expect: 3))
    }

    @Test("exactly N stabilizes, then bootstraps after 5s of the same set, voters sorted by priority then ID")
    func stabilizesThenBootstraps() {
        var planner = BootstrapPlanner(selfID: NodeID("a"), expect: 3)
        let qualifying = ids("a", "b", "c")
        #expect(planner.decide(view: agreed(three()), now: start) == .stabilizing(since: start, qualifying: qualifying))
        #expect(planner.decide(view: agreed(three().reversed()), now: start + .milliseconds(4999)) == .stabilizing(since: start, qualifying: qualifying))
        #expect(planner.decide(view: agreed(three()), now: start + .seconds(5)) == .bootstrap(voters: ids("b", "a", "c")))
    }

    @Test("any change to the qualifying set restarts the window")
    func changeRestartsWindow() {
        var planner = BootstrapPlanner(selfID: NodeID("a"), expect: 3)
        _ = planner.decide(view: agreed(three()), now: start)
        var replaced = three()
        replaced[2] = member("d", expect: 3)
        let later = start + .seconds(3)
        #expect(planner.decide(view: agreed(replaced), now: later) == .stabilizing(since: later, qualifying: ids("a", "b", "d")))
        #expect(planner.decide(view: agreed(replaced), now: start + .seconds(6)) == .stabilizing(since: later, qualifying: ids("a", "b", "d")))
        #expect(planner.decide(view: agreed(replaced), now: later + .seconds(5)) == .bootstrap(voters: ids("b", "a", "d")))

        var flapping = BootstrapPlanner(selfID: NodeID("a"), expect: 3)
        _ = flapping.decide(view: agreed(three()), now: start)
        #expect(flapping.decide(view: agreed(Array(three().prefix(2))), now: start + .seconds(2)) == .waiting(visible: 2, expect: 3))
        let back = start + .seconds(4)
        #expect(flapping.decide(view: agreed(three()), now: back) == .stabilizing(since: back, qualifying: ids("a", "b", "c")))
        #expect(flapping.decide(view: agreed(three()), now: start + .seconds(6)) == .stabilizing(since: back, qualifying: ids("a", "b", "c")))

        var reprioritized = BootstrapPlanner(selfID: NodeID("a"), expect: 3)
        _ = reprioritized.decide(view: agreed(three()), now: start)
        var changed = three()
        changed[0].priority = 10
        #expect(reprioritized.decide(view: agreed(changed), now: later) == .stabilizing(since: later, qualifying: ids("a", "b", "c")))
    }

    @Test("a node advertising in means a cluster exists: never bootstrap, even with expect 1")
    func clusterExists() {
        var planner = BootstrapPlanner(selfID: NodeID("a"), expect: 3)
        let view = three() + [member("z", inCluster: true), member("y", inCluster: true)]
        #expect(planner.decide(view: agreed(view), now: start) == .clusterExists(seenIn: NodeID("y")))
        #expect(planner.decide(view: agreed(three() + [member("y", alive: false, inCluster: true)]), now: start) == .stabilizing(since: start, qualifying: ids("a", "b", "c")), "a dead node does not count")
        var single = BootstrapPlanner(selfID: NodeID("a"), expect: 1)
        #expect(single.decide(view: agreed([member("a"), member("y", inCluster: true)]), now: start) == .clusterExists(seenIn: NodeID("y")))
    }

    @Test("a different N is a mismatch naming those nodes; nodes advertising 0, clients and dead nodes are ignored")
    func mismatch() {
        var planner = BootstrapPlanner(selfID: NodeID("a"), expect: 3)
        let view = three() + [
            member("d", expect: 5), member("e", eligible: false, expect: 2), member("f", expect: 0),
            member("g", server: false, expect: 7), member("h", alive: false, expect: 9),
        ]
        #expect(planner.decide(view: agreed(view), now: start) == .mismatch(expected: 3, others: [NodeID("d"): 5, NodeID("e"): 2]))
        #expect(planner.decide(view: agreed(three() + [member("f", expect: 0)]), now: start) == .stabilizing(since: start, qualifying: ids("a", "b", "c")))
    }

    @Test("every node of the N computes the identical voter list")
    func everyNodeAgrees() {
        let view = [member("n3", priority: 100, expect: 3), member("n1", priority: 200, expect: 3), member("n2", priority: 100, expect: 3)]
        let decisions = ["n1", "n2", "n3"].map { name in
            var planner = BootstrapPlanner(selfID: NodeID(name), expect: 3)
            _ = planner.decide(view: agreed(view.shuffled()), now: start)
            return planner.decide(view: agreed(view.shuffled()), now: start + .seconds(5))
        }
        #expect(decisions.allSatisfy { $0 == .bootstrap(voters: ids("n2", "n3", "n1")) })
    }

    @Test("ineligible nodes are not counted, and an ineligible node itself waits to be added")
    func ineligibleNodesDoNotCount() {
        let view = three() + [member("d", eligible: false, expect: 3)]
        var planner = BootstrapPlanner(selfID: NodeID("a"), expect: 3)
        #expect(planner.decide(view: agreed(view), now: start) == .stabilizing(since: start, qualifying: ids("a", "b", "c")))
        var ineligible = BootstrapPlanner(selfID: NodeID("d"), expect: 3)
        #expect(ineligible.decide(view: agreed(view), now: start) == .waiting(visible: 3, expect: 3))
        #expect(ineligible.decide(view: agreed(view), now: start + .seconds(10)) == .waiting(visible: 3, expect: 3))
    }

    @Test("self missing from the view counts as an alive eligible server with its own expect")
    func selfMissingFromView() {
        var planner = BootstrapPlanner(selfID: NodeID("c"), expect: 3, stabilityWindow: .zero)
        #expect(planner.decide(view: agreed(Array(three().prefix(2)), alsoQualifying: ids("c")), now: start) == .bootstrap(voters: ids("b", "a", "c")))
    }

    @Test("exactly N proposes them first; the window opens only once every other one proposes the same set")
    func proposesBeforeStabilizing() {
        var planner = BootstrapPlanner(selfID: NodeID("a"), expect: 3)
        let proposal = BootstrapPlanner.proposal(for: ids("a", "b", "c"))
        #expect(proposal == BootstrapPlanner.proposal(for: ids("c", "a", "b")), "the order does not matter")
        #expect(proposal != BootstrapPlanner.proposal(for: ids("a", "b", "d")) && proposal != 0)
        #expect(planner.decide(view: three(), now: start) == .proposing(qualifying: ids("a", "b", "c"), proposal: proposal))
        #expect(planner.decide(view: three(), now: start).advertisedProposal == proposal)
        // b agrees, c proposes another set (it sees d instead of a): no window.
        var view = three()
        view[1].bootstrapProposal = proposal
        view[2].bootstrapProposal = BootstrapPlanner.proposal(for: ids("b", "c", "d"))
        #expect(planner.decide(view: view, now: start + .seconds(10)) == .proposing(qualifying: ids("a", "b", "c"), proposal: proposal))
        view[2].bootstrapProposal = proposal
        let agreedAt = start + .seconds(11)
        #expect(planner.decide(view: view, now: agreedAt) == .stabilizing(since: agreedAt, qualifying: ids("a", "b", "c")))
        // c withdraws (it saw a fourth node): the window closes.
        view[2].bootstrapProposal = 0
        #expect(planner.decide(view: view, now: agreedAt + .seconds(5)) == .proposing(qualifying: ids("a", "b", "c"), proposal: proposal))
        #expect(BootstrapDecision.waiting(visible: 4, expect: 3).advertisedProposal == 0)
    }

    @Test("a founder that sees a fellow founder's in (still advertising their set) joins that founding at once")
    func joinsFellowFounders() {
        let proposal = BootstrapPlanner.proposal(for: ids("a", "b", "c"))
        var view = three()
        view[2].inCluster = true
        view[2].bootstrapProposal = proposal
        view[1].bootstrapProposal = proposal
        var planner = BootstrapPlanner(selfID: NodeID("a"), expect: 3)
        #expect(planner.decide(view: view, now: start) == .bootstrap(voters: ids("b", "a", "c")))
        // Once the group has a leader the founders withdraw the proposal: a founder that missed it (or lost
        // its data) waits to be added, and is admitted as a blank replica.
        view[2].bootstrapProposal = 0
        #expect(planner.decide(view: view, now: start) == .clusterExists(seenIn: NodeID("c")))
        // A node outside the founded set never joins it.
        var outsider = BootstrapPlanner(selfID: NodeID("d"), expect: 3)
        var withD = view + [member("d", expect: 3)]
        withD[2].bootstrapProposal = proposal
        #expect(outsider.decide(view: withD, now: start) == .clusterExists(seenIn: NodeID("c")))
    }
}

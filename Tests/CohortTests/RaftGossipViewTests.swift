@testable import Cohort
import CohortCore
import CohortTestKit
import Gossip
import RaftMembership
import Testing

/// Raft membership's gossip view, kept per update: the same view as one rebuilt from every member, and
/// per-update work that does not grow with the cluster (issue 18).
@Suite("Raft membership's incremental gossip view")
struct RaftGossipViewTests {
    static let selfID = NodeID("self")

    static func meta(role: NodeMeta.Role = .server, inCluster: Bool = false, priority: UInt16 = 100, group: String = "") -> NodeMeta {
        var meta = NodeMeta(
            internodePort: 7950, raftEligible: true, raftPriority: priority, failureDomain: "", role: role,
            bootstrapStatus: inCluster ? .inCluster : .pre, bootstrapExpect: 0, bootID: 1, buildVersion: "0"
        )
        meta.raftGroup = group
        return meta
    }

    static func member(_ name: String, _ meta: NodeMeta?, state: MemberStateKind = .alive) throws -> Member {
        Member(
            name: NodeID(name), ip: [127, 0, 0, 1], port: 7946, meta: try meta?.encoded() ?? [0xff], incarnation: 1,
            state: state, stateChange: .now
        )
    }

    /// What the service computed from scratch on every event before: every member decoded, this node's
    /// entry from its own metadata, sorted by ID; the routing order ranked from it.
    static func rebuilt(_ live: [NodeID: Member], own: NodeMeta) -> (view: [RaftMemberView], groups: [String], routing: [NodeID]) {
        var result: [NodeID: (RaftMemberView, String)] = [:]
        for member in live.values {
            guard let meta = try? NodeMeta(decoding: member.meta) else { continue }
            result[member.name] = (RaftGossipView.memberView(member.name, meta: meta, alive: !member.isGone), meta.raftGroup)
        }
        result[selfID] = (RaftGossipView.memberView(selfID, meta: own, alive: true), own.raftGroup)
        let sorted = result.values.sorted { $0.0.id < $1.0.id }
        let view = sorted.map(\.0)
        return (view, sorted.map(\.1), Ranking.rank(view.filter(\.inCluster)).map(\.id))
    }

    @Test("a burst of updates to members that are not Raft members computes no routing order")
    func burstOfNonMembersComputesNothing() throws {
        var view = RaftGossipView(selfID: Self.selfID)
        view.apply(.snapshot([try Self.member("leader", Self.meta(inCluster: true))]))
        let own = Self.meta()
        #expect(view.routingOrderIfChanged(own: own) == [NodeID("leader")])
        #expect(view.routingComputations == 1)

        // A mass start: 500 servers join, most announce twice; none is a Raft member.
        for index in 0..<500 {
            view.apply(.joined(try Self.member("n\(index)", Self.meta())))
            view.apply(.updated(try Self.member("n\(index)", Self.meta(priority: 50))))
            #expect(view.routingOrderIfChanged(own: own) == nil)
        }
        #expect(view.routingComputations == 1)
        #expect(view.entries.count == 501)

        // One of them is added and advertises `in`: one computation, and the order has it.
        view.apply(.updated(try Self.member("n7", Self.meta(inCluster: true, priority: 50))))
        #expect(view.routingOrderIfChanged(own: own) == [NodeID("n7"), NodeID("leader")])
        #expect(view.routingComputations == 2)
        // This node's own `in` changes the order too.
        #expect(view.routingOrderIfChanged(own: Self.meta(inCluster: true)) == ids("n7", "leader", "self"))
        #expect(view.routingOrderIfChanged(own: Self.meta(inCluster: true)) == nil)
    }

    @Test("the view kept per update equals the view rebuilt from every member, over random histories", arguments: [1, 2, 3, 4, 5] as [UInt64])
    func matchesTheRebuiltView(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)  // seeded: a failing history replays
        var view = RaftGossipView(selfID: Self.selfID)
        var live: [NodeID: Member] = [:]
        var order: [NodeID] = []
        let names = (0..<12).map { "n\($0)" } + ["self"]
        var own = Self.meta()
        for step in 0..<400 {
            let name = names[Int(random.next() % UInt64(names.count))]
            let meta: NodeMeta? = random.next() % 10 == 0 ? nil : Self.meta(
                role: random.next() % 5 == 0 ? .client : .server, inCluster: random.next() % 3 == 0,
                priority: UInt16(random.next() % 3) * 50, group: random.next() % 2 == 0 ? "g" : ""
            )
            let update: MembershipUpdate
            switch random.next() % 6 {
            case 0:
                let member = try Self.member(name, meta)
                update = .left(member, reason: .dead)
                var gone = member
                gone.state = .dead
                live[member.name] = gone
            case 1 where step % 50 == 0:
                let all = try names.prefix(Int(random.next() % 13)).map { try Self.member($0, Self.meta(inCluster: random.next() % 2 == 0)) }
                update = random.next() % 2 == 0 ? .snapshot(all) : .resync(all)
                live = Dictionary(all.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
            case 2:
                let member = try Self.member(name, meta)
                update = .joined(member)
                live[member.name] = member
            default:
                let member = try Self.member(name, meta)
                update = .updated(member)
                live[member.name] = member
            }
            view.apply(update)
            if random.next() % 20 == 0 { own = Self.meta(inCluster: random.next() % 2 == 0, group: "g") }
            if let changed = view.routingOrderIfChanged(own: own) { order = changed }
            let expected = Self.rebuilt(live, own: own)
            let kept = view.viewWithGroups(own: own)
            #expect(kept.map(\.view) == expected.view, "step \(step)")
            #expect(kept.map(\.group) == expected.groups, "step \(step)")
            #expect(order == expected.routing, "step \(step)")
        }
    }
}

private func ids(_ names: String...) -> [NodeID] { names.map(NodeID.init) }

@Suite("Raft membership's own metadata changes")
struct OwnMetaChangesTests {
    @Test("a round's changes are applied together, field by field, keeping what another service set")
    func roundChangesApplyTogether() {
        var changes = OwnMetaChanges()
        #expect(changes.isEmpty)
        changes.bootstrapStatus = .inCluster
        changes.bootstrapProposal = 0
        changes.raftGroup = "g"
        #expect(!changes.isEmpty)

        var published = RaftGossipViewTests.meta()
        published.bootstrapProposal = 42
        published.internodePort = 7999 // the mesh's change, made meanwhile
        let after = changes.applied(to: published)
        #expect(after.bootstrapStatus == .inCluster && after.bootstrapProposal == 0 && after.raftGroup == "g")
        #expect(after.internodePort == 7999)
        // Nothing set: nothing changes, so NodeMetaPublisher announces nothing.
        #expect(OwnMetaChanges().applied(to: published) == published)
    }
}

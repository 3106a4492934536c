import CohortCore
import CohortTestKit
@testable import GossipCore
import Testing

/// How the core picks gossip targets, indirect-probe helpers and push/pull peers.
@Suite("SWIM core: random members")
struct CoreRandomMembersTests {
    /// Node "a" knowing `count` other members, all alive.
    static func harness(others count: Int, seed: UInt64 = 1) -> SWIMHarness {
        var harness = SWIMHarness(settings: SWIMSettings(pushPullInterval: .zero), seed: seed)
        for index in 0..<count {
            harness.add("m\(index)", ip: [10, 0, UInt8(index >> 8), UInt8(index & 0xff)])
        }
        _ = harness.drain()
        return harness
    }

    @Test("k distinct eligible members other than this node, or all of them when fewer are eligible")
    func distinctEligibleAndNeverLocal() {
        var harness = Self.harness(others: 50)
        for k in [0, 1, 3, 10, 49, 50, 60] {
            let picked = harness.instance.randomMembers(k, using: &harness.generator) { _ in true }
            #expect(picked.count == min(k, 50))
            #expect(Set(picked.map(\.name)).count == picked.count, "distinct")
            #expect(!picked.contains { $0.name == NodeID("a") }, "never this node")
        }
        let even = harness.instance.randomMembers(100, using: &harness.generator) { Int($0.name.rawValue.dropFirst())! % 2 == 0 }
        #expect(even.count == 25 && even.allSatisfy { Int($0.name.rawValue.dropFirst())! % 2 == 0 })
    }

    @Test("when eligible members are scarce in a large table, the few there are are still found")
    func scarceEligibleMembersAreFound() {
        var harness = Self.harness(others: 500)
        let wanted: Set<NodeID> = [NodeID("m7"), NodeID("m400")]
        for _ in 0..<20 {
            let picked = harness.instance.randomMembers(3, using: &harness.generator) { wanted.contains($0.name) }
            #expect(Set(picked.map(\.name)) == wanted)
        }
        #expect(harness.instance.randomMembers(3, using: &harness.generator) { _ in false }.isEmpty)
    }

    @Test("every eligible member is about equally likely (seeded: 6,000 picks of 3 among 30)")
    func picksAreSpreadEvenly() {
        var harness = Self.harness(others: 30)
        var counts: [NodeID: Int] = [:]
        for _ in 0..<2_000 {
            for member in harness.instance.randomMembers(3, using: &harness.generator, where: { _ in true }) {
                counts[member.name, default: 0] += 1
            }
        }
        #expect(counts.count == 30)
        // 200 expected each; a binomial's standard deviation here is ~14, so 150…250 is > 3.5σ.
        #expect(counts.values.allSatisfy { (150...250).contains($0) }, "\(counts.values.sorted())")
    }

    @Test("the same table and seed give the same picks (simulations replay by seed)")
    func deterministicForASeed() {
        var first = Self.harness(others: 200, seed: 5)
        var second = Self.harness(others: 200, seed: 5)
        for _ in 0..<50 {
            let x = first.instance.randomMembers(3, using: &first.generator) { _ in true }
            let y = second.instance.randomMembers(3, using: &second.generator) { _ in true }
            #expect(x == y)
        }
    }

    @Test("a forgotten member is never picked, a replaced one is picked as it is now, and the index stays the table")
    func forgottenAndReplacedMembers() {
        var harness = Self.harness(others: 6)
        harness.receive(.dead(DeadMessage(incarnation: 1, node: "m2", from: "m1")))
        // A new boot of m4 elsewhere: it left, then came back at another address.
        harness.receive(.dead(DeadMessage(incarnation: 1, node: "m4", from: "m4")))
        harness.add("m4", ip: [10, 9, 9, 9], incarnation: 2)
        // Probe long enough to pass gossipToTheDeadTime and reshuffle the probe order (which forgets m2).
        let end = harness.now + .seconds(90)
        while harness.instance.nextDeadline <= end {
            harness.now = harness.instance.nextDeadline
            harness.effects += harness.instance.tick(now: harness.now, using: &harness.generator)
            for case .send(let messages, _) in harness.drain() {
                if case .ping(let ping)? = messages.first {
                    harness.receive(.ackResponse(AckResponseMessage(sequenceNumber: ping.sequenceNumber)))
                }
            }
        }
        #expect(harness.instance.members[NodeID("m2")] == nil, "m2 was forgotten")
        #expect(Set(harness.instance.probeOrder) == Set(harness.instance.members.keys))
        #expect(harness.instance.probeOrder.count == harness.instance.members.count)
        for _ in 0..<50 {
            let picked = harness.instance.randomMembers(6, using: &harness.generator) { _ in true }
            #expect(picked.count == 5)
            #expect(!picked.contains { $0.name == NodeID("m2") })
            #expect(picked.first { $0.name == NodeID("m4") }?.ip == [10, 9, 9, 9])
        }
    }
}

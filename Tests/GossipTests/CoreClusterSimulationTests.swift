import CohortCore
import Gossip
import Testing

/// Whole clusters of SWIM cores over the simulated network, speaking the real wire format. CPU-bound and
/// synchronous: each runs on a thread of its own (`simulate`, as the SWIM simulations do), not on the
/// cooperative pool that the suites waiting on real sockets need.
@Suite("SWIM core: simulated clusters")
struct CoreClusterSimulationTests {
    @Test("joining through one seed converges, and a healthy cluster raises no suspicion", arguments: [3, 8])
    func convergesWithoutFalsePositives(size: Int) async {
        await simulate { checks in
            var cluster = SimulatedCluster(count: size)
            cluster.run(for: .seconds(60))
            for observer in cluster.nodes.keys {
                for subject in cluster.nodes.keys {
                    let state = cluster.state(of: subject, seenBy: observer)
                    checks.expect(state == .alive, "\(observer) sees \(subject) \(String(describing: state))")
                }
            }
            let suspicions = cluster.events.filter { if case .left = $0.event { true } else { false } }
            checks.expect(suspicions.isEmpty, "departures in a healthy cluster: \(suspicions.count)")
            checks.expect(cluster.nodes.values.allSatisfy { $0.awareness.score == 0 }, "awareness scores: \(cluster.nodes.values.map(\.awareness.score))")
        }
    }

    @Test("N = 3: a crashed node is declared dead by both survivors, no sooner than the 4 s minimum")
    func crashSmallCluster() async {
        await simulate { checks in
            var cluster = SimulatedCluster(count: 3)
            cluster.run(for: .seconds(10))
            let crashed = SimulatedCluster.name(2), crashAt = cluster.now
            cluster.down.insert(crashed)
            cluster.run(for: .seconds(20))
            for survivor in [SimulatedCluster.name(0), SimulatedCluster.name(1)] {
                let departure = cluster.departure(of: crashed, seenBy: survivor)
                checks.expect(departure?.reason == .dead, "\(survivor): \(String(describing: departure))")
                if let at = departure?.at {
                    checks.expect(at - crashAt >= .seconds(4) && at - crashAt <= .seconds(12), "\(survivor) after \(at - crashAt)")
                }
            }
        }
    }

    @Test("N = 6: a crashed node is declared dead everywhere within the 24 s maximum plus probing")
    func crashLargerCluster() async {
        await simulate { checks in
            var cluster = SimulatedCluster(count: 6, seed: 7)
            cluster.run(for: .seconds(10))
            let crashed = SimulatedCluster.name(3), crashAt = cluster.now
            cluster.down.insert(crashed)
            cluster.run(for: .seconds(40))
            let times = cluster.nodes.keys.filter { $0 != crashed }.compactMap { cluster.departure(of: crashed, seenBy: $0)?.at }
            checks.expect(times.count == 5, "\(times.count) of 5 survivors saw it depart")
            checks.expect(
                times.allSatisfy { $0 - crashAt >= .seconds(4) && $0 - crashAt <= .seconds(32) },
                "departures after \(times.map { $0 - crashAt })")
        }
    }

    @Test("a node cut off briefly is suspected, refutes once it is back, and is never declared dead")
    func briefPartitionIsRefuted() async {
        await simulate { checks in
            var cluster = SimulatedCluster(count: 6, seed: 3)
            cluster.run(for: .seconds(10))
            let victim = SimulatedCluster.name(4)
            cluster.partitioned.insert(victim)
            cluster.run(for: .seconds(3))
            checks.expect(
                cluster.nodes.keys.contains { $0 != victim && cluster.state(of: victim, seenBy: $0) == .suspect },
                "nobody suspects \(victim) while it is cut off")
            cluster.partitioned.remove(victim)
            cluster.run(for: .seconds(60))
            checks.expect(cluster.nodes.keys.allSatisfy { cluster.departure(of: victim, seenBy: $0) == nil }, "\(victim) was declared gone")
            let incarnation = cluster.nodes[victim]?.localMember.incarnation ?? 0
            checks.expect(incarnation > 1, "it had to refute (incarnation \(incarnation))")
            // The victim's own stale suspicions (their gossip was lost in the partition) may still kill a
            // healthy peer later, as in memberlist; that peer then refutes the death. Either way all converge
            // alive.
            for observer in cluster.nodes.keys {
                for subject in cluster.nodes.keys {
                    let state = cluster.state(of: subject, seenBy: observer)
                    checks.expect(state == .alive, "\(observer) sees \(subject) \(String(describing: state))")
                }
            }
        }
    }

    @Test("a graceful leave reaches everyone as a leave, not a death")
    func gracefulLeave() async {
        await simulate { checks in
            var cluster = SimulatedCluster(count: 5)
            cluster.run(for: .seconds(10))
            let leaver = SimulatedCluster.name(1)
            guard var node = cluster.nodes[leaver] else { return }
            _ = node.leave(now: cluster.now)
            cluster.nodes[leaver] = node
            cluster.run(for: .seconds(2))
            cluster.down.insert(leaver)
            cluster.run(for: .seconds(30))
            for observer in cluster.nodes.keys where observer != leaver {
                let departure = cluster.departure(of: leaver, seenBy: observer)
                checks.expect(departure?.reason == .left, "\(observer): \(String(describing: departure))")
            }
        }
    }
}

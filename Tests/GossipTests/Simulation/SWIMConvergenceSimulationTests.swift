import CohortCore
import CohortTestKit
import Gossip
import Testing

extension SWIMSimulations {
    /// Joining: a whole cluster forms through one seed over the simulated network and clock.
    @Suite("SWIM simulation: joining and convergence")
    struct SWIMConvergenceSimulationTests {
        /// Seeds 1–3 on LAN links (0.5–1.5 ms, 0.1 % loss, duplicates, reordering), node i started at
        /// i × 100 ms (the last at 4.9 s), each joining by push/pull with node-0: every node saw all 50 alive at
        /// 5.3–5.6 s simulated, about 0.5 s after the last start.
        @Test("50 nodes started 100 ms apart, joining through one seed, all see 50 alive within 10 s", arguments: [1, 2, 3] as [UInt64])
        func fiftyNodesConverge(seed: UInt64) async {
            await simulate { checks in
                var cluster = SWIMCluster(SWIMClusterConfiguration(
                    size: 50, seed: seed, conditions: .lan, startSpacing: .milliseconds(100),
                    compression: false  // LZW in a debug build would double the cost; the 10-node tests keep it on
                ))
                let convergedAt = cluster.run(upTo: .seconds(10)) { $0.running.count == 50 && $0.hasConverged }
                checks.expect(convergedAt != nil, "not converged within 10 s:\n\(cluster.summary)")
                checks.expect(cluster.deaths(of: Set(cluster.names)).isEmpty, "a healthy node was declared dead")
                checks.expect(cluster.undecodable == 0, "every datagram and stream went through the real codecs")
                checks.expect(
                    cluster.timerStalls == 0 && cluster.mergeRefusals == 0,
                    "timer stalls \(cluster.timerStalls), merge refusals \(cluster.mergeRefusals)"
                )
                let statistics = cluster.network.statistics
                checks.expect(
                    statistics.datagramsDelivered > 1000 && statistics.streamsDelivered >= 98,
                    "datagrams delivered \(statistics.datagramsDelivered) (> 1000), streams \(statistics.streamsDelivered) (>= 98)"
                )
            }
        }

        /// Seeds 4–5 on lossy links (5 % loss, 5–25 ms, duplicates, reordering): 10 nodes started together
        /// converged within 1 s and raised no false death over a minute.
        @Test("10 nodes converge over a lossy network and stay converged for a minute", arguments: [4, 5] as [UInt64])
        func convergesOverLossyLinks(seed: UInt64) async {
            await simulate { checks in
                var cluster = SWIMCluster(SWIMClusterConfiguration(size: 10, seed: seed, conditions: .lossy))
                let convergedAt = cluster.run(upTo: .seconds(10)) { $0.running.count == 10 && $0.hasConverged }
                checks.expect(convergedAt != nil, "not converged within 10 s:\n\(cluster.summary)")
                cluster.run(for: .seconds(60))
                checks.expect(cluster.hasConverged, "\(cluster.summary)")
                checks.expect(cluster.deaths(of: Set(cluster.names)).isEmpty, "a healthy node was declared dead")
                checks.expect(
                    cluster.network.statistics.datagramsLost > 0 && cluster.undecodable == 0,
                    "datagrams lost \(cluster.network.statistics.datagramsLost) (> 0), undecodable \(cluster.undecodable)"
                )
            }
        }

        @Test("the same seed replays the same SWIM run: trace, events and final tables", arguments: [6, 7] as [UInt64])
        func seededRunsReplay(seed: UInt64) async {
            await simulate { checks in
                func run(_ seed: UInt64) -> SWIMCluster {
                    var cluster = SWIMCluster(SWIMClusterConfiguration(
                        size: 6, seed: seed, conditions: .lossy, startSpacing: .milliseconds(50), recordsTrace: true
                    ))
                    cluster.run(for: .seconds(5))
                    cluster.kill(SWIMClusterNode.name(4))
                    cluster.run(for: .seconds(10))
                    return cluster
                }
                let first = run(seed), second = run(seed), other = run(seed + 100)
                // Datagrams and timer firings; an idle node's timer fires for probes only, not every gossip interval.
                checks.expect(first.network.trace.count > 500, "a trace of \(first.network.trace.count) entries (> 500)")
                checks.expect(
                    first.network.trace == second.network.trace,
                    "seed \(seed) replayed another trace (\(first.network.trace.count) vs \(second.network.trace.count) entries)"
                )
                checks.expect(
                    first.events == second.events && !first.events.isEmpty,
                    "seed \(seed) replayed other events (\(first.events.count) vs \(second.events.count))"
                )
                checks.expect(
                    first.nodes.map(\.instance?.members) == second.nodes.map(\.instance?.members),
                    "seed \(seed) replayed other final tables:\n\(first.summary)\nvs\n\(second.summary)"
                )
                checks.expect(other.network.trace != first.network.trace, "seeds \(seed) and \(seed + 100) gave the same trace")
            }
        }
    }
}

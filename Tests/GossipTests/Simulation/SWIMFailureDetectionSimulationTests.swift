import CohortCore
import CohortTestKit
import Gossip
import Testing

extension SWIMSimulations {
    /// Crash detection: a node that stops is suspected, then declared dead by every survivor, within
    /// memberlist's bounds for the cluster's size.
    @Suite("SWIM simulation: failure detection")
    struct SWIMFailureDetectionSimulationTests {
        /// LAN links, nodes 20 ms apart, the middle node killed 2 s after convergence. Observed, crash to dead
        /// everywhere (checked every 50 ms): N = 10 (suspicion 4–24 s): 5.25–5.65 s, first suspicion after
        /// 1.2–1.4 s; N = 50
        /// (suspicion 6.79–40.75 s): 8.8–9.25 s, first suspicion after 1.8–2.0 s. Every survivor confirmed the
        /// suspicion quickly, so timers ran close to their minimum. The asserted bound is the theoretical one
        /// (``SWIMBounds/crashToDeadEverywhere``: 37.2 s at 10, 94 s at 50).
        @Test(
            "a killed node is suspected, then declared dead by all survivors within memberlist's bound",
            arguments: [(10, 1), (10, 2), (10, 3), (50, 1), (50, 2)] as [(Int, UInt64)]
        )
        func killedNodeIsDeclaredDeadEverywhere(size: Int, seed: UInt64) async {
            await simulate { checks in
                var cluster = SWIMCluster(SWIMClusterConfiguration(
                    size: size, seed: seed, conditions: .lan, startSpacing: .milliseconds(20),
                    compression: size <= 10  // LZW in a debug build would double the cost of the 50-node runs
                ))
                let convergedAt = cluster.run(upTo: .seconds(15)) { $0.running.count == size && $0.hasConverged }
                guard checks.expect(convergedAt != nil, "not converged:\n\(cluster.summary)") else { return }
                cluster.run(for: .seconds(2))

                let victim = SWIMClusterNode.name(size / 2)
                let survivors = Set(cluster.names).subtracting([victim])
                cluster.watch(victim)
                cluster.kill(victim)
                let crash = cluster.elapsed
                let bounds = SWIMBounds(settings: cluster.configuration.settings, members: size)
                let deadEverywhere = cluster.run(upTo: bounds.crashToDeadEverywhere) { cluster in
                    survivors.allSatisfy { cluster.departure(of: victim, seenBy: $0) != nil }
                }

                checks.expect(deadEverywhere != nil, "not dead everywhere within \(bounds.crashToDeadEverywhere):\n\(cluster.summary)")
                for survivor in survivors.sorted() {
                    let departure = cluster.departure(of: victim, seenBy: survivor)
                    checks.expect(departure?.reason == .dead, "\(survivor) saw \(String(describing: departure))")
                    if let at = departure?.at {
                        checks.expect(at - crash >= bounds.suspicionMinimum, "\(survivor) declared it dead after \(at - crash)")
                    }
                    let states = cluster.stateChanges.filter { $0.observer == survivor && $0.subject == victim }.map(\.state)
                    let suspected = states.firstIndex(of: .suspect), declared = states.firstIndex(of: .dead)
                    checks.expect(suspected != nil && declared != nil && suspected! < declared!, "\(survivor) went \(states)")
                }
                checks.expect(cluster.deaths(of: survivors).isEmpty, "a survivor was declared dead")
                checks.expect(
                    cluster.undecodable == 0 && cluster.timerStalls == 0,
                    "undecodable \(cluster.undecodable), timer stalls \(cluster.timerStalls)"
                )
            }
        }
    }
}

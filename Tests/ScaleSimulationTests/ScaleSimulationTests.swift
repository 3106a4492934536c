import CohortTestKit
import Testing

@testable import ScaleSimulation

/// The scale simulation at sizes a debug build affords: real gossip cores for every node, real Raft cores for
/// the voters and standbys the reconciler picks. The sizes up to 5,000 run in release through
/// `Benchmarks/scripts/scale_simulation.py` (results in `Benchmarks/results/scale.md`). CPU-bound and
/// synchronous, so each run is on a thread of its own, one at a time.
@Suite("Scale simulation", .serialized)
struct ScaleSimulationTests {
    /// Seed 3, 20 s idle window, all nodes started within 1 s: every node saw all alive within 3 s; the Raft
    /// leader sent 10.0 Raft messages/s at both sizes (the model: 4 voters × 2/s + 4 standbys × 0.5/s) and
    /// about 2 gossip packets/s, as every other node. Planted bug (every node made a standby, so the leader
    /// heartbeats everyone; model 15.5/s at N=20, 45.5/s at N=80): the test fails.
    @Test("20 and 80 nodes converge after a mass start, and the Raft leader's messages per second do not grow with N")
    func leaderRateIsFlatInClusterSize() async throws {
        let results = await onDedicatedThread {
            [20, 80].map { size in
                var scenario = ScaleScenario(ScaleConfiguration(size: size, seed: 3))
                scenario.idleWindow = .seconds(20)
                scenario.stopsAfterIdle = true
                return scenario.run()
            }
        }
        for result in results {
            let converged = try #require(result.convergence.convergedAtSeconds, "N=\(result.size) never converged")
            #expect(converged < 10, "N=\(result.size) converged after \(converged) s")
            #expect(result.raftVoters.count == 5 && result.raftStandbys.count == 4, "Raft members \(result.raftVoters) + \(result.raftStandbys)")
            #expect(result.undecodable == 0 && result.mergeRefusals == 0 && result.falseDeaths == 0)
        }
        let small = try #require(results[0].idle, "N=20 had no idle window with one Raft leader")
        let large = try #require(results[1].idle, "N=80 had no idle window with one Raft leader")
        let model = large.modelRaftLeaderMessagesPerSecond
        // Raft: heartbeats to the 8 other members only, whatever N.
        #expect(
            abs(large.leaderRaftMessagesPerSecond - small.leaderRaftMessagesPerSecond) <= 0.15 * small.leaderRaftMessagesPerSecond,
            "the leader sent \(small.leaderRaftMessagesPerSecond) Raft messages/s at N=20 but \(large.leaderRaftMessagesPerSecond)/s at N=80"
        )
        #expect(abs(small.leaderRaftMessagesPerSecond - model) <= 0.15 * model, "N=20: \(small.leaderRaftMessagesPerSecond)/s, model \(model)/s")
        #expect(abs(large.leaderRaftMessagesPerSecond - model) <= 0.15 * model, "N=80: \(large.leaderRaftMessagesPerSecond)/s, model \(model)/s")
        // Gossip: the leader is a node like any other — a probe and an ack a second, a push/pull now and then.
        for idle in [small, large] {
            #expect(
                idle.leaderGossipPacketsPerSecond <= 1.5 * idle.modelNodeGossipPacketsPerSecond
                    && idle.nodeGossipPacketsPerSecondMean <= 1.5 * idle.modelNodeGossipPacketsPerSecond,
                "leader \(idle.leaderGossipPacketsPerSecond)/s, mean node \(idle.nodeGossipPacketsPerSecondMean)/s, model \(idle.modelNodeGossipPacketsPerSecond)/s"
            )
        }
    }

    /// Seed 1, 30 nodes, the whole scenario. Observed: the rumor reached all 30 nodes within 0.1–0.2 s, 2.7–3.7
    /// hops on average (model 3.6 rounds; a node forwards news at once when its gossip timer was idle);
    /// the crashed node was dead at every survivor 7.4 s after the crash (model 7.9 s: 2 probe intervals +
    /// the 5.9 s minimum suspicion timeout).
    @Test("one rumor reaches everyone in about log N hops, and a crashed node is dead everywhere within memberlist's bounds")
    func rumorAndCrashFollowTheirModels() async throws {
        let result = await onDedicatedThread {
            var scenario = ScaleScenario(ScaleConfiguration(size: 30, seed: 1))
            scenario.idleWindow = .seconds(10)
            return scenario.run()
        }
        let dissemination = try #require(result.dissemination, "no rumor phase: \(result)")
        #expect(dissemination.reached == 30 && dissemination.secondsToAll != nil)
        // Mean hops against the push-gossip model; the longest first-arrival path is a tail (a chain of
        // immediate forwards can beat a short path that waited for a gossip round) and is not asserted.
        #expect(
            dissemination.meanHops <= 1.5 * dissemination.modelRounds,
            "mean \(dissemination.meanHops) hops (longest \(dissemination.maxHops)), model \(dissemination.modelRounds)"
        )
        let rounds = try #require(dissemination.gossipRounds)
        #expect(rounds <= dissemination.modelRounds, "reached all after \(rounds) gossip intervals, model \(dissemination.modelRounds)")
        let detection = try #require(result.detection, "no crash phase: \(result)")
        let last = try #require(detection.lastSeconds, "not dead everywhere: \(detection)")
        #expect(
            last >= detection.modelSuspicionMinimumSeconds && last <= detection.modelSuspicionMaximumSeconds + 2,
            "dead everywhere after \(last) s; suspicion \(detection.modelSuspicionMinimumSeconds)…\(detection.modelSuspicionMaximumSeconds) s"
        )
        #expect(result.undecodable == 0 && result.mergeRefusals == 0 && result.falseDeaths == 0)
    }
}

import CohortCore
import CohortTestKit
@testable import RaftCore
@testable import RaftPersistence
import Foundation
import Testing

extension RaftSimulations {
    /// Seeded chaos over the simulated network: loss, duplicates, reordering, partitions, one-way link
    /// cuts, links that hold messages past an election timeout, garbled messages; every node writing
    /// through the real `FileRaftStorage` on a disk that forgets what was not fsynced, with fsyncs taking
    /// up to three election timeouts, process kills and power losses (partway through a write too),
    /// process pauses and wiped disks; proposals, configuration changes, leadership transfers, compactions
    /// with snapshot installs, and ReadIndex reads — with every safety invariant checked after every event
    /// and liveness required after healing.
    ///
    /// `RAFT_SIM_SEEDS=100000` runs seeds 1…100000 (`RAFT_SIM_SEEDS=5001-9000` a range);
    /// `RAFT_SIM_SEED=<n>` replays one and prints its figures.
    @Suite("Raft simulation: safety and liveness under faults")
    struct RaftSafetySimulationTests {
        static var seeds: [UInt64] {
            let environment = ProcessInfo.processInfo.environment
            if let one = environment["RAFT_SIM_SEED"].flatMap(UInt64.init) { return [one] }
            let value = environment["RAFT_SIM_SEEDS"] ?? "1000"
            let bounds = value.split(separator: "-").compactMap { UInt64($0) }
            if bounds.count == 2, bounds[0] <= bounds[1] { return Array(bounds[0]...bounds[1]) }
            return Array(1...max(1, bounds.first ?? 1000))
        }

        @Test("1000 seeded runs (3, 5 or 7 voters, 1 or 2 standbys, real storage on a forgetful disk) keep every invariant and end with a live leader")
        func seededRuns() async {
            let seeds = Self.seeds
            let (failures, totals) = await onDedicatedThread { () -> ([String], RaftSimulationStatistics) in
                var failures: [String] = []
                var totals = RaftSimulationStatistics()
                for seed in seeds {
                    var simulation = RaftSimulation(RaftSimulationConfiguration.forSeed(seed))
                    if let failure = simulation.run() {
                        failures.append(failure)
                        if failures.count >= 3 { break }
                    }
                    totals.add(simulation.statistics)
                    if seeds.count == 1 { print("seed \(seed): \(simulation.statistics)") }
                }
                return (failures, totals)
            }
            for failure in failures { Issue.record(Comment(rawValue: failure)) }
            if seeds.count > 1 { print("raft simulation: \(seeds.count) seeds, \(failures.count) failing; \(totals)") }
            guard failures.isEmpty, seeds.count >= 100 else { return }
            // The chaos must really happen, or the run proves nothing.
            #expect(totals.crashes > seeds.count / 2 && totals.restarts >= totals.crashes)
            #expect(totals.partitions > seeds.count / 2)
            #expect(totals.proposals > seeds.count * 20)
            #expect(totals.configurationChanges > seeds.count / 2)
            #expect(totals.snapshotsSent > seeds.count / 10)
            #expect(totals.compactions > seeds.count)
            #expect(totals.reads > seeds.count)
            #expect(totals.transfers > seeds.count / 4)
            #expect(totals.slowWrites > seeds.count, "fsyncs past an election timeout: \(totals.slowWrites)")
            #expect(totals.partialWrites > seeds.count / 10 && totals.powerLosses > seeds.count / 4)
            #expect(totals.pauses > seeds.count / 2 && totals.delayedLinks > seeds.count / 2)
            #expect(totals.corruptionsDropped > seeds.count / 10)
            #expect(totals.wipes > seeds.count / 50, "wiped disks: \(totals.wipes)")
        }

        @Test("300 seeded runs with a leader crashing every ~80 ms (Figure 8, unreliable) keep every invariant")
        func leaderChurnRuns() async {
            let environment = ProcessInfo.processInfo.environment
            let count = environment["RAFT_SIM_CHURN_SEEDS"].flatMap(UInt64.init) ?? 300
            let (failures, totals) = await onDedicatedThread { () -> ([String], RaftSimulationStatistics) in
                var failures: [String] = []
                var totals = RaftSimulationStatistics()
                for seed in 1...max(1, count) {
                    var simulation = RaftSimulation(RaftSimulationConfiguration.leaderChurn(seed))
                    if let failure = simulation.run() {
                        failures.append(failure)
                        if failures.count >= 3 { break }
                    }
                    totals.add(simulation.statistics)
                }
                return (failures, totals)
            }
            for failure in failures { Issue.record(Comment(rawValue: failure)) }
            guard failures.isEmpty, count >= 100 else { return }
            #expect(totals.crashes > Int(count) * 5, "the leader really churns: \(totals.crashes) crashes")
        }

        @Test("the same seed replays the same run")
        func seedReplays() {
            func run(_ seed: UInt64) -> (String?, [LogIndex], [[UInt64]]) {
                var simulation = RaftSimulation(RaftSimulationConfiguration.forSeed(seed))
                let outcome = simulation.run()
                return (outcome, simulation.nodes.map { $0.core?.commitIndex ?? 0 }, simulation.nodes.map(\.stateMachine.commands))
            }
            let first = run(11), second = run(11), other = run(12)
            #expect(first.0 == nil)
            #expect(first.1 == second.1 && first.2 == second.2)
            #expect(first.2 != other.2)
        }
    }
}

extension RaftSimulationStatistics {
    mutating func add(_ other: RaftSimulationStatistics) {
        readies += other.readies
        restarts += other.restarts
        crashes += other.crashes
        partitions += other.partitions
        proposals += other.proposals
        configurationChanges += other.configurationChanges
        transfers += other.transfers
        compactions += other.compactions
        snapshotsSent += other.snapshotsSent
        reads += other.reads
        slowWrites += other.slowWrites
        partialWrites += other.partialWrites
        powerLosses += other.powerLosses
        pauses += other.pauses
        delayedLinks += other.delayedLinks
        corruptionsDropped += other.corruptionsDropped
        wipes += other.wipes
        livenessTime = max(livenessTime, other.livenessTime)
    }
}

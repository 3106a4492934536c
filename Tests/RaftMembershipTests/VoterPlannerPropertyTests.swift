import CohortCore
import CohortTestKit
import RaftCore
import RaftMembership
import Testing

@Suite("Voter planner properties (seeded random clusters)")
struct VoterPlannerPropertyTests {
    static let seeds: [UInt64] = Array(1...1000)

    @Test("targets: an odd voter count within max_voters, eligible alive servers only, standbys within max_standbys, domains spread")
    func targetsRespectTheRules() {
        for seed in Self.seeds {
            let input = RandomCluster.input(seed: seed, silentMeansDead: seed.isMultiple(of: 2))
            checkTargets(VoterPlanner.plan(input), input, seed: seed)
        }
    }

    @Test("every plan applies in order, and the leader's own change comes last, right behind a transfer")
    func operationsApplyInOrder() {
        for seed in Self.seeds {
            let input = RandomCluster.input(seed: seed, silentMeansDead: seed.isMultiple(of: 2))
            let plan = VoterPlanner.plan(input)
            var configuration = input.configuration
            for operation in plan.operations {
                guard let change = operation.configurationChange else { continue }
                do {
                    configuration = try configuration.applying(change)
                } catch {
                    Issue.record("seed \(seed): \(operation) does not apply to \(configuration): \(error)")
                }
            }
            if let index = plan.operations.firstIndex(where: { $0.metricLabel == "transfer_leadership" }) {
                #expect(index == plan.operations.count - 2, "seed \(seed): \(plan.operations)")
                #expect(plan.operations.last?.node == input.leader, "seed \(seed)")
                #expect(input.caughtUp.contains(plan.operations[index].node), "seed \(seed): the successor is caught up")
            }
            for (index, operation) in plan.operations.enumerated() where operation.node == input.leader {
                guard case .transferLeadership = operation else {
                    #expect(index > 0 && plan.operations[index - 1].metricLabel == "transfer_leadership", "seed \(seed): \(plan.operations)")
                    continue
                }
                Issue.record("seed \(seed): leadership transferred to the leader itself")
            }
            for case .promote(let node) in plan.operations {
                #expect(input.members.contains { $0.id == node && $0.isAlive && $0.isServer && $0.eligible }, "seed \(seed)")
                #expect(input.caughtUp.contains(node) && !input.silent.contains(node), "seed \(seed)")
            }
        }
    }

    @Test("the same input gives the same plan whatever the order of the gossip view")
    func planIgnoresMemberOrder() {
        for seed in Self.seeds {
            var input = RandomCluster.input(seed: seed, silentMeansDead: seed.isMultiple(of: 2))
            let plan = VoterPlanner.plan(input)
            var random = SplitMix64(seed: seed, stream: 1)
            for _ in 0..<3 {
                input.members.shuffle(using: &random)
                #expect(VoterPlanner.plan(input) == plan, "seed \(seed)")
            }
        }
    }

    @Test("no operation at all when the configuration already matches the targets (no churn)")
    func matchingConfigurationIsLeftAlone() {
        var checked = 0
        for seed in Self.seeds {
            let input = RandomCluster.input(seed: seed, silentMeansDead: seed.isMultiple(of: 2))
            let plan = VoterPlanner.plan(input)
            guard !plan.targetVoters.isEmpty else { continue }
            var settled = input
            settled.configuration = Configuration(voters: plan.targetVoters, standbys: plan.targetStandbys)
            settled.leader = plan.targetVoters[Int(seed % UInt64(plan.targetVoters.count))]
            settled.silent.remove(settled.leader)
            settled.caughtUp = Set(settled.configuration.members)
            let again = VoterPlanner.plan(settled)
            #expect(again.operations.isEmpty, "seed \(seed): \(again.operations)")
            #expect(again.targetVoters == plan.targetVoters && again.targetStandbys == plan.targetStandbys, "seed \(seed)")
            checked += 1
        }
        #expect(checked > Self.seeds.count / 2)
    }

    @Test("applied one at a time with arbitrary silence, every step keeps a live quorum and the run settles")
    func stepsKeepALiveQuorum() throws {
        for seed in Self.seeds {
            var run = ReconcileRun(RandomCluster.input(seed: seed, silentMeansDead: false))
            let hadQuorum = run.hasLiveQuorum(run.input.configuration)
            let steps = try run.settle()
            #expect(steps != nil, "seed \(seed): no end after \(run.applied)")
            if hadQuorum {
                for configuration in run.history {
                    #expect(run.hasLiveQuorum(configuration), "seed \(seed): \(configuration) after \(run.applied)")
                }
            }
            for configuration in run.history {
                #expect(!configuration.voters.isEmpty, "seed \(seed)")
            }
        }
    }

    @Test("after a clean crash, the run converges to the targets: odd voters, no clients, no ineligible voters")
    func runConvergesToTargets() throws {
        var converged = 0
        for seed in Self.seeds {
            let input = RandomCluster.input(seed: seed, silentMeansDead: true)
            var run = ReconcileRun(input)
            guard run.hasLiveQuorum(input.configuration) else { continue }
            let steps = try run.settle()
            #expect(steps != nil, "seed \(seed): no end after \(run.applied)")
            for configuration in run.history {
                #expect(run.hasLiveQuorum(configuration), "seed \(seed): \(configuration) after \(run.applied)")
            }
            let final = VoterPlanner.plan(run.input)
            #expect(final.operations.isEmpty)
            checkTargets(final, run.input, seed: seed)
            // With no eligible live server there is nothing to converge to: live voters are left alone.
            guard !final.targetVoters.isEmpty else { continue }
            let configuration = run.input.configuration
            let views = Dictionary(input.members.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            for node in configuration.members {
                #expect(views[node]?.isServer == true, "seed \(seed): \(node) is no server but in \(configuration)")
            }
            for node in configuration.voters {
                #expect(views[node]?.eligible == true, "seed \(seed): ineligible voter \(node)")
            }
            #expect(Set(configuration.voters) == Set(final.targetVoters), "seed \(seed): \(configuration) after \(run.applied)")
            #expect(Set(configuration.standbys) == Set(final.targetStandbys), "seed \(seed): \(configuration)")
            #expect(configuration.voters.count % 2 == 1, "seed \(seed)")
            converged += 1
        }
        #expect(converged > Self.seeds.count / 2, "most random clusters start with a live quorum")
    }

    /// The rules every plan's targets obey.
    private func checkTargets(_ plan: VoterPlan, _ input: ReconcileInput, seed: UInt64) {
        let views = Ranking.rank(input.members)
        let candidates = views.filter(\.eligible)
        let byID = Dictionary(views.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let expected = VoterPlanner.targetVoterCount(candidates: candidates.count, maxVoters: input.maxVoters)
        let voters = plan.targetVoters, standbys = plan.targetStandbys
        #expect(voters.count == expected, "seed \(seed)")
        #expect(expected == 0 || expected % 2 == 1, "seed \(seed)")
        #expect(voters.count <= max(input.maxVoters, 1) && standbys.count <= input.maxStandbys, "seed \(seed)")
        #expect(voters.allSatisfy { byID[$0]?.eligible == true }, "seed \(seed): voters are alive eligible servers")
        #expect(standbys.allSatisfy { byID[$0] != nil }, "seed \(seed): standbys are alive servers")
        #expect(Set(voters).isDisjoint(with: standbys) && Set(voters).count == voters.count, "seed \(seed)")
        #expect(standbys.count == min(input.maxStandbys, views.count - voters.count), "seed \(seed)")
        let domains = Set(candidates.map(\.failureDomain)).count
        let covered = Set(voters.compactMap { byID[$0]?.failureDomain }).count
        #expect(covered >= min(domains, voters.count), "seed \(seed): voters \(voters) cover \(covered) of \(domains) domains")
        #expect(voters == voters.sorted { Ranking.precedes(byID[$0]!, byID[$1]!) }, "seed \(seed): rank order")
    }
}

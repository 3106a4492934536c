import CohortCore
import CohortTestKit
import RaftCore
import RaftMembership

/// Random reconciler inputs from a seed: a gossip view of up to 9 nodes with random liveness, roles,
/// eligibility, priorities and failure domains; a configuration with voters, standbys and members absent
/// from the view; a live leader among the voters; random silence, catch-up and limits.
enum RandomCluster {
    /// An input for `seed`. With `silentMeansDead`, exactly the members that are not alive (or absent) are
    /// heartbeat-silent, as after a clean crash; otherwise silence is random too.
    static func input(seed: UInt64, silentMeansDead: Bool) -> ReconcileInput {
        var random = SplitMix64(seed: seed)
        let count = Int.random(in: 1...9, using: &random)
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "k"].shuffled(using: &random).prefix(count)
        let domains = random.chance(0.3) ? [""] : random.chance(0.5) ? ["z1", "z2", "z3"] : ["", "z1", "z2"]
        var members: [RaftMemberView] = names.map { name in
            RaftMemberView(
                id: NodeID(name), isAlive: random.chance(0.8), isServer: random.chance(0.85),
                eligible: random.chance(0.8), priority: [50, 100, 100, 200].randomElement(using: &random)!,
                failureDomain: domains.randomElement(using: &random)!
            )
        }
        var voters: [NodeID] = [], standbys: [NodeID] = []
        for member in members {
            let draw = Double.random(in: 0..<1, using: &random)
            if draw < 0.45 { voters.append(member.id) } else if draw < 0.7 { standbys.append(member.id) }
        }
        if random.chance(0.15) { voters.append(NodeID("ghost")) }
        if random.chance(0.1) { standbys.append(NodeID("phantom")) }

        // The leader: an alive voter from the view; make one when there is none.
        let leader: NodeID
        if let alive = members.filter({ $0.isAlive && voters.contains($0.id) }).randomElement(using: &random) {
            leader = alive.id
        } else {
            let index = Int.random(in: 0..<members.count, using: &random)
            members[index].isAlive = true
            leader = members[index].id
            voters.append(leader)
            standbys.removeAll { $0 == leader }
        }
        if random.chance(0.05) { members.append(members[0]) }   // a duplicated entry changes nothing
        let configuration = Configuration(voters: voters, standbys: standbys)

        let aliveIDs = Set(members.filter(\.isAlive).map(\.id))
        let everyone = Set(members.map(\.id)).union(configuration.members)
        let silent = silentMeansDead
            ? everyone.subtracting(aliveIDs)
            : Set(everyone.sorted().filter { $0 != leader && random.chance(0.25) })
        let caughtUp = Set(configuration.members.filter { !silent.contains($0) && random.chance(0.6) })
        return ReconcileInput(
            leader: leader, members: members.shuffled(using: &random), configuration: configuration,
            caughtUp: caughtUp, silent: silent,
            maxVoters: [1, 2, 3, 3, 5, 5, 7].randomElement(using: &random)!,
            maxStandbys: [0, 1, 2, 3, Int.max].randomElement(using: &random)!
        )
    }
}

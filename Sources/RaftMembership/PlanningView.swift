import CohortCore
import RaftCore

/// The reconciler's input with the gossip view indexed, and the target selection.
struct PlanningView {
    let input: ReconcileInput
    /// One view per node ID.
    let views: [NodeID: RaftMemberView]
    /// Alive servers in ``Ranking`` order.
    let ranked: [RaftMemberView]

    init(_ input: ReconcileInput) {
        self.input = input
        let members = Ranking.deduplicated(input.members)
        views = Dictionary(uniqueKeysWithValues: members.map { ($0.id, $0) })
        ranked = members.filter { $0.isAlive && $0.isServer }.sorted(by: Ranking.precedes)
    }

    var configuration: Configuration { input.configuration }
    var leader: NodeID { input.leader }

    /// Alive voter candidates (eligible servers).
    var voterCandidateCount: Int { ranked.count(where: \.eligible) }

    /// Gossip says alive or suspect; false for nodes absent from the view.
    func isAlive(_ node: NodeID) -> Bool { views[node]?.isAlive ?? false }

    /// Heartbeat-silent; never the leader.
    func isSilent(_ node: NodeID) -> Bool { node != leader && input.silent.contains(node) }

    /// Counts towards a working quorum: the leader, or alive and not silent.
    func isLive(_ node: NodeID) -> Bool { node == leader || (isAlive(node) && !isSilent(node)) }

    /// Heartbeat-silent and gossip-dead (or absent): a voter to remove.
    func isDead(_ node: NodeID) -> Bool { isSilent(node) && !isAlive(node) }

    /// An alive eligible server.
    func isVoterCandidate(_ node: NodeID) -> Bool { views[node]?.isVoterCandidate ?? false }

    /// A voter candidate the leader considers caught up and hears from.
    func isPromotable(_ node: NodeID) -> Bool {
        isVoterCandidate(node) && input.caughtUp.contains(node) && !isSilent(node)
    }

    /// `count` voters, spread over failure domains first, then by preference; in rank order.
    func targetVoters(count: Int) -> [NodeID] {
        let candidates = ranked.filter(\.eligible).sorted(by: votesBefore)
        var chosen: [RaftMemberView] = []
        var chosenIDs: Set<NodeID> = []
        var domains: Set<String> = []
        for candidate in candidates where chosen.count < count && !domains.contains(candidate.failureDomain) {
            chosen.append(candidate)
            chosenIDs.insert(candidate.id)
            domains.insert(candidate.failureDomain)
        }
        for candidate in candidates where chosen.count < count && !chosenIDs.contains(candidate.id) {
            chosen.append(candidate)
            chosenIDs.insert(candidate.id)
        }
        return chosen.sorted(by: Ranking.precedes).map(\.id)
    }

    /// Up to `maxStandbys` alive servers that are not target voters, by preference; in rank order.
    func targetStandbys(excluding voters: Set<NodeID>) -> [NodeID] {
        let servers = ranked.filter { !voters.contains($0.id) }.sorted(by: standsByBefore)
        return servers.prefix(max(input.maxStandbys, 0)).sorted(by: Ranking.precedes).map(\.id)
    }

    /// Voter preference: priority, then the sitting leader, current voters, caught-up standbys, others,
    /// then node ID. Sitting members win ties, so nobody is replaced by an equal.
    func votesBefore(_ lhs: RaftMemberView, _ rhs: RaftMemberView) -> Bool {
        (lhs.priority, voterTier(lhs.id), lhs.id) < (rhs.priority, voterTier(rhs.id), rhs.id)
    }

    private func voterTier(_ node: NodeID) -> Int {
        if configuration.isVoter(node) { return node == leader ? 0 : 1 }
        return configuration.isStandby(node) && isPromotable(node) ? 2 : 3
    }

    /// Standby preference: eligible first, priority, current members first, node ID.
    private func standsByBefore(_ lhs: RaftMemberView, _ rhs: RaftMemberView) -> Bool {
        if lhs.eligible != rhs.eligible { return lhs.eligible }
        let lhsOutside = configuration.role(of: lhs.id) == nil ? 1 : 0
        let rhsOutside = configuration.role(of: rhs.id) == nil ? 1 : 0
        return (lhs.priority, lhsOutside, lhs.id) < (rhs.priority, rhsOutside, rhs.id)
    }
}

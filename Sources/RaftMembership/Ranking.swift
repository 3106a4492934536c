import CohortCore

/// The deterministic order of servers that every membership decision starts from (SPEC 8).
public enum Ranking {
    /// Alive servers only, best first: eligible first, then priority ascending, then node ID.
    ///
    /// The result does not depend on the order of `members`. A node ID listed more than once keeps one entry
    /// (see ``deduplicated(_:)``).
    public static func rank(_ members: [RaftMemberView]) -> [RaftMemberView] {
        deduplicated(members).filter { $0.isAlive && $0.isServer }.sorted(by: precedes)
    }

    /// True when `lhs` ranks before `rhs`: eligible first, then lower priority, then lower node ID.
    public static func precedes(_ lhs: RaftMemberView, _ rhs: RaftMemberView) -> Bool {
        if lhs.eligible != rhs.eligible { return lhs.eligible }
        if lhs.priority != rhs.priority { return lhs.priority < rhs.priority }
        return lhs.id < rhs.id
    }

    /// One entry per node ID, sorted by ID. A gossip view should not list a node twice; if one does, the
    /// most favourable entry is kept (alive, then server, then eligible, then lower priority, then the
    /// remaining fields), so the outcome never depends on the order of the list.
    public static func deduplicated(_ members: [RaftMemberView]) -> [RaftMemberView] {
        var kept: [RaftMemberView] = []
        kept.reserveCapacity(members.count)
        for member in members.sorted(by: entryPrecedes) where kept.last?.id != member.id {
            kept.append(member)
        }
        return kept
    }

    /// A total order over every field: by ID, then the most favourable entry first.
    private static func entryPrecedes(_ lhs: RaftMemberView, _ rhs: RaftMemberView) -> Bool {
        if lhs.id != rhs.id { return lhs.id < rhs.id }
        if lhs.isAlive != rhs.isAlive { return lhs.isAlive }
        if lhs.isServer != rhs.isServer { return lhs.isServer }
        if lhs.eligible != rhs.eligible { return lhs.eligible }
        if lhs.priority != rhs.priority { return lhs.priority < rhs.priority }
        if lhs.failureDomain != rhs.failureDomain {
            return lhs.failureDomain.utf8.lexicographicallyPrecedes(rhs.failureDomain.utf8)
        }
        if lhs.inCluster != rhs.inCluster { return !lhs.inCluster }
        return lhs.bootstrapExpect < rhs.bootstrapExpect
    }
}

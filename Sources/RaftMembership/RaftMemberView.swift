import CohortCore

/// One node as the gossip view shows it, reduced to what Raft membership needs.
///
/// The bootstrap decision and the voter planner read nothing else about a node, so a test (or the shell)
/// describes a cluster with a list of these.
public struct RaftMemberView: Sendable, Hashable {
    /// The node.
    public var id: NodeID
    /// Gossip says alive or suspect; false when dead or left.
    public var isAlive: Bool
    /// `raft.role` is `server`; false for a client, which is never in the configuration.
    public var isServer: Bool
    /// `raft.eligible`; false: never a voter, may still be a standby.
    public var eligible: Bool
    /// `raft.priority`; lower is preferred.
    public var priority: Int
    /// `failure_domain`; the empty string means none (all such nodes share one unnamed domain).
    public var failureDomain: String
    /// Advertises bootstrap status `in`: the node has Raft state or is in a group.
    public var inCluster: Bool
    /// The `bootstrap_expect` the node advertises with status `pre`.
    public var bootstrapExpect: Int
    /// The founding set the node proposes while it sees exactly `bootstrap_expect` qualifying nodes
    /// (``BootstrapPlanner/proposal(for:)`` of their IDs), 0 for none. A node bootstraps only a set that
    /// every member of it proposes.
    public var bootstrapProposal: UInt64 = 0

    /// A member view; the defaults describe a live, eligible server of default priority that has not
    /// bootstrapped and expects to bootstrap alone.
    public init(
        id: NodeID, isAlive: Bool = true, isServer: Bool = true, eligible: Bool = true, priority: Int = 100,
        failureDomain: String = "", inCluster: Bool = false, bootstrapExpect: Int = 1, bootstrapProposal: UInt64 = 0
    ) {
        self.id = id
        self.isAlive = isAlive
        self.isServer = isServer
        self.eligible = eligible
        self.priority = priority
        self.failureDomain = failureDomain
        self.inCluster = inCluster
        self.bootstrapExpect = bootstrapExpect
        self.bootstrapProposal = bootstrapProposal
    }

    /// Alive, a server and eligible: the node may be a voter.
    var isVoterCandidate: Bool { isAlive && isServer && eligible }
}

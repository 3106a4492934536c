import CohortCore
import RaftCore

/// Everything the leader's voter reconciler knows when it plans (SPEC 8).
public struct ReconcileInput: Sendable {
    /// The node planning: the current leader. It always counts as live, never as heartbeat-silent.
    public var leader: NodeID
    /// The gossip view including self. Configuration members absent from it count as not alive. A node
    /// listed twice keeps its most favourable entry (see ``Ranking/deduplicated(_:)``).
    public var members: [RaftMemberView]
    /// The configuration in force on the leader (the latest one in its log).
    public var configuration: Configuration
    /// Members the leader considers caught up: within 250 entries of its log and heard from in the last
    /// 2 heartbeats. Standbys need it to be promoted; voters need it to receive leadership.
    public var caughtUp: Set<NodeID>
    /// Members the leader has not heard from lately (heartbeat-silent). A voter that is silent and
    /// gossip-dead is dead and gets removed.
    public var silent: Set<NodeID>
    /// `max_voters`; values below 1 count as 1.
    public var maxVoters: Int
    /// `max_standbys`; may be `Int.max` (every server in the configuration); negative values count as 0.
    public var maxStandbys: Int

    /// The reconciler's input.
    public init(
        leader: NodeID, members: [RaftMemberView], configuration: Configuration, caughtUp: Set<NodeID>,
        silent: Set<NodeID>, maxVoters: Int, maxStandbys: Int
    ) {
        self.leader = leader
        self.members = members
        self.configuration = configuration
        self.caughtUp = caughtUp
        self.silent = silent
        self.maxVoters = maxVoters
        self.maxStandbys = maxStandbys
    }
}

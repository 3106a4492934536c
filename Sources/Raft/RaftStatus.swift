import CohortCore
import RaftCore

/// A point-in-time view of one node's Raft state, for the API, `/v1/status` and tests.
public struct RaftStatus: Sendable, Hashable {
    /// What the node is doing.
    public enum State: String, Sendable, Hashable, CaseIterable {
        /// The service is not running (not started yet, or stopped).
        case none
        /// Following a leader, or waiting for one.
        case follower
        /// Campaigning (pre-vote or vote).
        case candidate
        /// Leading its term.
        case leader
    }

    /// The node's place in the configuration (the core's ``MemberRole``, or outside it).
    public enum Membership: String, Sendable, Hashable {
        /// Counted in elections and commits.
        case voter
        /// Replicated, never counted (a Raft learner).
        case standby
        /// Outside the configuration: not replicated to, never a candidate.
        case client
    }

    /// What the node is doing.
    public var state: State
    /// Its current term.
    public var term: Term
    /// The leader it knows of, if any.
    public var leader: NodeID?
    /// The highest index it knows committed.
    public var commitIndex: LogIndex
    /// The highest index its state machine applied.
    public var appliedIndex: LogIndex
    /// The index of its last log entry.
    public var lastLogIndex: LogIndex
    /// Its role in the configuration in force.
    public var role: Membership
    /// The voters of the configuration in force.
    public var voters: [NodeID]
    /// The standbys of the configuration in force.
    public var standbys: [NodeID]

    /// A status with every field given.
    public init(
        state: State, term: Term, leader: NodeID?, commitIndex: LogIndex, appliedIndex: LogIndex, lastLogIndex: LogIndex,
        role: Membership, voters: [NodeID], standbys: [NodeID]
    ) {
        self.state = state
        self.term = term
        self.leader = leader
        self.commitIndex = commitIndex
        self.appliedIndex = appliedIndex
        self.lastLogIndex = lastLogIndex
        self.role = role
        self.voters = voters
        self.standbys = standbys
    }
}

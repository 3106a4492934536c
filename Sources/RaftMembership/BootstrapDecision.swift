import CohortCore

/// What a node that has no Raft state should do about bootstrapping, given what gossip shows (SPEC 7).
///
/// Only ``bootstrap(voters:)`` acts; every other case says why the node waits, and ``mismatch(expected:others:)``
/// is the one an operator must fix (log it as an error naming the nodes).
public enum BootstrapDecision: Hashable, Sendable {
    /// `bootstrap_expect` is 0: never self-bootstrap; wait to be added by a leader's reconciler.
    case never
    /// Fewer or more than `expect` qualifying nodes are visible, or this node does not qualify itself
    /// (not an alive, eligible server); `visible` counts the qualifying nodes.
    case waiting(visible: Int, expect: Int)
    /// Exactly `expect` qualifying nodes (sorted by ID) are visible; this node proposes them as the
    /// founding set (advertise `proposal`) and waits until every one of them proposes the same set.
    case proposing(qualifying: [NodeID], proposal: UInt64)
    /// Exactly `expect` qualifying nodes (sorted by ID), each proposing that same set, have been visible,
    /// unchanged, since `since`; the stability window is not over yet.
    case stabilizing(since: ContinuousClock.Instant, qualifying: [NodeID])
    /// Bootstrap now with these voters, sorted by (priority, node ID); they include this node, and every
    /// qualifying node computes the same list.
    case bootstrap(voters: [NodeID])
    /// An alive node (the lowest such ID) advertises `in`: a cluster exists, so this node never bootstraps
    /// and waits to be added.
    case clusterExists(seenIn: NodeID)
    /// Alive `pre` servers advertise another expected size (nodes advertising 0 are ignored). Blocks
    /// bootstrap until the operator makes `bootstrap_expect` agree.
    case mismatch(expected: Int, others: [NodeID: Int])

    /// What the node advertises as its bootstrap proposal after this decision: the set it proposes or is
    /// about to found, else 0 (a node that no longer sees exactly that set withdraws its proposal). A
    /// founder keeps advertising its set next to status `in` until its group has a leader, so fellow
    /// founders that decide a moment later join the same founding.
    public var advertisedProposal: UInt64 {
        switch self {
        case .proposing(_, let proposal): proposal
        case .stabilizing(_, let qualifying), .bootstrap(let qualifying): BootstrapPlanner.proposal(for: qualifying)
        case .never, .waiting, .clusterExists, .mismatch: 0
        }
    }
}

import CohortCore

/// Decides when a node bootstraps a new Raft group from `bootstrap_expect` (SPEC 7). Pure: the caller
/// feeds it the gossip view and the time.
///
/// Decision order, first match wins:
/// 1. `expect` ≤ 0 → ``BootstrapDecision/never``.
/// 2. Any alive node advertises `in` → ``BootstrapDecision/clusterExists(seenIn:)`` (also with expect 1:
///    a node that joined an existing cluster must not start a second one).
/// 3. `expect` 1 → ``BootstrapDecision/bootstrap(voters:)`` with self alone, at once, when self is an
///    alive eligible server; otherwise ``BootstrapDecision/waiting(visible:expect:)``.
/// 4. Alive `pre` servers advertising another non-zero N → ``BootstrapDecision/mismatch(expected:others:)``.
/// 5. Qualifying nodes — alive, eligible servers advertising `pre` with the same N — are not exactly N, or
///    self is not one of them → ``BootstrapDecision/waiting(visible:expect:)``.
/// 6. Exactly N: ``BootstrapDecision/stabilizing(since:qualifying:)`` until the same nodes, with the same
///    advertised attributes, have been seen for the whole stability window; any change restarts it. Then
///    ``BootstrapDecision/bootstrap(voters:)``, sorted by (priority, node ID).
///
/// Cases 2 to 5 reset the window. Self's own entry is taken from the view (so a leaving node does not
/// bootstrap); when the view lacks it, self counts as an alive eligible server of default priority. Self's
/// expected size is always `expect`, whatever its entry advertises. A node with existing Raft state must
/// not ask at all: the caller checks that persisted fact first.
public struct BootstrapPlanner: Sendable {
    /// This node.
    public let selfID: NodeID
    /// This node's `bootstrap_expect`.
    public let expect: Int
    /// How long exactly the same qualifying nodes must be visible before bootstrapping (default 5 s).
    public let stabilityWindow: Duration

    /// The qualifying nodes being watched and since when, or nil when no window is open.
    private var window: (since: ContinuousClock.Instant, qualifying: [RaftMemberView])?

    /// A planner for `selfID` expecting `expect` voters.
    public init(selfID: NodeID, expect: Int, stabilityWindow: Duration = .seconds(5)) {
        self.selfID = selfID
        self.expect = expect
        self.stabilityWindow = stabilityWindow
    }

    /// Feed the current view (including self) and the current time; returns what to do now. Qualifying
    /// nodes = alive servers, eligible, advertising pre with the same N. The set must stay identical for the
    /// whole window (any change restarts it). expect 1 -> .bootstrap([self]) at once.
    public mutating func decide(view: [RaftMemberView], now: ContinuousClock.Instant) -> BootstrapDecision {
        guard expect > 0 else {
            window = nil
            return .never
        }
        var members = Ranking.deduplicated(view)
        if !members.contains(where: { $0.id == selfID }) {
            members.append(RaftMemberView(id: selfID, bootstrapExpect: expect))
        }
        if let member = members.first(where: { $0.isAlive && $0.inCluster }) {
            window = nil
            return .clusterExists(seenIn: member.id)
        }
        members = members.map { member in
            var member = member
            if member.id == selfID { member.bootstrapExpect = expect }
            return member
        }
        let qualifying = members.filter { $0.isVoterCandidate && $0.bootstrapExpect == expect }
        let selfQualifies = qualifying.contains { $0.id == selfID }
        if expect == 1 {
            window = nil
            return selfQualifies ? .bootstrap(voters: [selfID]) : .waiting(visible: 0, expect: 1)
        }
        let others = Self.mismatched(members, expect: expect)
        guard others.isEmpty else {
            window = nil
            return .mismatch(expected: expect, others: others)
        }
        guard qualifying.count == expect, selfQualifies else {
            window = nil
            return .waiting(visible: qualifying.count, expect: expect)
        }
        return stabilize(qualifying, now: now)
    }

    /// Opens, keeps or completes the stability window for exactly N qualifying nodes (sorted by ID).
    private mutating func stabilize(_ qualifying: [RaftMemberView], now: ContinuousClock.Instant) -> BootstrapDecision {
        let since: ContinuousClock.Instant
        if let window, window.qualifying == qualifying {
            since = window.since
        } else {
            since = now
            window = (since, qualifying)
        }
        guard now - since >= stabilityWindow else {
            return .stabilizing(since: since, qualifying: qualifying.map(\.id))
        }
        let voters = qualifying.sorted { ($0.priority, $0.id) < ($1.priority, $1.id) }
        return .bootstrap(voters: voters.map(\.id))
    }

    /// Alive servers advertising `pre` with a positive N other than `expect`.
    private static func mismatched(_ members: [RaftMemberView], expect: Int) -> [NodeID: Int] {
        var others: [NodeID: Int] = [:]
        for member in members where member.isAlive && member.isServer && !member.inCluster {
            if member.bootstrapExpect > 0, member.bootstrapExpect != expect {
                others[member.id] = member.bootstrapExpect
            }
        }
        return others
    }
}

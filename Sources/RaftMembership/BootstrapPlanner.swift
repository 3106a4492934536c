import CohortCore

/// Decides when a node bootstraps a new Raft group from `bootstrap_expect` (SPEC 7). Pure: the caller
/// feeds it the gossip view and the time.
///
/// Decision order, first match wins:
/// 1. `expect` ≤ 0 → ``BootstrapDecision/never``.
/// 2. Any alive node advertises `in` → ``BootstrapDecision/clusterExists(seenIn:)`` (also with expect 1:
///    a node that joined an existing cluster must not start a second one) — unless every such node is a
///    founder that still advertises the proposal of a set this node is exactly part of (its fellow founders
///    decided first): then ``BootstrapDecision/bootstrap(voters:)`` with that set, at once.
/// 3. `expect` 1 → ``BootstrapDecision/bootstrap(voters:)`` with self alone, at once, when self is an
///    alive eligible server; otherwise ``BootstrapDecision/waiting(visible:expect:)``.
/// 4. Alive `pre` servers advertising another non-zero N → ``BootstrapDecision/mismatch(expected:others:)``.
/// 5. Qualifying nodes — alive, eligible servers advertising `pre` with the same N — are not exactly N, or
///    self is not one of them → ``BootstrapDecision/waiting(visible:expect:)``.
/// 6. Exactly N, but not every one of them proposes this set yet → ``BootstrapDecision/proposing(qualifying:proposal:)``:
///    the node advertises the set it proposes and waits for the others to propose the same.
/// 7. Exactly N, all proposing this set: ``BootstrapDecision/stabilizing(since:qualifying:)`` until the
///    same nodes, with the same advertised attributes, have been seen for the whole stability window; any
///    change restarts it. Then ``BootstrapDecision/bootstrap(voters:)``, sorted by (priority, node ID).
///
/// The agreement step is what keeps N + 1 servers with uneven views from founding two groups that share
/// names: a node that sees exactly N proposes them, one that sees N + 1 proposes nothing, so two different
/// sets (which overlap in N − 1 nodes) cannot both be proposed by all their members at once. A member that
/// changes its proposal, or sees a node advertise `in`, withdraws before another set could stay agreed
/// for a window — as long as a proposal reaches the other nodes within a third of the window (gossip
/// spreads it in well under a second; the window is 5 s).
///
/// Cases 2 to 6 reset the window. Self's own entry is taken from the view (so a leaving node does not
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
        members = members.map { member in
            var member = member
            if member.id == selfID { member.bootstrapExpect = expect }
            return member
        }
        let inCluster = members.filter { $0.isAlive && $0.inCluster }
        if let member = inCluster.first {
            window = nil
            if let founding = joinableFounding(members, inCluster: inCluster) { return .bootstrap(voters: founding) }
            return .clusterExists(seenIn: member.id)
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
        let ids = qualifying.map(\.id).sorted()
        let proposal = Self.proposal(for: ids)
        // Self proposes what it computes here (the caller advertises it); the others must be seen proposing it.
        guard qualifying.allSatisfy({ $0.id == selfID || $0.bootstrapProposal == proposal }) else {
            window = nil
            return .proposing(qualifying: ids, proposal: proposal)
        }
        return stabilize(qualifying, now: now)
    }

    /// The founding set this node may still join: every alive node advertising `in` founded the same set
    /// moments ago (it still advertises that set's proposal, until its group has a leader), and those
    /// founders together with the qualifying `pre` nodes are exactly that set, self included. Founders
    /// decide at slightly different moments; one that sees a fellow founder's `in` first must still write
    /// the same founding state, or the founders that were quicker could never elect a leader.
    private func joinableFounding(_ members: [RaftMemberView], inCluster: [RaftMemberView]) -> [NodeID]? {
        let proposal = inCluster[0].bootstrapProposal
        guard proposal != 0, inCluster.allSatisfy({ $0.bootstrapProposal == proposal && $0.isVoterCandidate && $0.bootstrapExpect == expect }) else { return nil }
        let candidates = members.filter { $0.isVoterCandidate && $0.bootstrapExpect == expect }
        let ids = candidates.map(\.id).sorted()
        guard candidates.count == expect, ids.contains(selfID), Self.proposal(for: ids) == proposal else { return nil }
        return candidates.sorted { ($0.priority, $0.id) < ($1.priority, $1.id) }.map(\.id)
    }

    /// The proposal a node advertises for founding `voters`: a 64-bit FNV-1a hash of their IDs sorted and
    /// joined by newlines (never 0, which means "no proposal").
    public static func proposal(for voters: [NodeID]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for (offset, id) in voters.map(\.rawValue).sorted().enumerated() {
            if offset > 0 { hash = (hash ^ 0x0A) &* 0x0000_0100_0000_01B3 }
            for byte in id.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        }
        return hash == 0 ? 1 : hash
    }

    /// Opens, keeps or completes the stability window for exactly N qualifying nodes (sorted by ID).
    private mutating func stabilize(_ qualifying: [RaftMemberView], now: ContinuousClock.Instant) -> BootstrapDecision {
        let since: ContinuousClock.Instant
        // Self's own entry changes as the caller advertises the proposal: the others' entries make the window.
        let qualifying = qualifying.map { member in
            var member = member
            if member.id == selfID { member.bootstrapProposal = 0 }
            return member
        }
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

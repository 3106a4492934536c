import CohortCore
import Gossip
import RaftMembership

/// The gossip members in Raft membership's terms, kept one membership update at a time: an update decodes
/// the metadata of the member it names only (a snapshot or resync decodes them all), and the routing order
/// — the ranked members advertising `in` — is kept ranked one update at a time (a binary search, no sort) and
/// read out only when one of those, or this node's own entry, changed. Every node runs this for every
/// membership event, so the per-event work must stay small as the cluster grows (issue 18): at a mass start
/// of N nodes each node handles about N events, and most of them may be Raft-capable servers.
///
/// This node's own entry always comes from its own metadata (passed in), never from gossip.
struct RaftGossipView {
    /// A member's view with the Raft group it advertises.
    struct Entry: Equatable {
        var view: RaftMemberView
        var group: String
    }

    let selfID: NodeID
    /// Every other member whose metadata is Cohort's, by node ID; members that left stay, not alive.
    private(set) var entries: [NodeID: Entry] = [:]
    /// The entries advertising `in`: all the routing order depends on, besides this node.
    private var inCluster: [NodeID: RaftMemberView] = [:]
    /// The alive servers of `inCluster`, in `Ranking.precedes` order: the routing order without this node.
    private var ranked: [RaftMemberView] = []
    /// The routing order last computed and what it was computed from.
    private var routing: (order: [NodeID], own: RaftMemberView)?
    /// How many times the routing order was computed (for tests: a burst of updates that touches no
    /// Raft member computes nothing).
    private(set) var routingComputations = 0

    init(selfID: NodeID) {
        self.selfID = selfID
    }

    /// Applies one membership update.
    mutating func apply(_ update: MembershipUpdate) {
        switch update {
        case .snapshot(let all), .resync(let all):
            var replaced = RaftGossipView(selfID: selfID)
            replaced.routing = routing
            replaced.routingComputations = routingComputations
            for member in all { replaced.set(member, ranking: false) }
            replaced.ranked = replaced.inCluster.values.filter(Self.isRoutable).sorted(by: Ranking.precedes)
            if replaced.inCluster != inCluster { replaced.routing = nil }
            self = replaced
        case .joined(let member), .updated(let member):
            set(member)
        case .left(let member, _):
            var gone = member
            if !gone.isGone { gone.state = .dead }
            set(gone)
        }
    }

    /// Records `member`; with `ranking`, keeps `ranked` in step (a snapshot ranks once at the end instead).
    private mutating func set(_ member: Member, ranking: Bool = true) {
        guard member.name != selfID else { return }
        guard let meta = try? NodeMeta(decoding: member.meta) else {
            // Not (or no longer) Cohort's metadata: not in the view.
            entries[member.name] = nil
            if let removed = inCluster.removeValue(forKey: member.name) {
                if ranking { unrank(removed) }
                routing = nil
            }
            return
        }
        let entry = Entry(view: Self.memberView(member.name, meta: meta, alive: !member.isGone), group: meta.raftGroup)
        entries[member.name] = entry
        let wasIn = inCluster[member.name]
        let nowIn = entry.view.inCluster ? entry.view : nil
        guard wasIn != nowIn else { return }
        inCluster[member.name] = nowIn
        if ranking {
            if let wasIn { unrank(wasIn) }
            if let nowIn { rank(nowIn) }
        }
        routing = nil
    }

    /// Whether a member advertising `in` can be routed to.
    private static func isRoutable(_ view: RaftMemberView) -> Bool {
        view.isAlive && view.isServer
    }

    /// Where `view` stands or would stand in `ranked` (IDs are unique, so the order is strict).
    private func rankedPosition(of view: RaftMemberView) -> Int {
        var low = 0
        var high = ranked.count
        while low < high {
            let middle = (low + high) / 2
            if Ranking.precedes(ranked[middle], view) { low = middle + 1 } else { high = middle }
        }
        return low
    }

    private mutating func rank(_ view: RaftMemberView) {
        guard Self.isRoutable(view) else { return }
        ranked.insert(view, at: rankedPosition(of: view))
    }

    private mutating func unrank(_ view: RaftMemberView) {
        guard Self.isRoutable(view) else { return }
        let position = rankedPosition(of: view)
        if position < ranked.count, ranked[position].id == view.id { ranked.remove(at: position) }
    }

    /// Every member's view with its group, this node's (from `own`) included, sorted by node ID: what the
    /// bootstrap planner and the reconciler plan with. O(N log N): for decisions taken once per batch or
    /// per debounce, not per event.
    func viewWithGroups(own: NodeMeta) -> [(view: RaftMemberView, group: String)] {
        var result = entries.map { (view: $0.value.view, group: $0.value.group) }
        result.append((Self.memberView(selfID, meta: own, alive: true), own.raftGroup))
        return result.sorted { $0.view.id < $1.view.id }
    }

    /// Raft members a write can be routed to (alive servers advertising `in`, ranked), when that differs
    /// from the order last returned; nil when it cannot have changed. O(1) unless a Raft member's entry
    /// (or `own`) changed since, and then a copy of the ranked members' IDs: a start of N nodes asks for
    /// it about N times on every node.
    mutating func routingOrderIfChanged(own: NodeMeta) -> [NodeID]? {
        let ownView = Self.memberView(selfID, meta: own, alive: true)
        if let routing, routing.own == ownView { return nil }
        routingComputations += 1
        var order: [NodeID] = []
        order.reserveCapacity(ranked.count + 1)
        // `Ranking.rank`'s order; no deduplication needed: the table is keyed by ID and never holds this node.
        let ownPosition = ownView.inCluster && Self.isRoutable(ownView) ? rankedPosition(of: ownView) : nil
        for (position, member) in ranked.enumerated() {
            if position == ownPosition { order.append(ownView.id) }
            order.append(member.id)
        }
        if ownPosition == ranked.count { order.append(ownView.id) }
        let changed = routing?.order != order
        routing = (order, ownView)
        return changed ? order : nil
    }

    static func memberView(_ id: NodeID, meta: NodeMeta, alive: Bool) -> RaftMemberView {
        RaftMemberView(
            id: id, isAlive: alive, isServer: meta.role == .server, eligible: meta.raftEligible,
            priority: Int(meta.raftPriority), failureDomain: meta.failureDomain,
            inCluster: meta.bootstrapStatus == .inCluster, bootstrapExpect: Int(meta.bootstrapExpect),
            bootstrapProposal: meta.bootstrapProposal
        )
    }
}

import CohortCore
import Gossip
import RaftMembership

/// The gossip members in Raft membership's terms, kept one membership update at a time: an update decodes
/// the metadata of the member it names only (a snapshot or resync decodes them all), and the routing order
/// — the ranked members advertising `in` — is recomputed only when one of those, or this node's own entry,
/// changed. Every node runs this for every membership event, so the per-event work must not grow with the
/// cluster (issue 18): at a mass start of N nodes each node handles about N events.
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
            for member in all { replaced.set(member) }
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

    private mutating func set(_ member: Member) {
        guard member.name != selfID else { return }
        guard let meta = try? NodeMeta(decoding: member.meta) else {
            // Not (or no longer) Cohort's metadata: not in the view.
            entries[member.name] = nil
            if inCluster.removeValue(forKey: member.name) != nil { routing = nil }
            return
        }
        let entry = Entry(view: Self.memberView(member.name, meta: meta, alive: !member.isGone), group: meta.raftGroup)
        entries[member.name] = entry
        let wasIn = inCluster[member.name]
        let nowIn = entry.view.inCluster ? entry.view : nil
        guard wasIn != nowIn else { return }
        inCluster[member.name] = nowIn
        routing = nil
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
    /// (or `own`) changed since.
    mutating func routingOrderIfChanged(own: NodeMeta) -> [NodeID]? {
        let ownView = Self.memberView(selfID, meta: own, alive: true)
        if let routing, routing.own == ownView { return nil }
        routingComputations += 1
        // `Ranking.rank` without its deduplication: the IDs here are unique (the table is keyed by ID and never
        // holds this node), and a start of N nodes recomputes this about N times on every node.
        var members = inCluster.values.filter { $0.isAlive && $0.isServer }
        if ownView.inCluster, ownView.isServer { members.append(ownView) }
        let order = members.sorted(by: Ranking.precedes).map(\.id)
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

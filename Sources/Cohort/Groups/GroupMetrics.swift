import GroupsCore
import Prometheus

/// The `pg_*` metrics of one scope (SPEC §10), every series at zero from the start.
final class GroupMetrics: Sendable {
    static let syncResults = ["sent", "received", "acked", "retried", "failed", "requested"]
    /// Reasons of `pg_dropped_total`: the core's, the mesh's refusals (`queue_full`, `too_large`,
    /// `unreachable`: the mesh does not know the peer yet, or it left) and
    /// `breaker_open` (an update not sent to a peer whose breaker is open), and the receiver's `malformed` and
    /// `unknown_scope` (counted under the scope label `_unknown`).
    static let dropReasons = ScopeDropReason.allCases.map(\.rawValue)
        + ["queue_full", "too_large", "unreachable", "breaker_open", "malformed", "unknown_scope"]

    let groups: Gauge
    let localMembers: Gauge
    let remoteMembers: Gauge
    let broadcasts: Counter
    let deliveries: Counter
    let sync: [String: Counter]
    let dropped: [String: Counter]

    init(scope: String, registry: PrometheusCollectorRegistry) {
        groups = registry.gauge("pg_groups", labels: [("scope", scope)], help: "Groups with members on some node, as this node sees the scope.")
        let membersHelp = "Memberships (with multiplicity) as this node sees the scope: local on this node, remote on others."
        localMembers = registry.gauge("pg_members", labels: [("scope", scope), ("locality", "local")], help: membersHelp)
        remoteMembers = registry.gauge("pg_members", labels: [("scope", scope), ("locality", "remote")], help: membersHelp)
        broadcasts = registry.counter("pg_broadcasts_total", labels: [("scope", scope)], help: "Broadcasts sent from this node (broadcast and broadcastLocal).")
        deliveries = registry.counter("pg_deliveries_total", labels: [("scope", scope)], help: "Broadcast messages delivered to processes on this node.")
        sync = Dictionary(uniqueKeysWithValues: Self.syncResults.map { result in
            (result, registry.counter(
                "pg_sync_total", labels: [("scope", scope), ("result", result)],
                help: "Whole-membership syncs with peers: sent, received, acked, retried, failed (breaker opened), requested (by a peer)."
            ))
        })
        dropped = Dictionary(uniqueKeysWithValues: Self.dropReasons.map { reason in
            (reason, registry.counter(
                "pg_dropped_total", labels: [("scope", scope), ("reason", reason)],
                help: "pg messages not sent or not applied, by reason."
            ))
        })
    }

    /// Follows the core after a change and adds what it counted.
    func observe(_ core: ScopeCore, tally: ScopeTally, refused: [String: Int]) {
        groups.set(Int64(core.groupCount))
        localMembers.set(Int64(core.local.count))
        remoteMembers.set(Int64(core.remoteMemberCount))
        guard tally != ScopeTally() || !refused.isEmpty else { return }
        for (result, count) in [
            ("sent", tally.syncSent), ("received", tally.syncReceived), ("acked", tally.syncAcked),
            ("retried", tally.syncRetried), ("failed", tally.syncFailed), ("requested", tally.syncRequested),
        ] where count > 0 {
            sync[result]?.increment(by: Int64(count))
        }
        for (reason, count) in tally.dropped { dropped[reason.rawValue]?.increment(by: Int64(count)) }
        if tally.skipped > 0 { dropped["breaker_open"]?.increment(by: Int64(tally.skipped)) }
        for (reason, count) in refused { dropped[reason]?.increment(by: Int64(count)) }
    }

    func malformed() {
        dropped["malformed"]?.increment()
    }
}

import CohortCore
import RaftMembership

/// Node IDs from names.
func ids(_ names: String...) -> [NodeID] { names.map(NodeID.init) }

/// A member view by name; the defaults are a live, eligible server of priority 100 without a domain.
func member(
    _ name: String, alive: Bool = true, server: Bool = true, eligible: Bool = true, priority: Int = 100,
    domain: String = "", inCluster: Bool = false, expect: Int = 1
) -> RaftMemberView {
    RaftMemberView(
        id: NodeID(name), isAlive: alive, isServer: server, eligible: eligible, priority: priority,
        failureDomain: domain, inCluster: inCluster, bootstrapExpect: expect
    )
}

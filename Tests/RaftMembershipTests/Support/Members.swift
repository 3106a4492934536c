import CohortCore
import RaftCore
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

extension ReconcileInput {
    /// An input with names; caught up defaults to every configuration member that is not silent.
    static func of(
        leader: String, members: [RaftMemberView], voters: [String], standbys: [String] = [],
        caughtUp: [String]? = nil, silent: [String] = [], maxVoters: Int = 5, maxStandbys: Int = 2
    ) -> ReconcileInput {
        let configuration = Configuration(voters: voters.map(NodeID.init), standbys: standbys.map(NodeID.init))
        let silentSet = Set(silent.map(NodeID.init))
        let caughtUpSet = caughtUp.map { Set($0.map(NodeID.init)) }
            ?? Set(configuration.members).subtracting(silentSet)
        return ReconcileInput(
            leader: NodeID(leader), members: members, configuration: configuration, caughtUp: caughtUpSet,
            silent: silentSet, maxVoters: maxVoters, maxStandbys: maxStandbys
        )
    }
}

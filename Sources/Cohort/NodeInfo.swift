import CohortConfig
import CohortCore

/// What `GET /v1/node` returns: who this node is.
public struct NodeInfo: Codable, Sendable, Equatable {
    /// The node ID (`cluster.name`).
    public var name: String
    /// The boot incarnation; strictly greater on every start.
    public var incarnation: UInt64
    /// Whether `cluster.enabled` is on.
    public var clusterEnabled: Bool
    /// `standalone` when the cluster is off; otherwise the configured `cluster.raft.role`
    /// (`server` or `client`); the Raft subsystem refines `server` into voter or standby.
    public var role: String
    /// The Cohort version of this build.
    public var version: String

    enum CodingKeys: String, CodingKey {
        case name, incarnation, role, version
        case clusterEnabled = "cluster_enabled"
    }
}

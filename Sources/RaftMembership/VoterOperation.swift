import CohortCore
import RaftCore

/// One step of a voter plan: a single-server configuration change, or the leader stepping aside first.
public enum VoterOperation: Hashable, Sendable, CustomStringConvertible {
    /// Adds a node outside the configuration as a standby (it then catches up before any promotion).
    case addStandby(NodeID)
    /// Makes a caught-up standby a voter.
    case promote(NodeID)
    /// Makes a voter a standby.
    case demote(NodeID)
    /// Takes a voter or standby out of the configuration.
    case remove(NodeID)
    /// The leader hands leadership to this caught-up voter before demoting or removing itself; the plan's
    /// next operation (the leader's own change) is then the new leader's business.
    case transferLeadership(to: NodeID)

    /// The configuration change to propose; nil for ``transferLeadership(to:)``.
    public var configurationChange: ConfigurationChange? {
        switch self {
        case .addStandby(let node): .addStandby(node)
        case .promote(let node): .promote(node)
        case .demote(let node): .demote(node)
        case .remove(let node): .remove(node)
        case .transferLeadership: nil
        }
    }

    /// The node the operation is about (the new leader for a transfer).
    public var node: NodeID {
        switch self {
        case .addStandby(let node), .promote(let node), .demote(let node), .remove(let node),
            .transferLeadership(to: let node):
            node
        }
    }

    /// The `op` label of `raft_voter_operations_total`: `add_standby`, `promote`, `demote`, `remove`,
    /// `transfer_leadership`.
    public var metricLabel: String {
        switch self {
        case .addStandby: "add_standby"
        case .promote: "promote"
        case .demote: "demote"
        case .remove: "remove"
        case .transferLeadership: "transfer_leadership"
        }
    }

    /// How the operation reads in a log line, e.g. `promote n2`, `transfer leadership to n3`.
    public var description: String {
        switch self {
        case .transferLeadership(to: let node): "transfer leadership to \(node)"
        default: configurationChange.map(\.description) ?? metricLabel
        }
    }
}

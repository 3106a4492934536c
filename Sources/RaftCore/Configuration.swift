import CohortCore

/// The members of a Raft group: voters (counted in every majority) and standbys (Raft learners: fully
/// replicated, never counted, never candidates). A node in neither set is outside the configuration.
///
/// Both lists are kept sorted and disjoint, so iterating a configuration is deterministic.
public struct Configuration: Hashable, Sendable, CustomStringConvertible {
    /// The voting members, sorted.
    public private(set) var voters: [NodeID]
    /// The non-voting members (learners), sorted.
    public private(set) var standbys: [NodeID]
    /// Voters then standbys (kept, as leaders iterate it on every heartbeat).
    public private(set) var members: [NodeID]

    /// A configuration of `voters` and `standbys`; a node named in both is a voter.
    public init(voters: some Sequence<NodeID>, standbys: some Sequence<NodeID> = [NodeID]()) {
        let voterSet = Set(voters)
        self.voters = voterSet.sorted()
        self.standbys = Set(standbys).subtracting(voterSet).sorted()
        self.members = self.voters + self.standbys
    }

    /// The configuration with no members (a node that has not been bootstrapped or added yet).
    public static let empty = Configuration(voters: [NodeID]())

    /// The most members (voters and standbys) a configuration may hold: what every node's
    /// ``MessageCodec`` accepts by default. A leader refuses to add past it, since an entry its followers
    /// cannot decode would never commit and would wedge the group.
    public static let maxMembers = 1024

    /// True when the configuration has no member at all.
    public var isEmpty: Bool { voters.isEmpty && standbys.isEmpty }

    /// The role `node` has, or nil when it is outside the configuration.
    public func role(of node: NodeID) -> MemberRole? {
        if isVoter(node) { return .voter }
        if isStandby(node) { return .standby }
        return nil
    }

    /// True when `node` votes.
    public func isVoter(_ node: NodeID) -> Bool { Self.contains(voters, node) }

    /// True when `node` is a standby.
    public func isStandby(_ node: NodeID) -> Bool { Self.contains(standbys, node) }

    /// How many voters make a majority (0 when there are no voters: nothing can be decided).
    public var quorum: Int { voters.isEmpty ? 0 : voters.count / 2 + 1 }

    /// The configuration after `change`, or why the change is not allowed from this configuration.
    public func applying(_ change: ConfigurationChange) throws(ConfigurationChangeError) -> Configuration {
        switch change {
        case .addStandby(let node):
            guard role(of: node) == nil else { throw .alreadyMember(node) }
            guard members.count < Self.maxMembers else { throw .tooManyMembers(limit: Self.maxMembers) }
            return Configuration(voters: voters, standbys: standbys + [node])
        case .promote(let node):
            guard isStandby(node) else { throw .notStandby(node) }
            return Configuration(voters: voters + [node], standbys: standbys.filter { $0 != node })
        case .demote(let node):
            guard isVoter(node) else { throw .notVoter(node) }
            guard voters.count > 1 else { throw .lastVoter(node) }
            return Configuration(voters: voters.filter { $0 != node }, standbys: standbys + [node])
        case .remove(let node):
            guard let role = role(of: node) else { throw .notMember(node) }
            if role == .voter, voters.count == 1 { throw .lastVoter(node) }
            return Configuration(voters: voters.filter { $0 != node }, standbys: standbys.filter { $0 != node })
        }
    }

    public var description: String {
        "voters [\(voters.map(\.rawValue).joined(separator: ","))] standbys [\(standbys.map(\.rawValue).joined(separator: ","))]"
    }

    private static func contains(_ sorted: [NodeID], _ node: NodeID) -> Bool {
        var low = 0, high = sorted.count
        while low < high {
            let middle = (low + high) / 2
            if sorted[middle] == node { return true }
            if sorted[middle] < node { low = middle + 1 } else { high = middle }
        }
        return false
    }
}

/// What a member of a configuration does.
public enum MemberRole: Hashable, Sendable {
    /// Counted in elections and commits; may become leader.
    case voter
    /// Replicated but never counted and never a candidate (a Raft learner).
    case standby
}

/// One single-server configuration change.
public enum ConfigurationChange: Hashable, Sendable, CustomStringConvertible {
    /// Adds a node outside the configuration as a standby.
    case addStandby(NodeID)
    /// Makes a standby a voter.
    case promote(NodeID)
    /// Makes a voter a standby.
    case demote(NodeID)
    /// Takes a voter or standby out of the configuration.
    case remove(NodeID)

    /// The node the change is about.
    public var node: NodeID {
        switch self {
        case .addStandby(let node), .promote(let node), .demote(let node), .remove(let node): node
        }
    }

    public var description: String {
        switch self {
        case .addStandby(let node): "add standby \(node)"
        case .promote(let node): "promote \(node)"
        case .demote(let node): "demote \(node)"
        case .remove(let node): "remove \(node)"
        }
    }
}

/// Why a configuration change does not apply to a configuration.
public enum ConfigurationChangeError: Error, Hashable, Sendable {
    /// Adding a node that is already a voter or standby; remove it or promote it instead.
    case alreadyMember(NodeID)
    /// Promoting a node that is not a standby; add it as a standby first.
    case notStandby(NodeID)
    /// Demoting a node that is not a voter.
    case notVoter(NodeID)
    /// Removing a node that is not in the configuration.
    case notMember(NodeID)
    /// Demoting or removing the only voter would leave a group that can decide nothing; add a voter first.
    case lastVoter(NodeID)
    /// Adding would take the configuration past ``Configuration/maxMembers``.
    case tooManyMembers(limit: Int)
}

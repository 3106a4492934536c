import CohortCore

/// Where a member's gossip port is, and what it understands.
public struct MemberAddress: Hashable, Sendable {
    /// The member's name, when known (memberlist's `Address.Name`).
    public var name: NodeID?
    /// IP address, 4 or 16 bytes.
    public var ip: [UInt8]
    /// Gossip port (UDP and TCP).
    public var port: UInt16
    /// The highest protocol version the member understands; ≥ 5 means it wants CRC headers.
    public var protocolMax: UInt8

    /// Creates an address.
    public init(name: NodeID? = nil, ip: [UInt8], port: UInt16, protocolMax: UInt8 = 0) {
        self.name = name
        self.ip = ip
        self.port = port
        self.protocolMax = protocolMax
    }
}

/// One member as this node sees it.
public struct Member: Hashable, Sendable {
    /// The member's name: its node ID.
    public var name: NodeID
    /// IP address, 4 or 16 bytes.
    public var ip: [UInt8]
    /// Gossip port.
    public var port: UInt16
    /// Delegate metadata (Cohort puts its `NodeMeta` here).
    public var meta: [UInt8]
    /// Protocol and delegate versions.
    public var versions: ProtocolVersions
    /// The member's incarnation; only the member itself raises it.
    public var incarnation: UInt32
    /// Alive, suspect, dead or left.
    public var state: MemberStateKind
    /// When ``state`` last changed.
    public var stateChange: ContinuousClock.Instant

    /// Creates a member.
    public init(
        name: NodeID, ip: [UInt8], port: UInt16, meta: [UInt8] = [], versions: ProtocolVersions = .cohort,
        incarnation: UInt32, state: MemberStateKind, stateChange: ContinuousClock.Instant
    ) {
        self.name = name
        self.ip = ip
        self.port = port
        self.meta = meta
        self.versions = versions
        self.incarnation = incarnation
        self.state = state
        self.stateChange = stateChange
    }

    /// Where to reach the member.
    public var address: MemberAddress {
        MemberAddress(name: name, ip: ip, port: port, protocolMax: versions.protocolMax)
    }

    /// Dead or left.
    public var isGone: Bool { state == .dead || state == .left }

    /// The member as an alive announcement.
    var aliveMessage: AliveMessage {
        AliveMessage(incarnation: incarnation, node: name.rawValue, address: ip, port: port, meta: meta, versions: versions.bytes)
    }
}

/// Why a member left the membership.
public enum DepartureReason: Hashable, Sendable {
    /// It announced its own leave.
    case left
    /// It was declared dead by the failure detector.
    case dead
}

/// A change in the membership, for the layers above.
public enum MembershipEvent: Hashable, Sendable {
    /// A member appeared, or came back after being dead or gone.
    case joined(Member)
    /// A member left or died.
    case left(Member, reason: DepartureReason)
    /// A live member's metadata changed.
    case updated(Member)
}

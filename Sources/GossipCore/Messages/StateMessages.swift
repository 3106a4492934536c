/// "I suspect `node` is dead" (`suspect`, type 3), gossiped by `from`.
public struct SuspectMessage: Hashable, Sendable {
    /// The suspect's incarnation as the accuser knows it (`Incarnation`).
    public var incarnation: UInt32
    /// The suspect (`Node`).
    public var node: String
    /// The accuser (`From`).
    public var from: String

    /// Creates a suspicion.
    public init(incarnation: UInt32, node: String, from: String) {
        self.incarnation = incarnation
        self.node = node
        self.from = from
    }
}

/// "`node` is dead" (`dead`, type 5), gossiped by `from`. When `from == node` it is a graceful leave,
/// which memberlist records as the `left` state.
public struct DeadMessage: Hashable, Sendable {
    /// The incarnation being declared dead (`Incarnation`).
    public var incarnation: UInt32
    /// The dead node (`Node`).
    public var node: String
    /// Who declared it (`From`).
    public var from: String

    /// Creates a death (or, with `from == node`, a leave).
    public init(incarnation: UInt32, node: String, from: String) {
        self.incarnation = incarnation
        self.node = node
        self.from = from
    }

    /// True for a graceful leave: a node announcing its own death.
    public var isLeave: Bool { from == node }
}

/// "`node` is alive at `address:port`" (`alive`, type 4): joins, refutations and metadata updates.
public struct AliveMessage: Hashable, Sendable {
    /// The node's incarnation; higher wins (`Incarnation`).
    public var incarnation: UInt32
    /// The node's name (`Node`).
    public var node: String
    /// The node's IP, 4 or 16 bytes (`Addr`).
    public var address: [UInt8]
    /// The node's gossip port (`Port`).
    public var port: UInt16
    /// Delegate metadata, at most 512 bytes; Cohort puts its `NodeMeta` here (`Meta`).
    public var meta: [UInt8]
    /// `[pmin, pmax, pcur, dmin, dmax, dcur]` (`Vsn`); see ``ProtocolVersions``.
    public var versions: [UInt8]

    /// Creates an alive announcement.
    public init(
        incarnation: UInt32, node: String, address: [UInt8], port: UInt16,
        meta: [UInt8] = [], versions: [UInt8] = ProtocolVersions.cohort.bytes
    ) {
        self.incarnation = incarnation
        self.node = node
        self.address = address
        self.port = port
        self.meta = meta
        self.versions = versions
    }
}

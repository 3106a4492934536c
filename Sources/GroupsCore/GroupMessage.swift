import CohortCore

/// What one node's scope sends another's over the mesh (endpoint `groups`, class `relay`: reliable and
/// FIFO per peer, which the sequence numbers below rely on).
///
/// Memberships travel as the sender's own processes only (a node spreads its local memberships, never
/// another node's), so a member is sent as its serial; the receiver adds the sender's node and boot.
public enum GroupMessage: Sendable, Equatable {
    /// Local changes, numbered `firstSeq`, `firstSeq + 1`, … in order.
    case update(firstSeq: UInt64, ops: [GroupOp])
    /// The sender's whole local membership as of `seq` (both sides send one when they meet), and its copy
    /// of the receiver's (nil: none), so that the receiver sends its own back if that copy is not one it had.
    case sync(seq: UInt64, groups: [SyncGroup], have: ViewDigest?)
    /// "Send me your whole membership": the receiver's copy has a gap.
    case syncRequest
    /// "I now hold your membership through `seq`": closes a sync.
    case syncAck(seq: UInt64)
    /// Anti-entropy: the sender's own (seq, digest), and its copy of the receiver's, if it has one.
    case digest(seq: UInt64, hash: UInt64, view: ViewDigest?)
    /// One broadcast: the receiving node delivers it to its local members of `group`.
    case broadcast(group: String, from: PID?, topic: String, payload: [UInt8])
    /// The keepalive of a node with members that broadcast nothing lately (see the liveness check).
    case beat
}

/// One local change: processes (serials of the sender's boot, with multiplicity) joining or leaving a group.
public struct GroupOp: Sendable, Equatable {
    public enum Kind: UInt8, Sendable { case join = 1, leave = 2 }
    public var kind: Kind
    public var group: String
    public var serials: [UInt64]

    public init(_ kind: Kind, group: String, serials: [UInt64]) {
        self.kind = kind
        self.group = group
        self.serials = serials
    }
}

/// One group of a sync: its members on the sending node, with multiplicity.
public struct SyncGroup: Sendable, Equatable {
    public var name: String
    public var members: [SyncMember]

    public init(name: String, members: [SyncMember]) {
        self.name = name
        self.members = members
    }
}

/// A member of a ``SyncGroup``: a serial of the sender's boot and how many times it joined.
public struct SyncMember: Sendable, Equatable {
    public var serial: UInt64
    public var count: UInt32

    public init(serial: UInt64, count: UInt32) {
        self.serial = serial
        self.count = count
    }
}

/// The sender's copy of the receiver's membership, summarised: which boot, through which change, and its digest.
public struct ViewDigest: Sendable, Equatable {
    public var incarnation: Incarnation
    public var seq: UInt64
    public var hash: UInt64

    public init(incarnation: Incarnation, seq: UInt64, hash: UInt64) {
        self.incarnation = incarnation
        self.seq = seq
        self.hash = hash
    }
}

/// A member's state as carried in push/pull (memberlist's `NodeStateType`).
public enum MemberStateKind: Int, CaseIterable, Hashable, Sendable {
    /// Answering probes.
    case alive = 0
    /// Suspected by someone; may refute.
    case suspect = 1
    /// Declared dead. A receiver merges remote dead as suspect.
    case dead = 2
    /// Left gracefully.
    case left = 3
}

/// One member in a push/pull (`pushNodeState`).
public struct PushNodeState: Hashable, Sendable {
    /// The member's name (`Name`).
    public var name: String
    /// Its IP, 4 or 16 bytes (`Addr`).
    public var address: [UInt8]
    /// Its gossip port (`Port`).
    public var port: UInt16
    /// Its delegate metadata (`Meta`).
    public var meta: [UInt8]
    /// Its incarnation (`Incarnation`).
    public var incarnation: UInt32
    /// Its state as the sender sees it (`State`).
    public var state: MemberStateKind
    /// Its version vector (`Vsn`); see ``ProtocolVersions``.
    public var versions: [UInt8]

    /// Creates a node state.
    public init(
        name: String, address: [UInt8], port: UInt16, meta: [UInt8] = [], incarnation: UInt32,
        state: MemberStateKind, versions: [UInt8] = ProtocolVersions.cohort.bytes
    ) {
        self.name = name
        self.address = address
        self.port = port
        self.meta = meta
        self.incarnation = incarnation
        self.state = state
        self.versions = versions
    }
}

/// A whole push/pull exchange: the header's `join`, the node states and the raw delegate state.
public struct PushPullMessage: Hashable, Sendable {
    /// True when the sender is joining.
    public var join: Bool
    /// Every member the sender knows, including itself.
    public var nodes: [PushNodeState]
    /// The delegate's opaque state (`LocalState`/`MergeRemoteState`), possibly empty.
    public var userState: [UInt8]

    /// Creates a push/pull message.
    public init(join: Bool, nodes: [PushNodeState], userState: [UInt8] = []) {
        self.join = join
        self.nodes = nodes
        self.userState = userState
    }
}

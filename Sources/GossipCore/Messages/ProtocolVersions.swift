/// The version vector every node advertises in `alive.Vsn` and push/pull: the memberlist protocol range
/// it understands and speaks, then the same for the delegate protocol.
///
/// memberlist 0.2.2 understands protocol 1…5 and speaks 2 by default: 3 added TCP pings, 4 nacks on
/// indirect pings, 5 the CRC header.
public struct ProtocolVersions: Hashable, Sendable {
    /// Lowest protocol version understood.
    public var protocolMin: UInt8
    /// Highest protocol version understood; ≥ 5 means the node wants CRC headers.
    public var protocolMax: UInt8
    /// Protocol version spoken.
    public var protocolCurrent: UInt8
    /// Lowest delegate version understood.
    public var delegateMin: UInt8
    /// Highest delegate version understood.
    public var delegateMax: UInt8
    /// Delegate version spoken.
    public var delegateCurrent: UInt8

    /// Creates a version vector.
    public init(
        protocolMin: UInt8, protocolMax: UInt8, protocolCurrent: UInt8,
        delegateMin: UInt8 = 0, delegateMax: UInt8 = 0, delegateCurrent: UInt8 = 0
    ) {
        self.protocolMin = protocolMin
        self.protocolMax = protocolMax
        self.protocolCurrent = protocolCurrent
        self.delegateMin = delegateMin
        self.delegateMax = delegateMax
        self.delegateCurrent = delegateCurrent
    }

    /// Reads a `Vsn` byte string; nil unless it has at least six bytes (extra bytes are ignored).
    public init?(_ bytes: [UInt8]) {
        guard bytes.count >= 6 else { return nil }
        self.init(
            protocolMin: bytes[0], protocolMax: bytes[1], protocolCurrent: bytes[2],
            delegateMin: bytes[3], delegateMax: bytes[4], delegateCurrent: bytes[5]
        )
    }

    /// The six `Vsn` bytes.
    public var bytes: [UInt8] {
        [protocolMin, protocolMax, protocolCurrent, delegateMin, delegateMax, delegateCurrent]
    }

    /// What Cohort advertises: `[1, 5, 2, 0, 0, 0]`, as a default memberlist 0.2.2 node does.
    public static let cohort = ProtocolVersions(protocolMin: 1, protocolMax: 5, protocolCurrent: 2)
}

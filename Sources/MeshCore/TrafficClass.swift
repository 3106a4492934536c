/// Which per-peer queue a message waits in, and so how it is prioritised and dropped.
///
/// Each (peer, class) pair has its own bounded FIFO. The connection's writer takes frames with the
/// priority `control` > `raft` > `relay`/`bulk`, and alternates between `relay` and `bulk` so neither
/// starves the other. Only `relay` is reliable: it survives a cut connection, exactly once and in order.
public enum TrafficClass: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Small, urgent messages (membership-adjacent signals, strong-name acks); sent first.
    case control = 0
    /// Raft RPCs. Never starved by relay or bulk traffic; when the queue is full the newest message is
    /// dropped, which Raft tolerates because it retransmits.
    case raft = 1
    /// Process messages. Reliable across reconnects until the peer is removed: numbered, acknowledged,
    /// resent from the receiver's resume point and deduplicated.
    case relay = 2
    /// Large transfers such as snapshots, chunked so they interleave with everything else.
    case bulk = 3

    /// The Prometheus label: `control`, `raft`, `relay` or `bulk`.
    public var description: String {
        switch self {
        case .control: "control"
        case .raft: "raft"
        case .relay: "relay"
        case .bulk: "bulk"
        }
    }
}

/// The receiving subsystem of a message: handlers are registered per endpoint.
///
/// Values 1…9 are Cohort's own; the rest are free for embedding applications.
public struct MeshEndpoint: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The number on the wire.
    public let rawValue: UInt16

    /// Wraps an endpoint number.
    public init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    /// Messages between processes (PID-addressed sends, monitors, links).
    public static let processes = MeshEndpoint(rawValue: 1)
    /// Raft RPCs (append entries, votes).
    public static let raft = MeshEndpoint(rawValue: 2)
    /// Raft snapshot transfer.
    public static let raftSnapshot = MeshEndpoint(rawValue: 3)
    /// Writes forwarded to the leader.
    public static let forward = MeshEndpoint(rawValue: 4)
    /// Process-group traffic.
    public static let groups = MeshEndpoint(rawValue: 5)
    /// Name registrations and their acknowledgements.
    public static let names = MeshEndpoint(rawValue: 6)
    /// Reads of the coordination state (stores, locks, names) and lock waits that a client node, which
    /// holds no Raft replica, asks of a Raft member.
    public static let coordination = MeshEndpoint(rawValue: 7)
    /// Operator requests (`cohort raft peers`, `remove-peer`, `transfer-leader`) that a node which is not
    /// the Raft leader passes on to the leader.
    public static let raftOperator = MeshEndpoint(rawValue: 8)
    /// State planes: anti-entropy pulls (request/reply) and direct pushes of entries too large for gossip.
    public static let planes = MeshEndpoint(rawValue: 9)

    public var description: String { String(rawValue) }
}

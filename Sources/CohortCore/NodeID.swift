/// The one identity of a node: its gossip name, mesh ID, Raft server ID and the node part of every PID.
///
/// Comes from `cluster.name`. Ordered by its UTF-8 bytes so every node sorts the same way.
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The node name as configured.
    public let rawValue: String

    /// Wraps a node name.
    public init(_ rawValue: String) {
        self.rawValue = rawValue
    }

    public var description: String { rawValue }

    public static func < (lhs: NodeID, rhs: NodeID) -> Bool {
        lhs.rawValue.utf8.lexicographicallyPrecedes(rhs.rawValue.utf8)
    }
}

import CohortCore

/// Names one monitor, unique in the cluster: the node and boot that created it and a serial.
///
/// Created by the watcher's runtime; the target's node keeps it to send `down` back, which is why it carries the
/// creating node and incarnation rather than a bare counter.
public struct MonitorReference: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The node of the runtime that created the monitor (the watcher's node).
    public let node: NodeID
    /// That node's boot.
    public let incarnation: Incarnation
    /// The monitor's number within that boot, starting at 1.
    public let serial: UInt64

    /// Creates a reference from its parts.
    public init(node: NodeID, incarnation: Incarnation, serial: UInt64) {
        self.node = node
        self.incarnation = incarnation
        self.serial = serial
    }

    public var description: String { "#Ref<\(node.rawValue)@\(incarnation.rawValue).\(serial)>" }

    /// Orders by node, then incarnation, then serial.
    public static func < (lhs: MonitorReference, rhs: MonitorReference) -> Bool {
        (lhs.node, lhs.incarnation, lhs.serial) < (rhs.node, rhs.incarnation, rhs.serial)
    }
}

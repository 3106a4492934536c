/// The boot identity of a node: strictly greater on every start of the same node.
///
/// It is the node part of every PID together with the `NodeID`, so a restarted node never issues a PID
/// that an earlier incarnation issued, and it is advertised in gossip metadata.
public struct Incarnation: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The raw value: milliseconds since the Unix epoch at boot, bumped past the last persisted value.
    public let rawValue: UInt64

    /// Wraps a raw incarnation.
    public init(_ rawValue: UInt64) {
        self.rawValue = rawValue
    }

    /// The incarnation for a boot at `nowMilliseconds` when the previous boot was `previous`:
    /// the wall clock, unless the clock went backwards, in which case one past the previous value.
    public static func next(after previous: Incarnation?, nowMilliseconds: UInt64) -> Incarnation {
        guard let previous else { return Incarnation(nowMilliseconds) }
        return Incarnation(max(nowMilliseconds, previous.rawValue &+ 1))
    }

    public var description: String { String(rawValue) }

    public static func < (lhs: Incarnation, rhs: Incarnation) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A hybrid logical clock stamp: milliseconds of physical time in the upper 48 bits, a logical counter in
/// the lower 16. Stamps order first by time, then by counter; the plane breaks a tie between two nodes'
/// equal stamps by node ID (``PlaneStamp``).
public struct HLC: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The stamp as one number (what goes on the wire).
    public let rawValue: UInt64

    /// Wraps a stamp read from the wire.
    public init(rawValue: UInt64) {
        self.rawValue = rawValue
    }

    /// A stamp of `millis` (only the lower 48 bits count) and `logical`.
    public init(millis: UInt64, logical: UInt16) {
        rawValue = (millis & HLC.millisMask) << 16 | UInt64(logical)
    }

    /// The least stamp.
    public static let zero = HLC(rawValue: 0)

    /// The largest physical time a stamp can hold.
    public static let millisMask: UInt64 = (1 << 48) - 1

    /// Physical milliseconds (Unix epoch).
    public var millis: UInt64 { rawValue >> 16 }

    /// The logical counter within one millisecond.
    public var logical: UInt16 { UInt16(truncatingIfNeeded: rawValue) }

    public static func < (lhs: HLC, rhs: HLC) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "\(millis).\(logical)" }
}

/// One node's hybrid logical clock (Kulkarni et al.): stamps never go backwards, follow physical time when
/// it moves forward, and move past every stamp this node has observed, so a write made after seeing
/// another one always carries a larger stamp, whatever the two nodes' clocks say.
///
/// Pure: the shell passes the physical time in. A remote stamp more than `maxForwardMillis` ahead of this
/// node's physical clock is not followed (a peer with a clock set far ahead must not drag every node's
/// stamps with it); the entry it came with is still merged by its own stamp.
public struct HybridClock: Sendable, Hashable {
    /// The last stamp issued or observed.
    public private(set) var last: HLC
    /// How far ahead of physical time an observed stamp may pull the clock.
    public let maxForwardMillis: UInt64

    /// A clock that has issued nothing yet (or resumes after `last`, e.g. from a durable store).
    public init(last: HLC = .zero, maxForwardMillis: UInt64 = 60_000) {
        self.last = last
        self.maxForwardMillis = maxForwardMillis
    }

    /// A new stamp, larger than every stamp issued or observed so far.
    public mutating func now(physicalMillis: UInt64) -> HLC {
        let physical = physicalMillis & HLC.millisMask
        if physical > last.millis {
            last = HLC(millis: physical, logical: 0)
        } else if last.logical == .max {
            last = HLC(millis: last.millis + 1, logical: 0)
        } else {
            last = HLC(millis: last.millis, logical: last.logical + 1)
        }
        return last
    }

    /// Folds in a stamp seen in a peer's entry. Returns false, and leaves the clock alone, when the stamp
    /// is more than `maxForwardMillis` ahead of `physicalMillis`.
    @discardableResult
    public mutating func observe(_ remote: HLC, physicalMillis: UInt64) -> Bool {
        guard remote.millis <= (physicalMillis & HLC.millisMask) &+ maxForwardMillis else { return false }
        if remote > last { last = remote }
        return true
    }
}

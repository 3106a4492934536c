/// Lifeguard's local health awareness: a score that grows when this node misses acks and nacks (a sign
/// that *it* is slow or partitioned) and stretches its probe interval, so a struggling node accuses others
/// less eagerly.
public struct Awareness: Hashable, Sendable {
    /// 0 is healthy; at most `maxMultiplier − 1`.
    public private(set) var score = 0
    /// The bound from ``SWIMSettings/awarenessMaxMultiplier``.
    public let maxMultiplier: Int

    /// A healthy score with the given bound.
    public init(maxMultiplier: Int) {
        self.maxMultiplier = maxMultiplier
    }

    /// Adds `delta`, clamped to 0 … maxMultiplier − 1.
    public mutating func apply(_ delta: Int) {
        score = min(max(score + delta, 0), maxMultiplier - 1)
    }

    /// `timeout × (score + 1)`.
    public func scale(_ timeout: Duration) -> Duration {
        timeout * (score + 1)
    }
}

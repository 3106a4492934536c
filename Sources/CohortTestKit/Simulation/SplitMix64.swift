/// A small, fast, seeded random number generator (Steele, Lea and Flood's SplitMix64) for simulations.
///
/// The same seed always yields the same sequence, on every platform and in every process, so a failing
/// simulation is replayed by re-running its seed. It passes BigCrush, which is far more than a network
/// simulation needs; it is not cryptographically secure and must never be used for keys or nonces.
///
/// Give every independent actor of a simulation (each node, the network) its own stream with
/// ``init(seed:stream:)`` rather than sharing one generator: adding a draw in one node then does not shift
/// the numbers every other node sees.
public struct SplitMix64: RandomNumberGenerator, Hashable, Sendable {
    private var state: UInt64

    /// A generator that yields the sequence of `seed`.
    public init(seed: UInt64) {
        state = seed
    }

    /// A generator for one independent stream of a seeded run, e.g. `stream: nodeIndex`.
    ///
    /// The stream's seed is a hash of both values, so streams of one seed, and the same stream of
    /// neighbouring seeds, do not overlap in practice.
    public init(seed: UInt64, stream: UInt64) {
        var mixer = SplitMix64(seed: seed ^ 0x5851_F42D_4C95_7F2D)
        let first = mixer.next()
        var second = SplitMix64(seed: first ^ (stream &* 0x9E37_79B9_7F4A_7C15))
        state = second.next()
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }

    /// True with probability `probability` (0 never draws and is always false; 1 is always true).
    public mutating func chance(_ probability: Double) -> Bool {
        guard probability > 0 else { return false }
        guard probability < 1 else { return true }
        return Double.random(in: 0..<1, using: &self) < probability
    }

    /// A duration drawn uniformly from `0 ..< upperBound` at nanosecond resolution; zero when the bound is
    /// not positive (and then nothing is drawn).
    public mutating func duration(below upperBound: Duration) -> Duration {
        let nanoseconds = upperBound.wholeNanoseconds
        guard nanoseconds > 0 else { return .zero }
        return .nanoseconds(Int64.random(in: 0..<nanoseconds, using: &self))
    }
}

extension Duration {
    /// The duration in whole nanoseconds, rounded towards zero (saturating at `Int64`'s bounds).
    var wholeNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return seconds < 0 ? .min : .max }
        return scaled.addingReportingOverflow(attoseconds / 1_000_000_000).partialValue
    }
}

/// The random generator a gossip shell hands the core: xoshiro256** (Blackman and Vigna), seeded once.
///
/// The core draws several numbers per gossip round and per received membership change; the system
/// generator makes a system call (`getrandom`) for each, which at a few thousand members was a visible
/// share of a daemon's CPU. Gossip's choices (whom to probe, whom to gossip to, timer offsets) need
/// numbers that are unpredictable enough to spread load, not secret ones, so the shell seeds one of these
/// from the system generator when it starts and draws from it without further system calls. It is not
/// cryptographically secure and must never be used for keys or nonces.
public struct GossipRandomGenerator: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// A generator whose state is four numbers drawn from `source` (e.g. `SystemRandomNumberGenerator`).
    public init(seededBy source: inout some RandomNumberGenerator) {
        (s0, s1, s2, s3) = (source.next(), source.next(), source.next(), source.next())
        if s0 | s1 | s2 | s3 == 0 { s0 = 0x9E37_79B9_7F4A_7C15 }  // the one state xoshiro cannot leave
    }

    /// A generator that yields the sequence of `seed` (its state is SplitMix64's first four outputs).
    public init(seed: UInt64) {
        var state = seed
        func splitMix() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var value = state
            value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
            value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
            return value ^ (value >> 31)
        }
        (s0, s1, s2, s3) = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = rotate(s1 &* 5, 7) &* 9
        let shifted = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= shifted
        s3 = rotate(s3, 45)
        return result
    }

    private func rotate(_ value: UInt64, _ bits: UInt64) -> UInt64 {
        (value << bits) | (value >> (64 - bits))
    }
}

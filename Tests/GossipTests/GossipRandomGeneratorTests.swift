import CohortTestKit
import Gossip
import Testing

/// The generator the gossip shell hands the core.
@Suite("Gossip random generator")
struct GossipRandomGeneratorTests {
    /// Always zero: the one seed source xoshiro256** must be protected from.
    struct ZeroSource: RandomNumberGenerator {
        mutating func next() -> UInt64 { 0 }
    }

    @Test("seed 0 yields xoshiro256**'s sequence from SplitMix64's first four outputs")
    func knownSequence() {
        var generator = GossipRandomGenerator(seed: 0)
        #expect([generator.next(), generator.next(), generator.next()] == [0x99EC_5F36_CB75_F2B4, 0xBF6E_1F78_4956_452A, 0x1A5F_849D_4933_E6E0])
    }

    @Test("seeded from a source, it follows that source's draws; an all-zero source does not leave it stuck at zero")
    func seededFromASource() {
        var first = SplitMix64(seed: 3), second = SplitMix64(seed: 3)
        var x = GossipRandomGenerator(seededBy: &first), y = GossipRandomGenerator(seededBy: &second)
        #expect((0..<8).map { _ in x.next() } == (0..<8).map { _ in y.next() })
        var zero = ZeroSource()
        var unstuck = GossipRandomGenerator(seededBy: &zero)
        #expect((0..<4).map { _ in unstuck.next() }.contains { $0 != 0 })
    }
}

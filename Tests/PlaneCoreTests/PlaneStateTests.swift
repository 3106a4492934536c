import CohortCore
import PlaneCore
import Testing

@Suite struct PlaneStateTests {
    static func entry(_ key: String, _ value: String?, time: UInt64, node: String = "a") -> PlaneEntry {
        let stamp = PlaneStamp(time: HLC(millis: time, logical: 0), node: NodeID(node))
        guard let value else { return PlaneEntry(tombstone: Array(key.utf8), stamp: stamp) }
        return PlaneEntry(key: Array(key.utf8), stamp: stamp, value: Array(value.utf8))
    }

    @Test func theLaterStampWinsWhateverTheOrder() {
        let older = Self.entry("k", "1", time: 10)
        let newer = Self.entry("k", "2", time: 11)
        var a = PlaneState(), b = PlaneState()
        a.merge(older, atLocalMillis: 0, physicalMillis: 0)
        a.merge(newer, atLocalMillis: 0, physicalMillis: 0)
        b.merge(newer, atLocalMillis: 0, physicalMillis: 0)
        #expect(b.merge(older, atLocalMillis: 0, physicalMillis: 0) == nil)
        #expect(a[Array("k".utf8)] == newer && b[Array("k".utf8)] == newer)
        #expect(a.digest == b.digest)
    }

    @Test func aDeleteWinsATieAndDigestsTrackEveryChange() {
        let value = Self.entry("k", "1", time: 10)
        let delete = Self.entry("k", nil, time: 10)
        var a = PlaneState()
        let empty = a.digest
        a.merge(value, atLocalMillis: 0, physicalMillis: 0)
        let withValue = a.digest
        #expect(withValue != empty)
        a.merge(delete, atLocalMillis: 5, physicalMillis: 0)
        #expect(a[Array("k".utf8)]?.isTombstone == true)
        #expect(a.tombstoneCount == 1 && a.valueCount == 0)
        #expect(a.digest != withValue)
        #expect(a.collectTombstones(arrivedBefore: Array(repeating: 6, count: a.shardCount), atLocalMillis: 7) == 1)
        // Remembered: still in the digest, not served, and the value it deleted cannot come back.
        #expect(a.digest != empty && a.entries.isEmpty)
        #expect(a.merge(value, atLocalMillis: 8, physicalMillis: 0) == nil)
        a.forgetCollected(before: 8)
        #expect(a.digest == empty)
    }

    @Test func aTombstonePastItsHorizonDeletesButIsNotKept() {
        var a = PlaneState()
        a.horizonMillis = 100
        a.merge(Self.entry("k", "1", time: 10), atLocalMillis: 0, physicalMillis: 50)
        a.merge(Self.entry("j", nil, time: 60), atLocalMillis: 0, physicalMillis: 60)
        // A delete stamped 20, arriving at 200: past its horizon (120). It removes the value, keeps nothing.
        let change = a.merge(Self.entry("k", nil, time: 20), atLocalMillis: 1, physicalMillis: 200)
        #expect(change?.old != nil && change?.new == nil && a[Array("k".utf8)] == nil)
        // A held tombstone goes at its horizon, on every node alike.
        #expect(a.dropPastHorizon(physicalMillis: 150).isEmpty)
        #expect(a.dropPastHorizon(physicalMillis: 161).map(\.key) == [Array("j".utf8)])
        #expect(a.entries.isEmpty && a.digest == PlaneState().digest)
    }
}

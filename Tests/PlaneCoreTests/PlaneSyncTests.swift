import CohortCore
import CohortTestKit
import PlaneCore
import Testing

@Suite struct PlaneSyncTests {
    static let a = NodeID("a"), b = NodeID("b"), c = NodeID("c")

    /// The owner of an entry in a names-like plane: the PID its value spells.
    static let owner: PlaneOwner = { entry in entry.value.flatMap { PID(String(decoding: $0, as: UTF8.self)) } }

    static func node(_ id: NodeID, incarnation: UInt64 = 1, grace: UInt64 = 1000) -> PlaneSync {
        var sync = PlaneSync(selfID: id, incarnation: Incarnation(incarnation))
        sync.addPlane("kv", graceMillis: grace)
        sync.addPlane("names", graceMillis: grace, owner: owner)
        return sync
    }

    static func at(_ millis: UInt64) -> PlaneTime { PlaneTime(physicalMillis: 1_000_000 + millis, localMillis: millis) }

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// One push/pull between `x` and `y` with their pulls answered.
    static func pushPull(_ x: inout PlaneSync, _ y: inout PlaneSync, at time: PlaneTime) {
        let xDigest = x.digestMessage(), yDigest = y.digestMessage()
        if let pull = y.receiveDigest(xDigest, at: time)?.pull, let reply = x.answerPull(pull) { _ = y.receiveEntries(reply, at: time) }
        if let pull = x.receiveDigest(yDigest, at: time)?.pull, let reply = y.answerPull(pull) { _ = x.receiveEntries(reply, at: time) }
    }

    @Test func writesTravelAsBatchedDeltasWithinADatagram() throws {
        var a = Self.node(Self.a), b = Self.node(Self.b)
        for index in 0..<40 {
            _ = a.write(plane: "kv", key: Self.bytes("key-\(index)"), value: Array(repeating: 7, count: 60), at: Self.at(1))
        }
        _ = a.write(plane: "kv", key: Self.bytes("key-0"), value: nil, at: Self.at(2))
        let (messages, oversized) = a.takeDeltas()
        #expect(oversized.isEmpty)
        #expect(messages.count > 1 && messages.count < 5)
        #expect(messages.allSatisfy { $0.count <= a.maxDeltaBytes })
        #expect(!a.hasPendingDeltas && a.takeDeltas().messages.isEmpty)
        for message in messages { _ = b.receiveEntries(message, at: Self.at(3)) }
        #expect(contents(b.planes["kv"]!.state) == contents(a.planes["kv"]!.state))
        #expect(b.planes["kv"]!.state[Self.bytes("key-0")]?.isTombstone == true)
        // b's clock moved past every stamp it saw.
        #expect(b.clock.last >= a.clock.last)
    }

    @Test func anEntryTooLargeForADatagramComesBackApart() {
        var a = Self.node(Self.a)
        _ = a.write(plane: "kv", key: Self.bytes("small"), value: [1], at: Self.at(1))
        _ = a.write(plane: "kv", key: Self.bytes("large"), value: Array(repeating: 1, count: 5000), at: Self.at(1))
        let (messages, oversized) = a.takeDeltas()
        #expect(messages.count == 1 && oversized.count == 1)
        #expect(oversized[0].count > 5000)
    }

    @Test func pushPullPullsOnlyTheDifferingShardsAndConverges() {
        var a = Self.node(Self.a), b = Self.node(Self.b)
        for index in 0..<200 { _ = a.write(plane: "kv", key: Self.bytes("a\(index)"), value: [1], at: Self.at(1)) }
        _ = b.write(plane: "kv", key: Self.bytes("b"), value: [2], at: Self.at(1))
        _ = b.memberUp(Self.a, incarnation: Incarnation(1))
        let result = b.receiveDigest(a.digestMessage(), at: Self.at(2))
        #expect(result?.peer == Self.a)
        #expect(b.counters.digestMismatches > 0 && b.counters.digestMismatches <= 64)
        Self.pushPull(&a, &b, at: Self.at(3))
        #expect(a.planes["kv"]!.state.digest == b.planes["kv"]!.state.digest)
        #expect(contents(a.planes["kv"]!.state) == contents(b.planes["kv"]!.state))
        // Equal now: the next digest asks for nothing.
        #expect(b.receiveDigest(a.digestMessage(), at: Self.at(4))?.pull == nil)
    }

    @Test func theOwnerRuleRefusesDeadOwnersAndDropsDepartedOnes() {
        var a = Self.node(Self.a), b = Self.node(Self.b)
        let pidOfA = Self.bytes("a@1.7")
        _ = b.memberUp(Self.a, incarnation: Incarnation(1))
        _ = a.write(plane: "names", key: Self.bytes("svc"), value: pidOfA, at: Self.at(1))
        let delta = a.takeDeltas().messages[0]
        // c does not know a: refused.
        var c = Self.node(Self.c)
        #expect(c.receiveEntries(delta, at: Self.at(2)).isEmpty)
        #expect(c.counters.refusedOwner == 1)
        // b knows a: taken; a departs: dropped without a tombstone; a late copy is refused.
        #expect(b.receiveEntries(delta, at: Self.at(2))["names"]?.count == 1)
        let removed = b.memberDown(Self.a)
        #expect(removed["names"]?.first?.new == nil)
        #expect(b.planes["names"]!.state.entries.isEmpty)
        #expect(b.receiveEntries(delta, at: Self.at(3)).isEmpty)
        // a restarts (boot 2): its boot-1 entries are refused, and dropped where they were held.
        _ = c.memberUp(Self.a, incarnation: Incarnation(1))
        _ = c.receiveEntries(delta, at: Self.at(4))
        #expect(c.planes["names"]!.state.entries.count == 1)
        let dropped = c.memberUp(Self.a, incarnation: Incarnation(2))
        #expect(dropped["names"]?.count == 1 && c.planes["names"]!.state.entries.isEmpty)
        #expect(c.receiveEntries(delta, at: Self.at(5)).isEmpty)
        // A local write owned by a dead process is not kept.
        #expect(c.write(plane: "names", key: Self.bytes("x"), value: pidOfA, at: Self.at(6)).change == nil)
    }

    @Test func tombstonesGoOnceEveryAliveMemberHoldsThemAndTheGraceHasPassed() {
        var a = Self.node(Self.a, grace: 1000), b = Self.node(Self.b, grace: 1000)
        _ = a.memberUp(Self.b, incarnation: Incarnation(1))
        _ = b.memberUp(Self.a, incarnation: Incarnation(1))
        _ = a.write(plane: "kv", key: Self.bytes("k"), value: [1], at: Self.at(0))
        _ = a.write(plane: "kv", key: Self.bytes("k"), value: nil, at: Self.at(10))
        _ = a.takeDeltas()
        // b has not matched since: kept, whatever the age.
        #expect(a.tick(at: Self.at(5000)).isEmpty)
        Self.pushPull(&a, &b, at: Self.at(5001))
        // b pulled the tombstone, but a compared b's digest from before: no match for its shard yet.
        #expect(b.planes["kv"]!.state.tombstoneCount == 1)
        #expect(a.tick(at: Self.at(5001)).isEmpty)
        Self.pushPull(&a, &b, at: Self.at(5002))
        // Both matched at 5002, after the tombstone arrived on each; a's is older than the grace.
        #expect(a.tick(at: Self.at(5003))["kv"]?.count == 1)
        #expect(b.tick(at: Self.at(5003)).isEmpty)
        #expect(b.tick(at: Self.at(6003))["kv"]?.count == 1)
        #expect(a.planes["kv"]!.state.digest == b.planes["kv"]!.state.digest)
        #expect(a.planes["kv"]!.state.entries.isEmpty)
    }

    @Test func theTimerHasWorkOnlyWhileAValueCanExpireOrATombstoneBeCollected() {
        var a = Self.node(Self.a, grace: 1000), b = Self.node(Self.b, grace: 1000)
        _ = a.memberUp(Self.b, incarnation: Incarnation(1))
        _ = b.memberUp(Self.a, incarnation: Incarnation(1))
        #expect(!a.needsTick && a.nextForgetMillis == nil)
        // A value without an expiry: nothing for the timer.
        _ = a.write(plane: "kv", key: Self.bytes("plain"), value: [1], at: Self.at(0))
        #expect(!a.needsTick)
        // A value with an expiry needs ticks until it has expired...
        let stamp = a.write(plane: "kv", key: Self.bytes("ttl"), value: [2], expiresAtMillis: 1_000_000 + 100, at: Self.at(1)).entry.stamp.time.millis
        #expect(a.needsTick)
        #expect(a.tick(at: Self.at(50)).isEmpty && a.needsTick)
        #expect(a.tick(at: Self.at(150))["kv"]?.first?.new?.isTombstone == true)
        // ...and its tombstone until every member holds it and the grace has passed.
        #expect(a.needsTick)
        _ = a.takeDeltas()
        Self.pushPull(&a, &b, at: Self.at(5001))
        Self.pushPull(&a, &b, at: Self.at(5002))
        #expect(b.needsTick)
        #expect(a.tick(at: Self.at(5003))["kv"]?.count == 1)
        #expect(!a.needsTick)
        // The collected tombstone is remembered until its horizon (600 s after its stamp): one tick then.
        #expect(a.nextForgetMillis == stamp + 600_000 + 1)
        _ = a.tick(at: PlaneTime(physicalMillis: stamp + 600_000 + 1, localMillis: 700_000))
        #expect(a.nextForgetMillis == nil && !a.needsTick)
        // A delete that arrives from a peer brings work again.
        _ = b.write(plane: "kv", key: Self.bytes("plain"), value: nil, at: Self.at(700_001))
        _ = a.receiveEntries(b.takeDeltas().messages[0], at: Self.at(700_002))
        #expect(a.needsTick)
    }

    @Test func expiredValuesBecomeTombstonesEverywhere() {
        var a = Self.node(Self.a), b = Self.node(Self.b)
        _ = a.write(plane: "kv", key: Self.bytes("ttl"), value: [1], expiresAtMillis: 1_000_000 + 100, at: Self.at(0))
        let delta = a.takeDeltas().messages[0]
        _ = b.receiveEntries(delta, at: Self.at(200)) // arrives after it expired
        let expired = a.tick(at: Self.at(150))
        #expect(expired["kv"]?.first?.new?.isTombstone == true)
        #expect(contents(a.planes["kv"]!.state) == contents(b.planes["kv"]!.state))
    }

    @Test func unknownVersionsAndGarbageAreCountedNotFatal() {
        var a = Self.node(Self.a)
        #expect(a.receiveEntries([9, 1, 2, 3], at: Self.at(0)).isEmpty)
        #expect(a.receiveDigest([], at: Self.at(0)) == nil)
        #expect(a.answerPull([1, 3, 0xff]) == nil)
        #expect(a.counters.unknownVersion == 2 && a.counters.malformed == 1)
        let unknownPlane = PlaneMessage.delta(sender: Self.b, planes: [.init(plane: "nope", entries: [])]).encoded()
        _ = a.receiveEntries(unknownPlane, at: Self.at(0))
        #expect(a.counters.unknownPlane == 1)
    }
}

@testable import Cohort
import CohortCore
import CoordinationCore
import Synchronization
import Testing

/// A client's cache of consistent names: what it trusts and for how long, what a leader's update changes,
/// departures, and the update's wire form.
@Suite("Consistent name cache")
struct ConsistentNameCacheTests {
    final class ManualClock: Sendable {
        let now = Mutex(ContinuousClock.now)
        func advance(_ duration: Duration) { now.withLock { $0 = $0.advanced(by: duration) } }
    }

    static let owner = PID(node: NodeID("n1"), incarnation: Incarnation(2), serial: 5)
    static let mover = PID(node: NodeID("n2"), incarnation: Incarnation(4), serial: 9)

    @Test("an answer is trusted for the TTL, then it is a miss")
    func ttl() {
        let clock = ManualClock()
        let cache = ConsistentNameCache(ttl: .seconds(30), now: { clock.now.withLock { $0 } })
        #expect(cache.lookup("svc") == nil)
        cache.store("svc", NameBinding(name: "svc", pid: Self.owner, scope: .consistent, token: 3), index: 10)
        #expect(cache.lookup("svc")??.pid == Self.owner)
        cache.store("free", nil, index: 10)
        #expect(cache.lookup("free") == .some(nil), "a known-free name is cached too")
        clock.advance(.seconds(31))
        #expect(cache.lookup("svc") == nil)
    }

    @Test("a leader's update moves a cached name, refreshes it, and never goes back to an older index")
    func updates() {
        let clock = ManualClock()
        let cache = ConsistentNameCache(ttl: .seconds(30), now: { clock.now.withLock { $0 } })
        cache.store("svc", NameBinding(name: "svc", pid: Self.owner, scope: .consistent, token: 3), index: 10)
        clock.advance(.seconds(20))
        cache.apply(NameCacheUpdate(index: 12, changes: [.init(name: "svc", pid: nil, token: nil)]))
        cache.apply(NameCacheUpdate(index: 13, changes: [.init(name: "svc", pid: Self.mover, token: 13)]))
        cache.apply(NameCacheUpdate(index: 11, changes: [.init(name: "svc", pid: Self.owner, token: 3)]))
        cache.apply(NameCacheUpdate(index: 14, changes: [.init(name: "unasked", pid: Self.owner, token: 14)]))
        clock.advance(.seconds(20))
        #expect(cache.lookup("svc")??.pid == Self.mover, "index 13 wins over the late index 11, and refreshed the entry")
        #expect(cache.lookup("svc")??.token == 13)
        #expect(cache.lookup("unasked") == nil, "names this node never asked for are not kept")
        cache.store("svc", NameBinding(name: "svc", pid: Self.owner, scope: .consistent, token: 3), index: 12)
        #expect(cache.lookup("svc")??.pid == Self.mover, "an answer read at an older index does not replace a newer entry")
    }

    @Test("an answer older than a change heard for a name not held is not cached, for the TTL")
    func lateAnswersAfterAHeardChange() {
        let clock = ManualClock()
        let cache = ConsistentNameCache(ttl: .seconds(30), now: { clock.now.withLock { $0 } })
        // The name moves to `mover` (registered at 20) before this client asked for it: heard, not held.
        cache.apply(NameCacheUpdate(index: 21, changes: [.init(name: "svc", pid: Self.mover, token: 20)]))
        #expect(cache.lookup("svc") == nil)
        #expect(cache.heardCount == 1)
        // A lagging member answers the old owner (registered at 3), or "free": neither is kept.
        cache.store("svc", NameBinding(name: "svc", pid: Self.owner, scope: .consistent, token: 3), index: 3)
        #expect(cache.lookup("svc") == nil, "the old owner would otherwise be served for the whole TTL")
        cache.store("svc", nil, index: 0)
        #expect(cache.lookup("svc") == nil)
        // An up-to-date member's answer is.
        cache.store("svc", NameBinding(name: "svc", pid: Self.mover, scope: .consistent, token: 20), index: 20)
        #expect(cache.lookup("svc")??.pid == Self.mover)

        // A release heard (at 30) for a name not held: a binding older than it is not cached, a newer one is.
        cache.apply(NameCacheUpdate(index: 30, changes: [.init(name: "job", pid: nil, token: nil)]))
        cache.store("job", NameBinding(name: "job", pid: Self.owner, scope: .consistent, token: 25), index: 25)
        #expect(cache.lookup("job") == nil)
        cache.store("job", NameBinding(name: "job", pid: Self.mover, scope: .consistent, token: 31), index: 31)
        #expect(cache.lookup("job")??.pid == Self.mover)

        // Past the TTL what was heard no longer holds answers back.
        cache.apply(NameCacheUpdate(index: 40, changes: [.init(name: "old", pid: Self.mover, token: 40)]))
        clock.advance(.seconds(31))
        cache.store("old", nil, index: 0)
        #expect(cache.lookup("old") == .some(nil))
    }

    @Test("what is heard for names not held stays bounded by the capacity, the newest kept")
    func heardIsBounded() {
        let clock = ManualClock()
        let cache = ConsistentNameCache(ttl: .seconds(30), capacity: 8, now: { clock.now.withLock { $0 } })
        var most = 0
        for index in 1...40 {
            clock.advance(.milliseconds(100))
            cache.apply(NameCacheUpdate(index: UInt64(index), changes: [.init(name: "n\(index)", pid: Self.owner, token: UInt64(index))]))
            most = max(most, cache.heardCount)
        }
        #expect(most == 8)
        #expect(cache.heardCount >= 6, "trimmed to three quarters at the most, not emptied")
        // The newest is still heard (a lagging answer is not cached); the oldest is forgotten (it is).
        cache.store("n40", nil, index: 0)
        #expect(cache.lookup("n40") == nil)
        cache.store("n1", nil, index: 0)
        #expect(cache.lookup("n1") == .some(nil))
    }

    @Test("a departed node's bindings go at once; a resync keeps only live nodes'")
    func departures() {
        let cache = ConsistentNameCache()
        cache.store("a", NameBinding(name: "a", pid: Self.owner, scope: .consistent, token: 1), index: 1)
        cache.store("b", NameBinding(name: "b", pid: Self.mover, scope: .consistent, token: 2), index: 2)
        cache.store("free", nil, index: 2)
        cache.nodeDown(NodeID("n1"))
        #expect(cache.lookup("a") == nil)
        #expect(cache.lookup("b")??.pid == Self.mover)
        cache.keepOnly(nodes: [NodeID("n9")])
        #expect(cache.lookup("b") == nil)
        #expect(cache.lookup("free") == .some(nil))
    }

    @Test("past its capacity the least recently confirmed entries go")
    func capacity() {
        let clock = ManualClock()
        let cache = ConsistentNameCache(capacity: 2, now: { clock.now.withLock { $0 } })
        for name in ["a", "b", "c"] {
            cache.store(name, nil, index: 1)
            clock.advance(.milliseconds(1))
        }
        #expect(cache.count == 2)
        #expect(cache.lookup("a") == nil && cache.lookup("c") != nil)
    }

    @Test("updates round-trip, split to fit a datagram, and hostile bytes are refused")
    func wire() throws {
        var changes: [NameCacheUpdate.Change] = []
        for number in 0..<60 {
            if number % 3 == 0 {
                changes.append(NameCacheUpdate.Change(name: "service-\(number)", pid: nil, token: nil))
            } else {
                changes.append(NameCacheUpdate.Change(name: "service-\(number)", pid: Self.owner, token: UInt64(number), strong: number % 5 == 0))
            }
        }
        let update = NameCacheUpdate(index: 99, changes: changes)
        #expect(try NameCacheUpdate(decoding: update.encoded()) == update)
        let parts = update.split(budget: 400)
        #expect(parts.count > 1)
        #expect(parts.allSatisfy { (part: NameCacheUpdate) in part.encoded().count <= 400 && part.index == 99 })
        #expect(parts.flatMap { (part: NameCacheUpdate) in part.changes } == changes)
        let bytes = update.encoded()
        for cut in [0, 1, 5, 11, bytes.count - 1] {
            #expect(throws: ByteReaderError.self) { try NameCacheUpdate(decoding: Array(bytes.prefix(cut))) }
        }
        #expect(throws: ByteReaderError.self) { try NameCacheUpdate(decoding: [3] + bytes.dropFirst()) }
        #expect(throws: ByteReaderError.self) { try NameCacheUpdate(decoding: bytes + [0]) }
    }

    @Test("a repeat's round travels with it and stays in every part; version 1 (no round) is still read")
    func rounds() throws {
        let changes = (0..<40).map { NameCacheUpdate.Change(name: "service-\($0)", pid: Self.owner, token: UInt64($0)) }
        let repeated = NameCacheUpdate(index: 5, changes: changes, round: 2)
        #expect(try NameCacheUpdate(decoding: repeated.encoded()) == repeated)
        #expect(repeated.encoded() != NameCacheUpdate(index: 5, changes: changes).encoded(), "a repeat is a new payload")
        #expect(repeated.split(budget: 400).allSatisfy { $0.round == 2 })
        // Version 1: no round byte after the version.
        var old = NameCacheUpdate(index: 5, changes: [changes[0]]).encoded()
        old[0] = 1
        old.remove(at: 1)
        #expect(try NameCacheUpdate(decoding: old) == NameCacheUpdate(index: 5, changes: [changes[0]]))
    }

    @Test("the name changes of an applied batch become one update at its index")
    func fromChanges() {
        let update = NameCacheUpdate.from([
            .put(store: ByteKey("default"), key: ByteKey("k"), value: StoredValue(value: [1], version: 1, created: 1, expiresAt: nil)),
            .nameRegistered(name: ByteKey("svc"), pid: Self.owner, token: 7),
            .nameReleased(name: ByteKey("old"), pid: Self.mover),
        ], index: 7)
        #expect(update == NameCacheUpdate(index: 7, changes: [.init(name: "svc", pid: Self.owner, token: 7), .init(name: "old", pid: nil, token: nil)]))
        #expect(NameCacheUpdate.from([], index: 1) == nil)
    }
}

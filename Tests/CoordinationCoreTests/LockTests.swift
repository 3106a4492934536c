import CohortCore
@testable import CoordinationCore
import Testing

@Suite("Coordination state: locks")
struct LockTests {
    let alice = pid("n1", 1, 1), bob = pid("n2", 1, 7), carol = pid("n3", 1, 3)

    @Test("a free lock is granted with the entry's index as token; held, it fails fast naming the holder; the holder's retry gets the same grant")
    func failFast() {
        var replica = Replica()
        #expect(replica.apply(.acquireLock(name: "job", holder: alice, wait: 0, lockDelay: 0), at: 0) == .lockGranted(token: 1))
        #expect(replica.apply(.acquireLock(name: "job", holder: bob, wait: 0, lockDelay: 0), at: 0) == .lockBusy(holder: alice, delayedUntil: 0))
        #expect(replica.apply(.acquireLock(name: "job", holder: alice, wait: 0, lockDelay: 0), at: 0) == .lockGranted(token: 1))
        #expect(replica.apply(.releaseLock(name: "job", holder: bob), at: 0) == .notHolder(current: alice))
        #expect(replica.apply(.releaseLock(name: "other", holder: bob), at: 0) == .notHolder(current: nil))
        #expect(replica.apply(.releaseLock(name: "job", holder: alice), at: 0) == .lockReleased)
        #expect(replica.state.lock("job") == nil, "a free lock with no waiter leaves nothing behind")
        #expect(replica.apply(.acquireLock(name: "job", holder: bob, wait: 0, lockDelay: 0), at: 0) == .lockGranted(token: 7))
    }

    @Test("waiters are served first come, first served; each grant's token is the releasing entry's index, strictly increasing")
    func fairQueue() {
        var replica = Replica()
        replica.apply(.acquireLock(name: "l", holder: alice, wait: 0, lockDelay: 0), at: 0)
        #expect(replica.apply(.acquireLock(name: "l", holder: bob, wait: 10_000, lockDelay: 0), at: 0) == .lockQueued(holder: alice, position: 0))
        #expect(replica.apply(.acquireLock(name: "l", holder: carol, wait: 10_000, lockDelay: 0), at: 0) == .lockQueued(holder: alice, position: 1))
        #expect(replica.apply(.acquireLock(name: "l", holder: bob, wait: 10_000, lockDelay: 0), at: 0) == .lockQueued(holder: alice, position: 0), "a repeated wait keeps its place")
        replica.apply(.releaseLock(name: "l", holder: alice), at: 0)
        #expect(replica.state.lock("l")?.holder == bob)
        #expect(replica.state.lock("l")?.token == 5)
        replica.apply(.releaseLock(name: "l", holder: bob), at: 0)
        #expect(replica.state.lock("l")?.holder == carol)
        let grants = replica.changes.compactMap { change -> UInt64? in
            if case .lockGranted(_, _, let token) = change { token } else { nil }
        }
        #expect(grants == [1, 5, 6])
    }

    @Test("a wait runs out at its deadline in the state's clock; a waiter can withdraw; a grant removes the waiter's deadline")
    func waitDeadlines() {
        var replica = Replica()
        replica.apply(.acquireLock(name: "l", holder: alice, wait: 0, lockDelay: 0), at: 1000)
        replica.apply(.acquireLock(name: "l", holder: bob, wait: 500, lockDelay: 0), at: 1000)
        replica.apply(.acquireLock(name: "l", holder: carol, wait: 5000, lockDelay: 0), at: 1000)
        #expect(replica.apply(.sweep, at: 1500) == .swept(keys: 0, waits: 1, delaysEnded: 0))
        #expect(replica.changes.last == .lockWaitEnded(name: ByteKey("l"), pid: bob))
        #expect(replica.state.lock("l")?.waiters.map(\.pid) == [carol])
        #expect(replica.apply(.releaseLock(name: "l", holder: carol), at: 1500) == .lockReleased, "a waiter withdraws")
        #expect(replica.state.lock("l")?.waiters.isEmpty == true)
        replica.apply(.acquireLock(name: "l", holder: carol, wait: 5000, lockDelay: 0), at: 1500)
        replica.apply(.releaseLock(name: "l", holder: alice), at: 1600)
        #expect(replica.state.lock("l")?.holder == carol)
        #expect(replica.state.nextDeadline == nil, "carol's wait deadline went with the grant")
    }

    @Test("when the holder's node departs its lock stays unavailable for its lock delay, then passes to the next waiter; a process exit releases at once")
    func lockDelay() {
        var replica = Replica()
        replica.apply(.acquireLock(name: "l", holder: alice, wait: 0, lockDelay: 10_000), at: 1000)
        replica.apply(.acquireLock(name: "l", holder: bob, wait: 60_000, lockDelay: 0), at: 1000)
        #expect(replica.apply(.releaseNode(NodeID("n1"), throughIncarnation: 1), at: 2000) == .released(locks: 1, names: 0, waits: 0))
        #expect(replica.state.lock("l")?.holder == nil)
        #expect(replica.state.lock("l")?.delayedUntil == 12_000)
        #expect(replica.apply(.acquireLock(name: "l", holder: carol, wait: 0, lockDelay: 0), at: 5000) == .lockBusy(holder: nil, delayedUntil: 12_000))
        replica.apply(.sweep, at: 11_999)
        #expect(replica.state.lock("l")?.holder == nil)
        #expect(replica.apply(.sweep, at: 12_000) == .swept(keys: 0, waits: 0, delaysEnded: 1))
        #expect(replica.state.lock("l")?.holder == bob)

        // An exit (not a departure) honours no delay.
        var exit = Replica()
        exit.apply(.acquireLock(name: "l", holder: alice, wait: 0, lockDelay: 10_000), at: 1000)
        exit.apply(.acquireLock(name: "l", holder: bob, wait: 60_000, lockDelay: 0), at: 1000)
        #expect(exit.apply(.releaseOwner(alice), at: 2000) == .released(locks: 1, names: 0, waits: 0))
        #expect(exit.state.lock("l")?.holder == bob)
    }

    @Test("a departed node's processes lose their locks and places in queues, and never receive a lock released in the same step")
    func departureReleasesEverything() {
        var replica = Replica()
        let aliceSibling = pid("n1", 1, 2)
        replica.apply(.acquireLock(name: "l", holder: alice, wait: 0, lockDelay: 0), at: 0)
        replica.apply(.acquireLock(name: "l", holder: aliceSibling, wait: 60_000, lockDelay: 0), at: 0)
        replica.apply(.acquireLock(name: "l", holder: bob, wait: 60_000, lockDelay: 0), at: 0)
        replica.apply(.acquireLock(name: "m", holder: bob, wait: 0, lockDelay: 0), at: 0)
        replica.apply(.acquireLock(name: "m", holder: alice, wait: 60_000, lockDelay: 0), at: 0)
        #expect(replica.apply(.releaseNode(NodeID("n1"), throughIncarnation: 1), at: 0) == .released(locks: 1, names: 0, waits: 2))
        #expect(replica.state.lock("l")?.holder == bob, "the lock skips n1's waiting sibling")
        #expect(replica.state.lock("m")?.waiters.isEmpty == true)
        #expect(replica.state.holdings(of: alice) == ([], [], []))
        #expect(replica.state.holdings(of: aliceSibling) == ([], [], []))
        #expect(replica.apply(.releaseNode(NodeID("n1"), throughIncarnation: 1), at: 0) == .released(locks: 0, names: 0, waits: 0), "repeating it is harmless")
    }

    @Test("a node that restarted keeps what its new incarnation holds; only the boots up to the given incarnation are released")
    func restartReleasesOnlyOldBoots() {
        var replica = Replica()
        let old = pid("n1", 5, 1), new = pid("n1", 6, 1)
        replica.apply(.acquireLock(name: "a", holder: old, wait: 0, lockDelay: 0), at: 0)
        replica.apply(.acquireLock(name: "b", holder: new, wait: 0, lockDelay: 0), at: 0)
        replica.apply(.registerName(name: "svc-old", pid: old), at: 0)
        replica.apply(.registerName(name: "svc-new", pid: new), at: 0)
        #expect(replica.apply(.releaseNode(NodeID("n1"), throughIncarnation: 5), at: 0) == .released(locks: 1, names: 1, waits: 0))
        #expect(replica.state.lock("a") == nil && replica.state.lock("b")?.holder == new)
        #expect(replica.state.name("svc-old") == nil && replica.state.name("svc-new")?.pid == new)
    }

    @Test("times near the end of the clock saturate instead of trapping: a TTL, a wait and a lock delay that run past UInt64.max end at UInt64.max (found by CoordinationFuzz)")
    func durationsSaturateAtTheEndOfTime() {
        let late = UInt64.max - 10
        var replica = Replica()
        #expect(replica.apply(.put(store: "s", key: "k", value: [1], condition: .none, ttl: 3_600_000), at: late) == .written(version: 1))
        #expect(replica.state.value(store: "s", key: "k")?.expiresAt == .max)
        replica.apply(.acquireLock(name: "l", holder: alice, wait: 0, lockDelay: 60_000), at: late)
        #expect(replica.apply(.acquireLock(name: "l", holder: bob, wait: 60_000, lockDelay: 0), at: late) == .lockQueued(holder: alice, position: 0))
        #expect(replica.state.lock("l")?.waiters.first?.deadline == .max)
        #expect(replica.apply(.releaseNode(NodeID("n1"), throughIncarnation: 1), at: late) == .released(locks: 1, names: 0, waits: 0))
        #expect(replica.state.lock("l")?.delayedUntil == .max)
        #expect(replica.state.nextDeadline == .max)
        // At the clock's last millisecond everything timed falls due together: the key expires and the
        // delay ends, which hands the lock to bob, still waiting (his wait ends at the same instant).
        #expect(replica.apply(.sweep, at: .max) == .swept(keys: 1, waits: 0, delaysEnded: 1))
        #expect(replica.state.lock("l")?.holder == bob)
        #expect(replica.state.nextDeadline == nil)
    }
}

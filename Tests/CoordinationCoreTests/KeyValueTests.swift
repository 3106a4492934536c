import CohortCore
@testable import CoordinationCore
import Testing

@Suite("Coordination state: stores, TTLs and transactions")
struct KeyValueTests {
    @Test("a put sets the value at the entry's index, keeps the creation index across overwrites, and stores are separate")
    func putsAndVersions() {
        var replica = Replica()
        #expect(replica.apply(.put(store: "default", key: "a", value: bytes("1"), condition: .none, ttl: 0), at: 1000) == .written(version: 1))
        replica.apply(.put(store: "other", key: "a", value: bytes("x"), condition: .none, ttl: 0), at: 1000)
        #expect(replica.apply(.put(store: "default", key: "a", value: bytes("2"), condition: .none, ttl: 0), at: 1000) == .written(version: 3))
        #expect(replica.state.value(store: "default", key: "a") == StoredValue(value: bytes("2"), version: 3, created: 1))
        #expect(replica.state.value(store: "other", key: "a")?.value == bytes("x"))
        #expect(replica.state.count(store: "default") == 1 && replica.state.count(store: "other") == 1)
        #expect(replica.apply(.read(store: "default", key: "a"), at: 1000) == .value(StoredValue(value: bytes("2"), version: 3, created: 1)))
    }

    @Test("conditional writes: absent, version; a failed condition returns the current value and changes nothing")
    func conditions() {
        var replica = Replica()
        replica.apply(.put(store: "s", key: "k", value: bytes("1"), condition: .absent, ttl: 0), at: 0)
        let current = replica.state.value(store: "s", key: "k")
        #expect(replica.apply(.put(store: "s", key: "k", value: bytes("2"), condition: .absent, ttl: 0), at: 0) == .conflict(current: current))
        #expect(replica.apply(.put(store: "s", key: "k", value: bytes("2"), condition: .version(99), ttl: 0), at: 0) == .conflict(current: current))
        #expect(replica.apply(.put(store: "s", key: "k", value: bytes("2"), condition: .version(1), ttl: 0), at: 0) == .written(version: 4))
        #expect(replica.apply(.delete(store: "s", key: "k", condition: .version(1)), at: 0) == .conflict(current: replica.state.value(store: "s", key: "k")))
        #expect(replica.apply(.delete(store: "s", key: "k", condition: .version(4)), at: 0) == .written(version: 6))
        #expect(replica.apply(.delete(store: "s", key: "k", condition: .none), at: 0) == .notFound)
        #expect(replica.state.count(store: "s") == 0)
        #expect(replica.changes == [
            .put(store: ByteKey("s"), key: ByteKey("k"), value: StoredValue(value: bytes("1"), version: 1, created: 1)),
            .put(store: ByteKey("s"), key: ByteKey("k"), value: StoredValue(value: bytes("2"), version: 4, created: 1)),
            .delete(store: ByteKey("s"), key: ByteKey("k"), version: 6),
        ])
    }

    @Test("list: one store's keys with a prefix, after a key, up to a limit, in byte order")
    func listing() {
        var replica = Replica()
        for key in ["b/2", "a", "b/1", "b/10", "c", "b", "bz"] {
            replica.apply(.put(store: "s", key: key, value: [], condition: .none, ttl: 0), at: 0)
        }
        replica.apply(.put(store: "t", key: "b/0", value: [], condition: .none, ttl: 0), at: 0)
        replica.apply(.put(store: "r", key: "b/9", value: [], condition: .none, ttl: 0), at: 0)
        #expect(replica.state.list(store: "s", prefix: "b/").map(\.key) == ["b/1", "b/10", "b/2"])
        #expect(replica.state.list(store: "s", prefix: "b/", after: "b/1").map(\.key) == ["b/10", "b/2"])
        #expect(replica.state.list(store: "s", prefix: "b/", after: "a").map(\.key) == ["b/1", "b/10", "b/2"])
        #expect(replica.state.list(store: "s", prefix: "b/", after: "b/2").isEmpty)
        #expect(replica.state.list(store: "s", limit: 3).map(\.key) == ["a", "b", "b/1"])
        #expect(replica.state.list(store: "s", limit: 0).isEmpty)
        #expect(replica.state.list(store: "none").isEmpty)
        #expect(replica.state.list(store: "t").map(\.key) == ["b/0"])
    }

    @Test("a TTL key expires at the first command whose time reaches its deadline; a rewrite moves the deadline")
    func ttlExpiry() {
        var replica = Replica()
        replica.apply(.put(store: "s", key: "lease", value: bytes("v"), condition: .none, ttl: 5000), at: 10_000)
        #expect(replica.state.value(store: "s", key: "lease")?.expiresAt == 15_000)
        #expect(replica.state.nextDeadline == 15_000)
        replica.apply(.put(store: "s", key: "lease", value: bytes("w"), condition: .none, ttl: 5000), at: 12_000)
        #expect(replica.state.nextDeadline == 17_000, "the old deadline is gone")
        #expect(replica.apply(.sweep, at: 16_999) == .swept(keys: 0, waits: 0, delaysEnded: 0))
        #expect(replica.state.value(store: "s", key: "lease") != nil)
        #expect(replica.apply(.sweep, at: 17_000) == .swept(keys: 1, waits: 0, delaysEnded: 0))
        #expect(replica.state.value(store: "s", key: "lease") == nil)
        #expect(replica.changes.last == .delete(store: ByteKey("s"), key: ByteKey("lease"), version: 4))
        #expect(replica.state.nextDeadline == nil)
        // Any command advances time, not only a sweep; a plain put clears a TTL.
        replica.apply(.put(store: "s", key: "a", value: [], condition: .none, ttl: 100), at: 20_000)
        replica.apply(.put(store: "s", key: "b", value: [], condition: .none, ttl: 100), at: 20_000)
        replica.apply(.put(store: "s", key: "b", value: [], condition: .none, ttl: 0), at: 20_000)
        replica.apply(.read(store: "s", key: "a"), at: 20_100)
        #expect(replica.state.value(store: "s", key: "a") == nil)
        #expect(replica.state.value(store: "s", key: "b") != nil)
    }

    @Test("the clock never runs backwards: a leader whose clock is behind does not revive expired time")
    func clockIsMonotonic() {
        var replica = Replica()
        replica.apply(.put(store: "s", key: "k", value: [], condition: .none, ttl: 1000), at: 50_000)
        replica.apply(.sweep, at: 40_000)
        #expect(replica.state.clock == 50_000)
        replica.apply(.put(store: "s", key: "k2", value: [], condition: .none, ttl: 1000), at: 0)
        #expect(replica.state.value(store: "s", key: "k2")?.expiresAt == 51_000)
    }

    @Test("a transaction applies its success branch only when every comparison holds, else its failure branch, all at one version")
    func transactions() {
        var replica = Replica()
        replica.apply(.put(store: "s", key: "a", value: bytes("1"), condition: .none, ttl: 0), at: 0)
        let compares: [CoordinationCommand.Compare] = [.init(key: "a", .version(1)), .init(key: "a", .value(bytes("1"))), .init(key: "b", .absent)]
        let result = replica.apply(.transaction(
            store: "s", compares: compares,
            success: [.put(key: "b", value: bytes("2"), ttl: 0), .delete(key: "a"), .get(key: "b"), .delete(key: "zz")],
            failure: [.put(key: "failed", value: [], ttl: 0)]
        ), at: 0)
        #expect(result == .transaction(succeeded: true, version: 2, results: [
            .put(version: 2), .delete(existed: true), .get(StoredValue(value: bytes("2"), version: 2, created: 2)), .delete(existed: false),
        ]))
        #expect(replica.state.value(store: "s", key: "a") == nil && replica.state.value(store: "s", key: "failed") == nil)
        let failed = replica.apply(.transaction(
            store: "s", compares: [.init(key: "b", .version(2)), .init(key: "a", .value(bytes("1")))],
            success: [.put(key: "succeeded", value: [], ttl: 0)], failure: [.put(key: "failed", value: [], ttl: 0), .get(key: "b")]
        ), at: 0)
        #expect(failed == .transaction(succeeded: false, version: 3, results: [
            .put(version: 3), .get(StoredValue(value: bytes("2"), version: 2, created: 2)),
        ]))
        #expect(replica.state.value(store: "s", key: "succeeded") == nil && replica.state.value(store: "s", key: "failed") != nil)
    }
}

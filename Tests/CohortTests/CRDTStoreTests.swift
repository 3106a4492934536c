@testable import Cohort
import CohortCore
import Logging
import PlaneCore
import Synchronization
import Testing

/// Physical milliseconds a test steps by hand.
final class ManualMillis: Sendable {
    private let now: Mutex<UInt64>
    init(_ start: UInt64) { now = Mutex(start) }
    func read() -> UInt64 { now.withLock { $0 } }
    func set(_ millis: UInt64) { now.withLock { $0 = millis } }
}

/// A `kv.crdt` store's backend over a local plane, its changes pumped by hand so every step is deterministic.
final class CRDTStoreHarness {
    let clock: ManualMillis
    let plane: LocalStorePlane
    let backend: CRDTStoreBackend
    private var iterator: AsyncStream<PlaneEvent>.Iterator

    init(start: UInt64 = 1_000_000, firstSequence: UInt64 = 100, historyLimit: Int = 100) {
        let clock = ManualMillis(start)
        self.clock = clock
        plane = LocalStorePlane(node: NodeID("n1"), physicalMillis: { clock.read() })
        iterator = plane.changes().makeAsyncIterator()
        backend = CRDTStoreBackend(
            name: "cache", plane: plane, log: nil, firstSequence: firstSequence, metrics: nil,
            physicalMillis: { clock.read() }, historyLimit: historyLimit
        )
    }

    /// Applies the next plane event, as the node's follow loop does.
    func pump() async {
        if let event = await iterator.next() { backend.apply(event) }
    }
}

@Suite("kv.crdt store backend")
struct CRDTStoreTests {
    @Test("a set is read back with its hybrid-clock stamp as version; a later write has a larger one even with the clock standing still")
    func versionsAreStamps() async throws {
        let store = CRDTStoreHarness()
        let first = store.backend.write("a", [1], ttlMillis: 0)
        let second = store.backend.write("a", [2], ttlMillis: 0)
        #expect(HLC(rawValue: first).millis == 1_000_000)
        #expect(second > first)
        let entry = try #require(store.backend.entry("a"))
        #expect(entry.value == [2] && entry.version == second && entry.created == second && entry.expiresAt == nil)
    }

    @Test("a TTL becomes the entry's expiry (write time + TTL): readable until then, gone from get and list at that moment, reported as a delete")
    func ttlExpiresAtTheWrittenTime() async throws {
        let store = CRDTStoreHarness()
        store.backend.write("k/short", [1], ttlMillis: 5000)
        store.backend.write("k/long", [2], ttlMillis: 0)
        await store.pump()
        await store.pump()
        #expect(store.plane.state[Array("k/short".utf8)]?.expiresAtMillis == 1_005_000, "the expiry travels in the entry")
        var events = try store.backend.watch(prefix: "k/", after: store.backend.sequence).makeAsyncIterator()
        store.clock.set(1_004_999)
        store.backend.expire()
        #expect(store.backend.entry("k/short")?.value == [1])
        #expect(store.backend.liveKeys == 2)
        store.clock.set(1_005_000)
        #expect(store.backend.entry("k/short") == nil, "every node drops it at the same moment: its expiry")
        #expect(store.backend.list(prefix: "k/", after: nil, limit: 10).entries.map(\.key) == ["k/long"])
        store.backend.expire()
        let expired = try await events.next()
        #expect(expired?.kind == .delete && expired?.key == "k/short")
        #expect(store.backend.liveKeys == 1)
        // Expiring again reports nothing more; a new write of the key is a put again.
        store.backend.expire()
        store.backend.write("k/short", [3], ttlMillis: 0)
        await store.pump()
        let rewritten = try await events.next()
        #expect(rewritten?.kind == .put && rewritten?.value == [3] && rewritten!.version == expired!.version + 1)
        #expect(store.backend.liveKeys == 2)
    }

    @Test("a delete writes a tombstone that supersedes the value (even when this node holds none) and is one delete event")
    func deletesAreTombstones() async throws {
        let store = CRDTStoreHarness()
        let put = store.backend.write("x", [1], ttlMillis: 0)
        await store.pump()
        let start = store.backend.sequence
        let deleted = store.backend.write("x", nil, ttlMillis: 0)
        await store.pump()
        #expect(deleted > put)
        #expect(store.backend.entry("x") == nil)
        #expect(store.plane.state[Array("x".utf8)]?.isTombstone == true)
        // A delete of a key this node never held still writes a tombstone, without an event.
        store.backend.write("never", nil, ttlMillis: 0)
        await store.pump()
        #expect(store.plane.state[Array("never".utf8)]?.isTombstone == true)
        #expect(store.backend.sequence == start + 1, "only the visible delete is a change")
        #expect(store.backend.list(prefix: "", after: nil, limit: 10).entries.isEmpty)
    }

    @Test("a watch delivers kept changes after its version, in the order applied, then live ones; a version below the kept ones or not given yet is COMPACTED")
    func watchOrderResumeAndCompaction() async throws {
        let store = CRDTStoreHarness(firstSequence: 100, historyLimit: 4)
        #expect(store.backend.sequence == 100)
        for index in 1...6 {
            store.backend.write("w/\(index)", [UInt8(index)], ttlMillis: 0)
            await store.pump()
        }
        #expect(store.backend.sequence == 106)
        // Kept: 103...106, so a watch may start after 102.
        var resumed = try store.backend.watch(prefix: "w/", after: 104).makeAsyncIterator()
        #expect(try await resumed.next()?.version == 105)
        #expect(try await resumed.next()?.key == "w/6")
        store.backend.write("w/7", [7], ttlMillis: 0)
        store.backend.write("other", [0], ttlMillis: 0)
        store.backend.write("w/8", [8], ttlMillis: 0)
        await store.pump()
        await store.pump()
        await store.pump()
        let live = try await resumed.next()
        #expect(live?.key == "w/7" && live?.version == 107)
        #expect(try await resumed.next()?.version == 109, "the prefix filters; the numbers count every change of the store")
        #expect(throws: CoordinationError.compacted(oldest: 105)) { try store.backend.watch(prefix: "", after: 100) }
        #expect(throws: CoordinationError.compacted(oldest: 105)) { try store.backend.watch(prefix: "", after: 500) }
        _ = try store.backend.watch(prefix: "", after: 105)
        #expect(throws: CoordinationError.compacted(oldest: 105), "0 is every change since the start, no longer all kept") {
            try store.backend.watch(prefix: "", after: 0)
        }
        let fresh = CRDTStoreHarness(firstSequence: 100)
        fresh.backend.write("a", [1], ttlMillis: 0)
        await fresh.pump()
        var fromStart = try fresh.backend.watch(prefix: "", after: 0).makeAsyncIterator()
        #expect(try await fromStart.next()?.version == 101, "0 is every change since the start while all are kept")
    }

    @Test("a listing's revision is the last change number: a watch from it sees every later change")
    func listRevisionStartsAWatch() async throws {
        let store = CRDTStoreHarness()
        store.backend.write("a", [1], ttlMillis: 0)
        await store.pump()
        let (entries, revision) = store.backend.list(prefix: "", after: nil, limit: 10)
        #expect(entries.map(\.key) == ["a"] && revision == store.backend.sequence)
        var events = try store.backend.watch(prefix: "", after: revision).makeAsyncIterator()
        store.backend.write("b", [2], ttlMillis: 0)
        await store.pump()
        #expect(try await events.next()?.key == "b")
    }

    @Test("a plane that drops changes for a slow reader resyncs: open watches end, numbering continues past them")
    func resyncEndsWatches() async throws {
        let store = CRDTStoreHarness()
        let watch = try store.backend.watch(prefix: "", after: store.backend.sequence)
        let before = store.backend.sequence
        store.backend.apply(.resync)
        #expect(store.backend.sequence == before + 1)
        await #expect(throws: WatchError.replicaReplaced(oldest: before + 1)) {
            for try await _ in watch {}
        }
    }

    @Test("merges of remote entries follow last-writer-wins: an older remote write does not replace a newer local one")
    func remoteOlderWriteLoses() async throws {
        let store = CRDTStoreHarness()
        store.backend.write("k", [1], ttlMillis: 0)
        store.plane.load([PlaneEntry(key: Array("k".utf8), stamp: PlaneStamp(time: HLC(millis: 999_000, logical: 0), node: NodeID("n2")), value: [9])])
        #expect(store.backend.entry("k")?.value == [1])
    }
}

/// The store API over a `kv.crdt` store on a node with the cluster disabled.
@Suite("kv.crdt store API")
struct CRDTStoreAPITests {
    static func node() throws -> CohortNode {
        let yaml = """
            cluster:
              enabled: false
            stores:
              - name: cache
                kind: kv.crdt
                durable: false
            """
        let settings = try ConfigLoader(environment: [:], hostName: "solo", homeDirectory: nil) { _ in [] }.load(yaml: yaml)
        return CohortNode(settings: settings, logger: Logger(label: "test"), boot: NodeBoot(incarnation: Incarnation(7)))
    }

    @Test("set, get, entry, list and delete serve a kv.crdt store whatever the consistency asked")
    func basicCalls() async throws {
        let node = try Self.node()
        let cache = try node.store("cache")
        #expect(cache.settings.kind == .crdt)
        let version = try await cache.set("user/1", Array("ann".utf8))
        #expect(try await cache.get("user/1", consistency: .linearizable) == Array("ann".utf8))
        #expect(try await cache.entry("user/1", consistency: .stale)?.version == version)
        let (entries, _) = try await cache.list(prefix: "user/")
        #expect(entries.map(\.key) == ["user/1"])
        let deleted = try await cache.delete("user/1")
        #expect(deleted > version)
        #expect(try await cache.get("user/1") == nil)
    }

    @Test("conditional writes, conditional deletes and transactions answer UNSUPPORTED and write nothing")
    func casAndTransactionsAreUnsupported() async throws {
        let node = try Self.node()
        let cache = try node.store("cache")
        let version = try await cache.set("k", [1])
        for attempt in [KeyValueStore.Condition.onlyIfAbsent, .ifVersion(version)] {
            await #expect {
                try await cache.put("k", [2], condition: attempt)
            } throws: { ($0 as? CoordinationError)?.code == "UNSUPPORTED" }
        }
        await #expect {
            try await cache.delete("k", ifVersion: version)
        } throws: { ($0 as? CoordinationError)?.code == "UNSUPPORTED" }
        await #expect {
            try await cache.transaction(compare: [], success: [.put(key: "k", value: [3], ttl: 0)])
        } throws: { ($0 as? CoordinationError)?.code == "UNSUPPORTED" }
        #expect(try await cache.get("k") == [1])
    }

    @Test("keys follow the rules of every store: 1 to 1024 bytes, no leading _, values up to 512 KiB")
    func badKeysAndValues() async throws {
        let node = try Self.node()
        let cache = try node.store("cache")
        for (key, code) in [("", "BAD_REQUEST"), ("_sys", "BAD_REQUEST"), (String(repeating: "k", count: 1025), "TOO_LARGE")] {
            await #expect {
                try await cache.set(key, [1])
            } throws: { ($0 as? CoordinationError)?.code == code }
        }
        await #expect {
            try await cache.set("big", [UInt8](repeating: 0, count: 512 * 1024 + 1))
        } throws: { ($0 as? CoordinationError)?.code == "TOO_LARGE" }
        try await cache.set(String(repeating: "k", count: 1024), [UInt8](repeating: 0, count: 512 * 1024))
        #expect(node.crdtStores.backends["cache"]!.plane.state.valueCount == 1)
    }
}

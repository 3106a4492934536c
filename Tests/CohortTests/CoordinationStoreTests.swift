@testable import Cohort
import CohortCore
import CoordinationCore
import RaftCore
import Testing

@Suite("The coordination store: the state machine Raft applies to, its watches and lock waits")
struct CoordinationStoreTests {
    func entry(_ index: UInt64, _ operation: CoordinationCommand.Operation, time: UInt64 = 1000) -> LogEntry {
        LogEntry(term: 1, index: index, payload: .command(CoordinationCommand(operation, time: time).encoded()))
    }

    @Test("entries apply in order; no-ops and configuration entries are Raft's own; results decode")
    func applies() throws {
        let store = CoordinationStore()
        let result = store.apply(entry(1, .put(store: "default", key: "a", value: [1], condition: .none, ttl: 0)))
        #expect(try CoordinationResult.decode(result) == .written(version: 1))
        #expect(store.apply(LogEntry(term: 1, index: 2, payload: .noop)) == [])
        #expect(store.state.value(store: "default", key: "a")?.version == 1)
        #expect(store.state.index == 1)
    }

    @Test("an existing log of the earlier SystemStore format replays into the default store")
    func earlierLogReplays() throws {
        let store = CoordinationStore()
        // SystemCommand.put(key: "k", value: [0xAA], condition: .absent)
        let old: [UInt8] = [1, 0, 0, 0, 1, 0x6B, 0, 0, 0, 1, 0xAA, 1]
        #expect(try CoordinationResult.decode(store.apply(LogEntry(term: 1, index: 7, payload: .command(old)))) == .written(version: 7))
        #expect(store.state.value(store: "default", key: "k")?.value == [0xAA])
    }

    @Test("a snapshot is captured at once and serialized later: writes after the capture are not in it")
    func snapshotCapture() throws {
        let store = CoordinationStore()
        _ = store.apply(entry(1, .put(store: "s", key: "a", value: [1], condition: .none, ttl: 0)))
        let capture = store.snapshot()
        _ = store.apply(entry(2, .put(store: "s", key: "b", value: [2], condition: .none, ttl: 0)))
        let other = CoordinationStore()
        try other.restore(capture())
        #expect(other.state.value(store: "s", key: "a") != nil)
        #expect(other.state.value(store: "s", key: "b") == nil)
        #expect(other.state.index == 1)
    }

    @Test("a snapshot that does not restore throws and leaves the state as it was")
    func badSnapshotChangesNothing() {
        let store = CoordinationStore()
        _ = store.apply(entry(1, .put(store: "s", key: "a", value: [1], condition: .none, ttl: 0)))
        #expect(throws: CoordinationCodecError.self) { try store.restore([0x43, 0x53, 0x4D, 1, 0, 0]) }
        #expect(store.state.value(store: "s", key: "a") != nil)
    }

    @Test("a watch gets the kept changes after its version, then new ones, exactly once and in order, for its store and prefix only")
    func watchBacklogThenLive() async throws {
        let store = CoordinationStore()
        _ = store.apply(entry(1, .put(store: "s", key: "p/1", value: [1], condition: .none, ttl: 0)))
        _ = store.apply(entry(2, .put(store: "s", key: "p/2", value: [2], condition: .none, ttl: 0)))
        _ = store.apply(entry(3, .put(store: "other", key: "p/3", value: [3], condition: .none, ttl: 0)))
        _ = store.apply(entry(4, .put(store: "s", key: "q", value: [4], condition: .none, ttl: 0)))
        let stream = try store.feed.watch(store: "s", prefix: "p/", after: 1)
        _ = store.apply(entry(5, .delete(store: "s", key: "p/1", condition: .none)))
        _ = store.apply(entry(6, .put(store: "s", key: "p/4", value: [6], condition: .none, ttl: 100), time: 2000))
        _ = store.apply(entry(7, .sweep, time: 2100))
        var seen: [StoreEvent] = []
        for try await event in stream {
            seen.append(event)
            if seen.count == 4 { break }
        }
        #expect(seen == [
            StoreEvent(kind: .put, store: "s", key: "p/2", value: [2], version: 2),
            StoreEvent(kind: .delete, store: "s", key: "p/1", value: nil, version: 5),
            StoreEvent(kind: .put, store: "s", key: "p/4", value: [6], version: 6),
            StoreEvent(kind: .delete, store: "s", key: "p/4", value: nil, version: 7),
        ])
    }

    @Test("a client's fetch gets the kept changes after its version (found by binary search in the ring), for its store and prefix, at most limit, and survives the wire")
    func fetchedChanges() throws {
        let store = CoordinationStore(historyCapacity: 5)
        for index in 1...8 {
            let key = index % 2 == 0 ? "p/\(index)" : "q/\(index)"
            _ = store.apply(entry(UInt64(index), .put(store: "s", key: key, value: [UInt8(index)], condition: .none, ttl: 0)))
        }
        _ = store.apply(entry(9, .delete(store: "s", key: "p/8", condition: .none)))
        // Kept: versions 5...9 (the ring wrapped). After 5 under p/: 6, 8, and the delete at 9.
        let found = try store.feed.changes(store: "s", prefix: "p/", after: 5, limit: 10)
        #expect(found.map(\.version) == [6, 8, 9])
        #expect(try store.feed.changes(store: "s", prefix: "p/", after: 5, limit: 2).map(\.version) == [6, 8])
        #expect(try store.feed.changes(store: "s", prefix: "", after: 9, limit: 10).isEmpty)
        #expect(try store.feed.changes(store: "other", prefix: "", after: 4, limit: 10).isEmpty)
        #expect(throws: WatchError.compacted(oldest: 4)) { _ = try store.feed.changes(store: "s", prefix: "", after: 3, limit: 10) }
        // The fetch's reply codec, both outcomes.
        #expect(try RemoteReplica.decodeChanges(RemoteReplica.encodeChanges(.success(found)), store: "s") == found)
        #expect(throws: CoordinationError.compacted(oldest: 4)) {
            _ = try RemoteReplica.decodeChanges(RemoteReplica.encodeChanges(.failure(.compacted(oldest: 4))), store: "s")
        }
        #expect(throws: (any Error).self) { _ = try RemoteReplica.decodeChanges([0, 0, 0, 0, 1, 7], store: "s") }
    }

    @Test("history beyond the feed's capacity is compacted: a watch from before it is refused with the oldest version")
    func compactedHistory() throws {
        let store = CoordinationStore(historyCapacity: 3)
        for index in 1...5 { _ = store.apply(entry(UInt64(index), .put(store: "s", key: "k\(index)", value: [], condition: .none, ttl: 0))) }
        #expect(throws: WatchError.compacted(oldest: 2)) { _ = try store.feed.watch(store: "s", prefix: "", after: 1) }
        #expect(throws: Never.self) { _ = try store.feed.watch(store: "s", prefix: "", after: 2) }
    }

    @Test("installing a snapshot ends open watches, telling them where history starts again")
    func restoreEndsWatches() async throws {
        let store = CoordinationStore()
        _ = store.apply(entry(1, .put(store: "s", key: "a", value: [], condition: .none, ttl: 0)))
        let stream = try store.feed.watch(store: "s", prefix: "", after: 1)
        let other = CoordinationStore()
        for index in 1...9 { _ = other.apply(entry(UInt64(index), .put(store: "s", key: "k\(index)", value: [], condition: .none, ttl: 0))) }
        try store.restore(other.snapshot()())
        await #expect(throws: WatchError.replicaReplaced(oldest: 9)) {
            for try await _ in stream {}
        }
        #expect(throws: WatchError.compacted(oldest: 9)) { _ = try store.feed.watch(store: "s", prefix: "", after: 1) }
    }

    @Test("a watcher that stops reading is ended as fallen behind, not silently skipped")
    func slowWatcher() async throws {
        let feed = ChangeFeed(capacity: 100, backlogLimit: 2)
        let stream = try feed.watch(store: "s", prefix: "", after: 0)
        feed.publish((1...3).map { .put(store: ByteKey("s"), key: ByteKey("k"), value: StoredValue(value: [], version: UInt64($0), created: 1)) })
        var versions: [UInt64] = []
        await #expect(throws: WatchError.fellBehind) {
            for try await event in stream { versions.append(event.version) }
        }
        #expect(versions == [1, 2])
    }

    @Test("a lock wait ends with the grant applied later, or at once when the grant was applied before it registered, or at its timeout")
    func lockWaits() async throws {
        let store = CoordinationStore()
        let coordination = Coordination(
            store: store, log: LocalCommandLog(store: store, now: { 1000 }), remote: nil, declaredStores: [], logger: .init(label: "test")
        )
        let a = PID(node: NodeID("n"), incarnation: Incarnation(1), serial: 1), b = PID(node: NodeID("n"), incarnation: Incarnation(1), serial: 2)
        _ = store.apply(entry(1, .acquireLock(name: "l", holder: a, wait: 0, lockDelay: 0)))
        _ = store.apply(entry(2, .acquireLock(name: "l", holder: b, wait: 60_000, lockDelay: 0)))
        async let waited = coordination.waitForLock("l", pid: b, after: 2, timeout: .seconds(30))
        // Let the waiter register (or not: either way the grant must reach it).
        await Task.yield()
        _ = store.apply(entry(3, .releaseLock(name: "l", holder: a)))
        #expect(await waited == .granted(token: 3))
        #expect(await coordination.waitForLock("l", pid: b, after: 2, timeout: .seconds(30)) == .granted(token: 3), "already granted")
        #expect(await coordination.waitForLock("l", pid: a, after: 3, timeout: .milliseconds(50)) == nil, "a waits for nothing: times out")
    }

    @Test("a wait for a request queued at an index is not answered by the replica's state or changes before it: a holder that released and queued again is granted only its new grant")
    func lockWaitAfterItsIndex() async throws {
        let pid = { (serial: UInt64) in PID(node: NodeID("n"), incarnation: Incarnation(1), serial: serial) }
        let (a, b, c) = (pid(1), pid(2), pid(3))
        // What the leader applies: b is granted at 3, c queues at 4, b releases at 5 (c granted), b queues
        // again at 6, c releases at 7 (b granted its new grant).
        let log: [CoordinationCommand.Operation] = [
            .acquireLock(name: "l", holder: a, wait: 0, lockDelay: 0),
            .acquireLock(name: "l", holder: b, wait: 60_000, lockDelay: 0),
            .releaseLock(name: "l", holder: a),
            .acquireLock(name: "l", holder: c, wait: 60_000, lockDelay: 0),
            .releaseLock(name: "l", holder: b),
            .acquireLock(name: "l", holder: b, wait: 60_000, lockDelay: 0),
            .releaseLock(name: "l", holder: c),
        ]
        for behind in [2, 3] {
            // A replica that has applied only the first `behind` entries when b's second wait (queued at 6) starts.
            let store = CoordinationStore()
            let coordination = Coordination(
                store: store, log: LocalCommandLog(store: store, now: { 1000 }), remote: nil, declaredStores: [], logger: .init(label: "test")
            )
            for (offset, operation) in log.prefix(behind).enumerated() { _ = store.apply(entry(UInt64(offset + 1), operation)) }
            async let waited = coordination.waitForLock("l", pid: b, after: 6, timeout: .seconds(30))
            await Task.yield()
            for (offset, operation) in log.enumerated().dropFirst(behind) {
                _ = store.apply(entry(UInt64(offset + 1), operation))
                await Task.yield()
            }
            #expect(await waited == .granted(token: 7), "replica \(behind) entries in")
        }
    }
}

import CohortCore
@testable import CoordinationCore
import Testing

@Suite("Coordination codecs: commands, results, snapshots")
struct CodecTests {
    static let operations: [CoordinationCommand.Operation] = [
        .put(store: "default", key: "k", value: [1, 2, 3], condition: .none, ttl: 0),
        .put(store: "s", key: "caf\u{E9}", value: [], condition: .absent, ttl: 5000),
        .put(store: "s", key: "k", value: [0], condition: .version(42), ttl: 0),
        .delete(store: "s", key: "k", condition: .version(7)),
        .read(store: "s", key: ""),
        .transaction(
            store: "s", compares: [.init(key: "a", .version(1)), .init(key: "b", .value([9])), .init(key: "c", .absent)],
            success: [.put(key: "a", value: [1], ttl: 10), .delete(key: "b"), .get(key: "c")], failure: []
        ),
        .acquireLock(name: "l", holder: pid("node@x.y", 12, 3), wait: 5000, lockDelay: 1000),
        .releaseLock(name: "l", holder: pid("n1")),
        .registerName(name: "svc", pid: pid("n1", 2, 9)),
        .unregisterName(name: "svc", pid: pid("n1", 2, 9)),
        .releaseOwner(pid("n1")),
        .releaseNode(NodeID("n3"), throughIncarnation: .max),
        .sweep,
        .reserveName(name: "strong", pid: pid("n1", 2, 9), timeout: 10_000),
        .confirmName(name: "strong", pid: pid("n1", 2, 9), token: 77),
        .cancelReservation(name: "strong", pid: pid("n1", 2, 9), token: 77),
    ]

    @Test("every command round-trips through its bytes, and the leader's stamp sets its time in place")
    func commandsRoundTrip() throws {
        for operation in Self.operations {
            var bytes = CoordinationCommand(operation).encoded()
            #expect(try CoordinationCommand.decode(bytes) == CoordinationCommand(operation))
            CoordinationCommand.stamp(&bytes, time: 1_764_000_000_123)
            #expect(try CoordinationCommand.decode(bytes) == CoordinationCommand(operation, time: 1_764_000_000_123))
        }
    }

    @Test("every result round-trips through its bytes")
    func resultsRoundTrip() throws {
        let value = StoredValue(value: [1], version: 3, created: 2, expiresAt: 99)
        let results: [CoordinationResult] = [
            .written(version: 5), .conflict(current: value), .conflict(current: nil), .notFound, .value(value), .value(nil),
            .transaction(succeeded: true, version: 8, results: [.put(version: 8), .delete(existed: false), .get(value), .get(nil)]),
            .lockGranted(token: 4), .lockQueued(holder: pid("n1"), position: 3), .lockQueued(holder: nil, position: 0),
            .lockBusy(holder: pid("n2"), delayedUntil: 0), .lockBusy(holder: nil, delayedUntil: 77), .lockReleased,
            .notHolder(current: pid("n1")), .notHolder(current: nil), .nameRegistered(token: 9), .nameTaken(owner: pid("n4")),
            .nameUnregistered, .notOwner(owner: pid("n4")), .released(locks: 1, names: 2, waits: 3), .swept(keys: 4, waits: 5, delaysEnded: 6),
            .malformed, .nameReserved(token: 12, deadline: 1_764_000_010_000), .reservationGone, .reservationCancelled,
        ]
        for result in results {
            #expect(try CoordinationResult.decode(result.encoded()) == result)
        }
    }

    @Test("commands over the limits, of unknown kinds, truncated or with trailing bytes do not decode")
    func hostileCommands() {
        let longKey = String(repeating: "k", count: CoordinationLimits.maxKeyBytes + 1)
        let tooLong = CoordinationCommand(.put(store: "s", key: longKey, value: [], condition: .none, ttl: 0)).encoded()
        #expect(throws: CoordinationCodecError.self) { try CoordinationCommand.decode(tooLong) }
        let bigTTL = CoordinationCommand(.put(store: "s", key: "k", value: [], condition: .none, ttl: CoordinationLimits.maxTTL + 1)).encoded()
        #expect(throws: CoordinationCodecError.outOfRange(field: "ttl")) { try CoordinationCommand.decode(bigTTL) }
        let longWait = CoordinationCommand(.acquireLock(name: "l", holder: pid("n"), wait: CoordinationLimits.maxLockWait + 1, lockDelay: 0)).encoded()
        #expect(throws: CoordinationCodecError.outOfRange(field: "wait")) { try CoordinationCommand.decode(longWait) }
        #expect(throws: CoordinationCodecError.unknownKind(field: "format", value: 0x77)) { try CoordinationCommand.decode([0x77]) }
        #expect(throws: CoordinationCodecError.unknownKind(field: "operation", value: 99)) {
            try CoordinationCommand.decode([CoordinationCommand.format, 0, 0, 0, 0, 0, 0, 0, 0, 99])
        }
        let longReservation = CoordinationCommand(.reserveName(name: "n", pid: pid("n"), timeout: CoordinationLimits.maxReservation + 1)).encoded()
        #expect(throws: CoordinationCodecError.outOfRange(field: "timeout")) { try CoordinationCommand.decode(longReservation) }
        for operation in Self.operations {
            let bytes = CoordinationCommand(operation).encoded()
            for length in 0..<bytes.count {
                #expect(throws: CoordinationCodecError.self) { try CoordinationCommand.decode(Array(bytes.prefix(length))) }
            }
            #expect(throws: CoordinationCodecError.self) { try CoordinationCommand.decode(bytes + [0]) }
        }
    }

    @Test("the earlier SystemStore commands (put, delete, read of the default store) still decode, so old logs replay")
    func earlierCommands() throws {
        // u8 kind | u32 key | (u32 value) | condition
        let put: [UInt8] = [1, 0, 0, 0, 1, 0x6B, 0, 0, 0, 2, 0xAA, 0xBB, 2, 0, 0, 0, 0, 0, 0, 0, 5]
        #expect(try CoordinationCommand.decode(put) == CoordinationCommand(.put(store: "default", key: "k", value: [0xAA, 0xBB], condition: .version(5), ttl: 0)))
        let delete: [UInt8] = [2, 0, 0, 0, 1, 0x6B, 1]
        #expect(try CoordinationCommand.decode(delete) == CoordinationCommand(.delete(store: "default", key: "k", condition: .absent)))
        let read: [UInt8] = [3, 0, 0, 0, 1, 0x6B]
        #expect(try CoordinationCommand.decode(read) == CoordinationCommand(.read(store: "default", key: "k")))
        var stamped = put
        CoordinationCommand.stamp(&stamped, time: 5)
        #expect(stamped == put, "an earlier command has no time to stamp")
    }

    @Test("a snapshot restores to the same state (same bytes again), including locks, waiters, delays, names and TTLs")
    func snapshotRoundTrip() throws {
        var replica = Replica()
        replica.apply(.put(store: "a", key: "x", value: [1], condition: .none, ttl: 0), at: 100)
        replica.apply(.put(store: "b", key: "y", value: [2], condition: .none, ttl: 9000), at: 100)
        replica.apply(.acquireLock(name: "l", holder: pid("n1"), wait: 0, lockDelay: 3000), at: 100)
        replica.apply(.acquireLock(name: "l", holder: pid("n2"), wait: 50_000, lockDelay: 0), at: 100)
        replica.apply(.acquireLock(name: "m", holder: pid("n1", 1, 2), wait: 0, lockDelay: 2000), at: 100)
        replica.apply(.releaseNode(NodeID("n1"), throughIncarnation: 1), at: 200)
        replica.apply(.registerName(name: "svc", pid: pid("n2")), at: 300)
        let bytes = replica.state.snapshot()
        let restored = try CoordinationState(snapshot: bytes)
        #expect(restored.snapshot() == bytes)
        #expect(restored.deadlines == replica.state.deadlines)
        #expect(restored.holdings == replica.state.holdings)
        #expect(restored.keyCounts == replica.state.keyCounts)
        #expect(restored.index == replica.state.index && restored.clock == 300)
    }

    @Test("a snapshot that is truncated anywhere, has bytes after its end, repeats or misorders entries, or claims more entries than fit, is refused")
    func hostileSnapshots() {
        var replica = Replica()
        for key in ["a", "b", "c"] { replica.apply(.put(store: "s", key: key, value: [7], condition: .none, ttl: 0), at: 0) }
        replica.apply(.registerName(name: "n", pid: pid("n1")), at: 0)
        let bytes = replica.state.snapshot()
        for length in 0..<bytes.count {
            #expect(throws: CoordinationCodecError.self) { try CoordinationState(snapshot: Array(bytes.prefix(length))) }
        }
        #expect(throws: CoordinationCodecError.self) { try CoordinationState(snapshot: bytes + [0]) }
        // Swap the first two keys' single letters: "b" before "a".
        var swapped = bytes
        let first = bytes.firstIndex(of: UInt8(ascii: "a"))!, second = bytes.firstIndex(of: UInt8(ascii: "b"))!
        swapped[first] = UInt8(ascii: "b")
        swapped[second] = UInt8(ascii: "a")
        #expect(throws: CoordinationCodecError.unordered(section: "keys", position: 1)) { try CoordinationState(snapshot: swapped) }
        var hostile = CoordinationState.snapshotMagic
        hostile += [UInt8](repeating: 0, count: 16) + [0xFF, 0xFF, 0xFF, 0xFF]
        #expect(throws: CoordinationCodecError.outOfRange(field: "keys")) { try CoordinationState(snapshot: hostile) }
    }

    @Test("the earlier SystemStore snapshot restores into the default store")
    func earlierSnapshot() throws {
        // u32 count | u32 key | u32 value | u64 version
        let bytes: [UInt8] = [0, 0, 0, 1, 0, 0, 0, 1, 0x6B, 0, 0, 0, 1, 0x56, 0, 0, 0, 0, 0, 0, 0, 9]
        let state = try CoordinationState(snapshot: bytes)
        #expect(state.value(store: "default", key: "k") == StoredValue(value: [0x56], version: 9, created: 9))
        #expect(state.count(store: "default") == 1)
    }
}

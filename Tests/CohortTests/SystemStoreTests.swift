@testable import Cohort
import CohortCore
import CohortTestKit
import RaftCore
import Testing

@Suite("SystemStore: the replicated key/value state machine")
struct SystemStoreTests {
    func command(_ index: LogIndex, _ command: SystemCommand) -> LogEntry {
        LogEntry(term: 1, index: index, payload: .command(command.encode()))
    }

    func apply(_ store: SystemStore, _ index: LogIndex, _ command: SystemCommand) -> SystemCommandResult? {
        SystemCommandResult.decode(store.apply(self.command(index, command)))
    }

    @Test("a put's version is its Raft index; conditions decide, and a failed one returns the current entry")
    func conditions() {
        let store = SystemStore()
        #expect(apply(store, 5, .put(key: "a", value: [1], condition: .absent)) == .applied(version: 5))
        #expect(store.get("a") == SystemStore.Entry(value: [1], version: 5))
        let current = SystemStore.Entry(value: [1], version: 5)
        #expect(apply(store, 6, .put(key: "a", value: [2], condition: .absent)) == .conflict(current: current))
        #expect(apply(store, 7, .put(key: "a", value: [2], condition: .version(4))) == .conflict(current: current))
        #expect(apply(store, 8, .put(key: "a", value: [2], condition: .version(5))) == .applied(version: 8))
        #expect(apply(store, 9, .put(key: "a", value: [3], condition: .none)) == .applied(version: 9))
        #expect(apply(store, 10, .delete(key: "a", condition: .version(8))) == .conflict(current: SystemStore.Entry(value: [3], version: 9)))
        #expect(apply(store, 11, .delete(key: "a", condition: .version(9))) == .applied(version: 11))
        #expect(store.get("a") == nil)
        #expect(apply(store, 12, .delete(key: "a", condition: .none)) == .notFound)
        #expect(apply(store, 13, .put(key: "b", value: [], condition: .version(1))) == .conflict(current: nil))
        // A read through the log answers the entry and changes nothing.
        _ = apply(store, 14, .put(key: "r", value: [5], condition: .none))
        #expect(apply(store, 15, .read(key: "r")) == .value(SystemStore.Entry(value: [5], version: 14)))
        #expect(apply(store, 16, .read(key: "missing")) == .value(nil))
        #expect(store.get("r") == SystemStore.Entry(value: [5], version: 14))
    }

    @Test("no-ops and configuration entries leave the store alone")
    func nonCommands() {
        let store = SystemStore()
        #expect(store.apply(LogEntry(term: 1, index: 1, payload: .noop)).isEmpty)
        #expect(store.apply(LogEntry(term: 1, index: 2, payload: .configuration(Configuration(voters: [NodeID("n1")])))).isEmpty)
        #expect(store.count == 0)
    }

    @Test("list filters by prefix, pages with after and limit, in key order")
    func list() {
        let store = SystemStore()
        for (index, key) in ["b/2", "a/1", "b/1", "b/3", "c"].enumerated() {
            _ = apply(store, LogIndex(index + 1), .put(key: key, value: Array(key.utf8), condition: .none))
        }
        #expect(store.list(prefix: "b/").map(\.key) == ["b/1", "b/2", "b/3"])
        #expect(store.list(prefix: "b/", after: "b/1", limit: 1).map(\.key) == ["b/2"])
        #expect(store.list().map(\.key) == ["a/1", "b/1", "b/2", "b/3", "c"])
    }

    @Test("a snapshot restores the same entries and versions on another replica")
    func snapshot() throws {
        let store = SystemStore()
        var rng = SplitMix64(seed: 7)
        for index in 1...200 {
            let key = "k\(Int.random(in: 0..<50, using: &rng))"
            let value = (0..<Int.random(in: 0..<40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let command: SystemCommand = Bool.random(using: &rng)
                ? .put(key: key, value: value, condition: .none) : .delete(key: key, condition: .none)
            _ = apply(store, LogIndex(index), command)
        }
        let other = SystemStore()
        _ = apply(other, 1, .put(key: "stale", value: [9], condition: .none))
        try other.restore(store.snapshot())
        #expect(other.list(limit: 10_000).map { $0.key } == store.list(limit: 10_000).map { $0.key })
        #expect(other.list(limit: 10_000).map(\.entry) == store.list(limit: 10_000).map(\.entry))
        #expect(other.get("stale") == nil)
    }

    @Test("commands and results round-trip")
    func roundTrip() {
        let commands: [SystemCommand] = [
            .put(key: "", value: [], condition: .none),
            .put(key: "é/ключ", value: Array(repeating: 0xFF, count: 300), condition: .absent),
            .put(key: "k", value: [1, 2], condition: .version(.max)),
            .delete(key: "k", condition: .version(3)),
            .delete(key: "k", condition: .none),
            .read(key: "k"),
        ]
        for command in commands { #expect(SystemCommand.decode(command.encode()) == command) }
        let results: [SystemCommandResult] = [
            .applied(version: 1), .conflict(current: nil), .conflict(current: SystemStore.Entry(value: [1], version: 2)),
            .notFound, .malformed, .value(nil), .value(SystemStore.Entry(value: [7], version: 9)),
        ]
        for result in results { #expect(SystemCommandResult.decode(result.encode()) == result) }
    }

    @Test("truncated, extended, oversized and random commands are refused the same way on every replica")
    func hostileCommands() {
        let valid = SystemCommand.put(key: "key", value: [1, 2, 3], condition: .version(9)).encode()
        for cut in 0..<valid.count {
            #expect(SystemCommand.decode(Array(valid.prefix(cut))) == nil, "cut at \(cut)")
        }
        #expect(SystemCommand.decode(valid + [0]) == nil, "trailing bytes")
        let tooLong = SystemCommand.put(key: String(repeating: "k", count: SystemCommand.maxKeyBytes + 1), value: [], condition: .none)
        #expect(SystemCommand.decode(tooLong.encode()) == nil)
        let huge = SystemCommand.put(key: "k", value: Array(repeating: 0, count: SystemCommand.maxValueBytes + 1), condition: .none)
        #expect(SystemCommand.decode(huge.encode()) == nil)
        // A length prefix claiming 4 GiB must not allocate it.
        #expect(SystemCommand.decode([1, 0xFF, 0xFF, 0xFF, 0xFF, 0x41]) == nil)

        let store = SystemStore()
        var rng = SplitMix64(seed: 42)
        for index in 1...5_000 {
            let bytes = (0..<Int.random(in: 0..<64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let result = store.apply(LogEntry(term: 1, index: LogIndex(index), payload: .command(bytes)))
            if SystemCommand.decode(bytes) == nil {
                #expect(SystemCommandResult.decode(result) == .malformed)
            }
        }
    }

    @Test("a snapshot that is not exactly one fails loudly and changes nothing: cut, extended, reordered, not UTF-8, hostile counts")
    func badSnapshotsFail() throws {
        let store = SystemStore()
        for (index, key) in ["a", "b", "c"].enumerated() {
            _ = apply(store, LogIndex(index + 1), .put(key: key, value: [UInt8(index)], condition: .none))
        }
        let good = store.snapshot()
        let target = SystemStore()
        _ = apply(target, 1, .put(key: "kept", value: [1], condition: .none))
        for cut in 0..<good.count {
            #expect(throws: SystemStoreSnapshotError.self, "cut at \(cut)") { try target.restore(Array(good.prefix(cut))) }
        }
        #expect(throws: SystemStoreSnapshotError.trailingBytes(1)) { try target.restore(good + [0]) }
        // A count of 2³²−1 with six bytes behind it: refused before reserving for it.
        #expect(throws: SystemStoreSnapshotError.truncated(entry: 0)) { try target.restore([0xFF, 0xFF, 0xFF, 0xFF, 0, 0]) }
        let swapped = SystemStore()
        var unordered = [UInt8]([0, 0, 0, 2])
        for key in ["b", "a"] { unordered += [0, 0, 0, 1] + Array(key.utf8) + [0, 0, 0, 0] + [0, 0, 0, 0, 0, 0, 0, 1] }
        #expect(throws: SystemStoreSnapshotError.unordered(entry: 1)) { try swapped.restore(unordered) }
        let notUTF8: [UInt8] = [0, 0, 0, 1, 0, 0, 0, 1, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
        #expect(throws: SystemStoreSnapshotError.invalidKey(entry: 0)) { try swapped.restore(notUTF8) }
        #expect(target.list().map(\.key) == ["kept"], "a failed restore leaves the state as it was")
        try target.restore(good)
        #expect(target.list().map(\.key) == ["a", "b", "c"])
    }

    @Test("keys are compared as bytes: canonically equivalent but different spellings are different keys")
    func keysCompareAsBytes() {
        let store = SystemStore()
        let precomposed = "caf\u{E9}", decomposed = "cafe\u{301}"
        #expect(precomposed == decomposed, "Swift calls them equal")
        _ = apply(store, 1, .put(key: precomposed, value: [1], condition: .none))
        #expect(store.get(decomposed) == nil)
        let second = apply(store, 2, .put(key: decomposed, value: [2], condition: .absent))
        #expect(second == .applied(version: 2), "set-if-absent of the other spelling is a different key")
        #expect(store.get(precomposed)?.value == [1] && store.get(decomposed)?.value == [2])
        #expect(store.count == 2)
        #expect(store.list(prefix: "cafe").map(\.key) == [decomposed], "prefixes are byte prefixes")
    }
}

import CohortCore
import Synchronization
import Testing
@testable import RaftCore

/// Entries read back from "storage" (here: a copy of what the leader persisted), counting the reads, and
/// optionally failing or handing back wrong terms.
final class RecordedReader: LogEntryReader {
    enum Fault: Sendable { case none, unreadable, wrongTerms }
    private let stored: [LogIndex: LogEntry]
    private let fault: Fault
    private let reads = Mutex(0)

    init(_ entries: [LogEntry], fault: Fault = .none) {
        stored = Dictionary(uniqueKeysWithValues: entries.map { ($0.index, $0) })
        self.fault = fault
    }

    var readCount: Int { reads.withLock { $0 } }

    func entries(from start: LogIndex, through end: LogIndex, maxCount: Int, maxBytes: Int) -> [LogEntry]? {
        reads.withLock { $0 += 1 }
        guard fault != .unreadable else { return nil }
        var result: [LogEntry] = []
        var index = start
        // At most 7 per read: the core must carry on from where a short read stopped.
        while index <= end, result.count < min(maxCount, 7), var entry = stored[index] {
            if fault == .wrongTerms { entry.term += 1 }
            result.append(entry)
            index += 1
        }
        return result.isEmpty ? nil : result
    }
}

@Suite("Raft log: entries beyond the memory budget live in storage only")
struct LogEvictionTests {
    static let value = String(repeating: "x", count: 80)

    /// A leader `a` that wrote 200 commands while `c` was cut off, with the log's memory bounded to about
    /// 2 KB through `reader` built from what `a` persisted.
    static func leaderAheadOfC(fault: RecordedReader.Fault = .none, compactBehind: Bool = false) throws -> (TestCluster, RecordedReader, lagging: LogIndex, persisted: [LogEntry]) {
        var cluster = TestCluster(voters: ["a", "b", "c"])
        cluster.elect("a")
        cluster.isolate("c")
        let lagging = cluster["c"].lastIndex
        for index in 0..<200 { try cluster.propose("a", "\(index)-\(value)") }
        if compactBehind {
            let applied = cluster["a"].appliedIndex
            cluster["a"].compact(through: applied, keepingTrailing: applied)
        }
        let persisted = cluster.entries("a")
        let reader = RecordedReader(persisted, fault: fault)
        cluster["a"].keepEntries(inMemoryBytes: 2_000, reader: reader)
        return (cluster, reader, lagging, persisted)
    }

    @Test("applied, durable entries leave memory beyond the budget; their terms stay, and more writes keep it bounded")
    func evictsAppliedEntries() throws {
        var (cluster, _, lagging, persisted) = try Self.leaderAheadOfC()
        let log = cluster["a"].log
        #expect(log.memoryBytes <= 2_000)
        #expect(log.memoryFirst > lagging + 100, "most of the 200 entries left memory")
        #expect(log.firstIndex == 1, "nothing was compacted: the log still spans every entry")
        for index in log.firstIndex..<log.memoryFirst {
            #expect(log.term(at: index) == persisted.first { $0.index == index }?.term)
        }
        for index in 200..<400 { try cluster.propose("a", "\(index)-\(Self.value)") }
        #expect(cluster["a"].log.memoryBytes <= 4_000, "twice the budget at most between evictions")
        #expect(cluster["b"].log.memoryFirst == cluster["b"].log.firstIndex, "a core without a reader keeps everything")
    }

    @Test("a follower behind the entries in memory catches up by entries read back from storage, not a snapshot")
    func laggingFollowerReadsFromStorage() throws {
        var (cluster, reader, lagging, _) = try Self.leaderAheadOfC()
        let fromStorage = Int(cluster["a"].log.memoryFirst - (lagging + 1))
        #expect(fromStorage > 150)
        cluster.heal()
        cluster.tick(times: 3)
        cluster.stabilize()
        #expect(reader.readCount >= (fromStorage + 6) / 7, "every evicted entry came from storage, 7 at most per read")
        #expect(cluster.installedSnapshots[NodeID("c")] == nil)
        #expect(cluster["c"].lastIndex == cluster["a"].lastIndex)
        #expect(cluster.appliedCommands("c") == (0..<200).map { "\($0)-\(Self.value)" })
    }

    @Test("entries storage cannot give back, or gives back with other terms, are sent as the newest snapshot")
    func unreadableEntriesFallBackToTheSnapshot() throws {
        for fault in [RecordedReader.Fault.unreadable, .wrongTerms] {
            var (cluster, reader, _, _) = try Self.leaderAheadOfC(fault: fault, compactBehind: true)
            let snapshot = cluster["a"].log.latestSnapshot
            #expect(cluster["a"].log.memoryFirst > cluster["a"].log.firstIndex + 100)
            cluster.heal()
            cluster.tick(times: 3)
            cluster.stabilize()
            #expect(reader.readCount > 0, "\(fault)")
            #expect(cluster.installedSnapshots[NodeID("c")] == [snapshot], "\(fault)")
            #expect(cluster["c"].lastIndex == cluster["a"].lastIndex, "\(fault)")
        }
    }
}

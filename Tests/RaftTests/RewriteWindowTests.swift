import CohortCore
import CohortTestKit
@testable import RaftCore
@testable import RaftPersistence
import Testing

/// The window in which an acknowledged entry could be cut and written again: a follower writes a ``Ready``
/// (entries 5–7 of term 2) while a new leader's append (previous (2,5), entries [(3,6)]) arrives and
/// replaces 6 and 7. Entry 5 was durable and acknowledged all the same; it must count as stable, must not
/// be handed out again, and the storage must never cut it — a crash between the cut and the rewrite would
/// lose an entry that may have been committed with this follower's acknowledgement.
@Suite("Raft: acknowledged entries are never rewritten")
struct RewriteWindowTests {
    static let ids = ["a", "b", "d", "e", "f"].map(NodeID.init)
    static let configuration = Configuration(voters: ids)

    static func entry(_ index: LogIndex, term: Term) -> LogEntry {
        index == 1
            ? LogEntry(term: 1, index: 1, payload: .configuration(configuration))
            : LogEntry(term: term, index: index, payload: .command(Array("\(index)@\(term)".utf8)))
    }

    /// What every voter holds before the schedule: entries 1–4 of term 1, committed, in term 2.
    static let common = LogStorage(hardState: HardState(term: 2, vote: nil, commit: 4), entries: (1...4).map { entry($0, term: 1) }, applied: 4)

    static func append(from leader: String, term: Term, previous: LogPosition, _ entries: [LogEntry], commit: LogIndex) -> Message {
        Message(from: NodeID(leader), to: NodeID("f"), term: term, kind: .append(AppendRequest(previous: previous, entries: entries, commit: commit)))
    }

    /// a, leader of term 2, sends entries 5–7 to f in one append (with commit 5 in the variant where the
    /// write carries it); b, leader of term 3, holds (2,5) and its own no-op (3,6).
    static func fromOldLeader(_ commit: LogIndex) -> Message {
        append(from: "a", term: 2, previous: LogPosition(term: 1, index: 4), [entry(5, term: 2), entry(6, term: 2), entry(7, term: 2)], commit: commit)
    }
    static let fromNewLeader = append(from: "b", term: 3, previous: LogPosition(term: 2, index: 5), [entry(6, term: 3)], commit: 5)

    @Test("after advance, the stable index covers the durable prefix that still matches, and the next ready starts after it")
    func stableIndexKeepsTheMatchingPrefix() {
        var f = RaftNode(id: NodeID("f"), settings: RaftNodeSettings(), storage: Self.common)
        f.step(Self.fromOldLeader(4))
        let first = f.ready()
        #expect(first.entries.map(\.index) == [5, 6, 7])
        // The new leader's append arrives while the first ready is being written.
        f.step(Self.fromNewLeader)
        f.advance()
        #expect(f.log.stableIndex == 5, "entry 5 was written by the first ready and still matches")
        let second = f.ready()
        #expect(second.entries.map(\.position) == [LogPosition(term: 3, index: 6)], "only the replaced suffix is written again")
        f.advance()
        #expect(f.log.stableIndex == 6)
        #expect(f.compactableIndex == f.appliedIndex, "everything applied is durable: a snapshot may cover it")
    }

    /// The whole schedule with f's writes going through ``FileRaftStorage`` on a disk that crashes at the
    /// `crashAt`-th file operation of f's second write (then loses what was not synced). Returns what f
    /// acknowledged and what a restart of f finds.
    static func runSchedule(oldLeaderCommit: LogIndex, crashAt: Int, seed: UInt64) throws -> (acknowledged: LogIndex?, loaded: Result<LogStorage, RaftStorageError>) {
        let disk = CrashingFileSystem()
        var storage = FileRaftStorage(directory: "/data/f/raft", fileSystem: disk, segmentBytes: 256)
        _ = try storage.load()
        try storage.persist(snapshot: nil, entries: common.entries, hardState: common.hardState)
        var f = RaftNode(id: NodeID("f"), settings: RaftNodeSettings(), storage: try storage.load())

        f.step(fromOldLeader(oldLeaderCommit))
        let first = f.ready()
        f.step(fromNewLeader)  // during the first write
        try storage.persist(snapshot: nil, entries: first.entries, hardState: first.hardState)
        // The write is durable: its acknowledgement to a leaves.
        var acknowledged: LogIndex?
        for outgoing in first.messages where outgoing.afterPersist {
            if case .appendResponse(let response) = outgoing.message.kind, response.accepted, outgoing.message.to == NodeID("a") {
                acknowledged = response.index
            }
        }
        f.advance()

        let second = f.ready()
        disk.crash(afterOperations: crashAt)
        _ = try? storage.persist(snapshot: nil, entries: second.entries, hardState: second.hardState)
        var generator = SplitMix64(seed: seed)
        disk.powerLoss(using: &generator)
        storage = FileRaftStorage(directory: "/data/f/raft", fileSystem: disk, segmentBytes: 256)
        return (acknowledged, Result { () throws(RaftStorageError) in try storage.load() })
    }

    @Test("a crash at any point of the next write keeps every entry the follower acknowledged", arguments: [LogIndex(4), 5])
    func crashKeepsAcknowledgedEntries(oldLeaderCommit: LogIndex) throws {
        for crashAt in 0..<12 {
            for seed: UInt64 in 1...8 {
                let (acknowledged, loaded) = try Self.runSchedule(oldLeaderCommit: oldLeaderCommit, crashAt: crashAt, seed: seed)
                #expect(acknowledged == 7, "f acknowledged 5–7 to a once they were durable")
                // With commit 5 in the first write, losing entry 5 made the node refuse to start ("the log
                // ends at 4 but 5 is committed"); without it, the node started having lost an entry it
                // acknowledged.
                let state = try #require(try? loaded.get(), "f must start after a crash at operation \(crashAt): \(loaded)")
                let five = state.entries.first { $0.index == 5 }
                #expect(five == Self.entry(5, term: 2), "crash at operation \(crashAt), seed \(seed): entry 5 lost; f holds \(state.entries.map(\.position))")
            }
        }
    }

    @Test("a snapshot taken right after the replaced write covers only durable entries")
    func compactionAfterReplacedWrite() throws {
        // Commit 5 arrives with the first write, so 5 is applied when it completes.
        var f = RaftNode(id: NodeID("f"), settings: RaftNodeSettings(), storage: Self.common)
        f.step(Self.fromOldLeader(5))
        let first = f.ready()
        f.step(Self.fromNewLeader)
        #expect(first.committedEntries.map(\.index) == [5])
        f.advance()
        #expect(f.appliedIndex == 5)
        // A shell snapshots at its applied index; that index must be durable in the log, or compaction
        // would trap (and the snapshot would cover an entry the next write could cut).
        #expect(f.compactableIndex == 5)
        f.compact(through: f.compactableIndex)
        #expect(f.log.snapshot.position == LogPosition(term: 2, index: 5))
        let second = f.ready()
        #expect(second.entries.map(\.index) == [6])
    }
}

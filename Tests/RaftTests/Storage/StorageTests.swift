import CohortCore
@testable import RaftCore
@testable import RaftPersistence
import Testing

/// Tests of Raft's durable storage (`swift test --filter ConsensusTests.StorageTests`).
@Suite("Raft storage")
enum StorageTests {}

/// Entries, snapshots and hard states for storage tests.
enum StorageFixtures {
    static let configuration = Configuration(voters: ["a", "b", "c"].map(NodeID.init))

    static func entries(_ indexes: ClosedRange<LogIndex>, term: Term, bytes: Int = 8) -> [LogEntry] {
        indexes.map { index in
            let payload: LogEntry.Payload = index == 1
                ? .configuration(configuration)
                : .command((0..<bytes).map { UInt8(truncatingIfNeeded: Int(index) &* 31 &+ $0) })
            return LogEntry(term: term, index: index, payload: payload)
        }
    }

    static func snapshot(index: LogIndex, term: Term, size: Int = 64) -> StoredSnapshot {
        StoredSnapshot(
            metadata: SnapshotMetadata(index: index, term: term, configuration: configuration),
            data: (0..<size).map { UInt8(truncatingIfNeeded: Int(index) &+ $0) }
        )
    }

    /// The contract every ``RaftStorage`` keeps, checked through `reopen` (which gives the same storage or
    /// a fresh one over the same files, so durability is checked too).
    static func checkContract(_ reopen: () -> any RaftStorage) throws {
        #expect(try reopen().load() == .empty)

        let hardState = HardState(term: 1, vote: NodeID("a"), commit: 2)
        try reopen().persist(snapshot: nil, entries: entries(1...5, term: 1), hardState: hardState)
        var loaded = try reopen().load()
        #expect(loaded.hardState == hardState)
        #expect(loaded.entries == entries(1...5, term: 1))
        #expect(loaded.snapshot == .empty && loaded.applied == 0)

        // A conflicting suffix replaces the stored entries from its first index on.
        try reopen().persist(snapshot: nil, entries: entries(3...4, term: 2), hardState: HardState(term: 2, commit: 2))
        loaded = try reopen().load()
        #expect(loaded.entries == entries(1...2, term: 1) + entries(3...4, term: 2))
        #expect(loaded.hardState == HardState(term: 2, commit: 2))

        #expect(throws: RaftStorageError.gap(expected: 5, got: 7)) {
            try reopen().persist(snapshot: nil, entries: entries(7...8, term: 2), hardState: nil)
        }

        // The application's snapshot through 3 drops the entries it covers.
        let taken = snapshot(index: 3, term: 2)
        try reopen().saveSnapshot(taken)
        loaded = try reopen().load()
        #expect(loaded.snapshot == taken.metadata && loaded.applied == 3)
        #expect(loaded.entries == entries(4...4, term: 2))
        #expect(try reopen().latestSnapshot() == taken)

        // Entries the snapshot covers are skipped, the rest appended.
        try reopen().persist(snapshot: nil, entries: entries(3...6, term: 2), hardState: nil)
        #expect(try reopen().load().entries == entries(4...6, term: 2))

        // A leader's snapshot replaces the whole log.
        let installed = snapshot(index: 10, term: 3)
        try reopen().persist(snapshot: installed, entries: entries(11...12, term: 3), hardState: HardState(term: 3, commit: 10))
        loaded = try reopen().load()
        #expect(loaded.snapshot == installed.metadata && loaded.applied == 10)
        #expect(loaded.entries == entries(11...12, term: 3))
        #expect(loaded.hardState == HardState(term: 3, commit: 10))
        #expect(try reopen().latestSnapshot() == installed)
    }
}

extension StorageTests {
    @Suite("MemoryRaftStorage")
    struct MemoryTests {
        @Test("memory storage keeps the storage contract")
        func contract() throws {
            let storage = MemoryRaftStorage()
            try StorageFixtures.checkContract { storage }
        }

        @Test("memory storage keeps the newest two snapshots")
        func keepsTwoSnapshots() throws {
            let storage = MemoryRaftStorage()
            try storage.persist(snapshot: nil, entries: StorageFixtures.entries(1...9, term: 1), hardState: nil)
            for index: LogIndex in [3, 5, 7] { try storage.saveSnapshot(StorageFixtures.snapshot(index: index, term: 1)) }
            try storage.saveSnapshot(StorageFixtures.snapshot(index: 6, term: 1))
            #expect(try storage.latestSnapshot() == StorageFixtures.snapshot(index: 7, term: 1))
            #expect(try storage.load().entries == StorageFixtures.entries(8...9, term: 1))
        }
    }
}

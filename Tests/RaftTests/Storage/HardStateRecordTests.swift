import CohortCore
import CohortTestKit
@testable import RaftCore
@testable import RaftPersistence
import Testing

extension StorageTests.FileTests {
    @Test("the newest hard state survives a compaction that removes every segment")
    func hardStateSurvivesFullCompaction() throws {
        let hardState = HardState(term: 2, vote: NodeID("b"), commit: 5)
        try storage().persist(snapshot: nil, entries: StorageFixtures.entries(1...5, term: 1), hardState: hardState)
        try storage().saveSnapshot(StorageFixtures.snapshot(index: 5, term: 1))
        #expect(segmentNames.isEmpty)
        #expect(disk.names(in: directory).contains("hardstate"), "checkpointed before the last segment went")
        #expect(try storage().load().hardState == hardState)

        try storage().persist(snapshot: nil, entries: StorageFixtures.entries(6...6, term: 2), hardState: nil)
        let loaded = try storage().load()
        #expect(loaded.hardState == hardState)
        #expect(loaded.entries == StorageFixtures.entries(6...6, term: 2))
    }

    @Test("a blank replica's mark is durable in hard-state records and in the hardstate file, and clears")
    func blankMarkIsDurable() throws {
        let blank = HardState(term: 3, vote: nil, commit: 0, blank: true)
        try storage().persist(snapshot: nil, entries: [], hardState: blank)
        #expect(try storage().load().hardState == blank)
        try storage().persist(snapshot: nil, entries: StorageFixtures.entries(1...4, term: 3), hardState: HardState(term: 3, commit: 4, blank: true))
        try storage().saveSnapshot(StorageFixtures.snapshot(index: 4, term: 3))
        #expect(disk.names(in: directory).contains("hardstate"))
        #expect(try storage().load().hardState.blank, "kept in the checkpoint file")
        let admitted = HardState(term: 3, vote: nil, commit: 4)
        try storage().persist(snapshot: nil, entries: [], hardState: admitted)
        #expect(try storage().load().hardState == admitted)
    }

    @Test("every new segment starts with the hard state, so compacting the older ones keeps it")
    func newSegmentsRepeatTheHardState() throws {
        let storage = storage(segmentBytes: 256)
        let hardState = HardState(term: 2, vote: NodeID("b"), commit: 3)
        try storage.persist(snapshot: nil, entries: StorageFixtures.entries(1...3, term: 1, bytes: 40), hardState: hardState)
        try storage.persist(snapshot: nil, entries: StorageFixtures.entries(4...40, term: 2, bytes: 40), hardState: nil)
        try storage.persist(snapshot: nil, entries: [], hardState: HardState(term: 2, vote: NodeID("b"), commit: 40))
        try storage.saveSnapshot(StorageFixtures.snapshot(index: 30, term: 2))
        #expect(segmentNames.count > 1 && !disk.names(in: directory).contains("hardstate"))
        try disk.truncate(path(segmentNames.last!), to: disk.size(of: path(segmentNames.last!)) - 1)
        #expect(try self.storage(segmentBytes: 256).load().hardState == hardState, "the last record is torn: the one before it counts")
    }

    @Test("a suffix replacement that dies after cutting the newest hard-state record keeps term and vote")
    func suffixReplacementKeepsHardState() throws {
        let storage = storage()
        _ = try storage.load()
        try storage.persist(snapshot: nil, entries: StorageFixtures.entries(1...5, term: 1), hardState: HardState(term: 1, commit: 2))
        let voted = HardState(term: 2, vote: NodeID("b"), commit: 2)
        try storage.persist(snapshot: nil, entries: [], hardState: voted)
        // Checkpoint (write, fsync, rename, directory fsync), truncate, fsync: the process dies at the append.
        disk.crash(afterOperations: 6)
        #expect(throws: RaftStorageError.self) {
            try storage.persist(snapshot: nil, entries: StorageFixtures.entries(4...5, term: 2), hardState: HardState(term: 2, vote: NodeID("b"), commit: 3))
        }
        var generator = SplitMix64(seed: 7)
        disk.powerLoss(using: &generator)
        let loaded = try self.storage().load()
        #expect(loaded.hardState == voted)
        #expect(loaded.entries == StorageFixtures.entries(1...3, term: 1))
    }

    @Test("a commit index written without an fsync comes back lower after a power loss, never higher")
    func unsyncedCommitIsLostNotInvented() throws {
        let storage = storage()
        try storage.persist(snapshot: nil, entries: StorageFixtures.entries(1...5, term: 1), hardState: HardState(term: 1, commit: 2))
        let syncs = disk.fileSyncs
        try storage.persist(snapshot: nil, entries: [], hardState: HardState(term: 1, commit: 4))
        #expect(disk.fileSyncs == syncs)
        var commits: Set<LogIndex> = []
        for seed: UInt64 in 0..<40 {
            let copy = disk.copy()
            var generator = SplitMix64(seed: seed)
            copy.powerLoss(using: &generator)
            let loaded = try FileRaftStorage(directory: directory, fileSystem: copy).load()
            #expect(loaded.entries == StorageFixtures.entries(1...5, term: 1))
            commits.insert(loaded.hardState.commit)
        }
        #expect(commits.isSubset(of: [2, 4]) && commits.contains(2), "the earlier commit index or the unsynced one: \(commits)")
        #expect(try self.storage().load().hardState.commit == 4, "written, so a restart without power loss sees it")
    }

    @Test("a version-1 directory is read and its log continues in a version-2 segment")
    func legacyDirectory() throws {
        let hardState = HardState(term: 3, vote: NodeID("a"), commit: 4)
        try disk.write(LegacyFormat.hardState(hardState), to: path("hardstate"))
        try disk.write(LegacyFormat.segment(StorageFixtures.entries(1...5, term: 1), previousTerm: 0), to: path("log-00000000000000000001.seg"))
        // A last segment holding only its header, as a suffix replacement back to its first index leaves it.
        try disk.write(LegacyFormat.segment([], firstIndex: 6, previousTerm: 1), to: path("log-00000000000000000006.seg"))
        var loaded = try storage().load()
        #expect(loaded.hardState == hardState)
        #expect(loaded.entries == StorageFixtures.entries(1...5, term: 1))

        let next = HardState(term: 3, vote: NodeID("a"), commit: 6)
        try storage().persist(snapshot: nil, entries: StorageFixtures.entries(6...7, term: 3), hardState: next)
        loaded = try storage().load()
        #expect(loaded.hardState == next)
        #expect(loaded.entries == StorageFixtures.entries(1...5, term: 1) + StorageFixtures.entries(6...7, term: 3))
        let segment = try disk.read(path("log-00000000000000000006.seg"))
        #expect(StorageFormat.decodeSegmentHeader(segment)?.version == StorageFormat.version)

        try storage().persist(snapshot: nil, entries: StorageFixtures.entries(8...8, term: 3), hardState: nil)
        #expect(try storage().load().entries.count == 8)
    }

    @Test("a version-1 segment is sealed, not appended to")
    func legacySegmentIsSealed() throws {
        try disk.write(LegacyFormat.segment(StorageFixtures.entries(1...5, term: 1), previousTerm: 0), to: path("log-00000000000000000001.seg"))
        let legacy = try disk.read(path("log-00000000000000000001.seg"))
        try storage().persist(snapshot: nil, entries: [], hardState: HardState(term: 1, commit: 5))
        #expect(try disk.read(path("log-00000000000000000001.seg")) == legacy)
        #expect(segmentNames == ["log-00000000000000000001.seg", "log-00000000000000000006.seg"])
        let loaded = try storage().load()
        #expect(loaded.hardState == HardState(term: 1, commit: 5))
        #expect(loaded.entries == StorageFixtures.entries(1...5, term: 1))
    }

    @Test("a version-2 segment (no write markers) is read, sealed, and the log continues in a version-3 segment")
    func unmarkedSegmentIsSealed() throws {
        // As the previous release wrote it: a version-2 header, then entry and hard-state records.
        var bytes = StorageFormat.segmentHeader(firstIndex: 1, previousTerm: 0, version: StorageFormat.unmarkedVersion)
        bytes += StorageFormat.record(StoredHardState(hardState: HardState(term: 1, commit: 0), sequence: 1))
        for entry in StorageFixtures.entries(1...5, term: 1) { bytes += StorageFormat.record(entry) }
        bytes += StorageFormat.record(StoredHardState(hardState: HardState(term: 1, commit: 5), sequence: 2))
        try disk.write(bytes, to: path("log-00000000000000000001.seg"))
        var loaded = try storage().load()
        #expect(loaded.hardState == HardState(term: 1, commit: 5))
        #expect(loaded.entries == StorageFixtures.entries(1...5, term: 1))
        try storage().persist(snapshot: nil, entries: StorageFixtures.entries(6...6, term: 1), hardState: nil)
        #expect(try disk.read(path("log-00000000000000000001.seg")) == bytes, "never appended to")
        #expect(StorageFormat.decodeSegmentHeader(try disk.read(path("log-00000000000000000006.seg")))?.version == StorageFormat.version)
        loaded = try storage().load()
        #expect(loaded.entries == StorageFixtures.entries(1...6, term: 1))
        // Sealed now: any bad record in it is corruption.
        disk.flipBit(in: path("log-00000000000000000001.seg"), byte: StorageFormat.segmentHeaderBytes + 80)
        #expect(throws: RaftStorageError.self) { try self.storage().load() }
    }
}

/// Files as version 1 of the format wrote them: a hard state file without a sequence number, and
/// segments whose records are bare entries.
enum LegacyFormat {
    static func hardState(_ hardState: HardState) -> [UInt8] {
        var writer = ByteWriter()
        writer.bytes(StorageFormat.hardStateMagic)
        writer.u8(StorageFormat.legacyVersion)
        writer.u64(hardState.term)
        writer.u64(hardState.commit)
        writer.flag(hardState.vote != nil)
        if let vote = hardState.vote { writer.nodeID(vote) }
        writer.u32(CRC32C.checksum(writer.buffer))
        return writer.buffer
    }

    static func segment(_ entries: [LogEntry], firstIndex: LogIndex? = nil, previousTerm: Term) -> [UInt8] {
        var header = ByteWriter()
        header.bytes(StorageFormat.segmentMagic)
        header.u8(StorageFormat.legacyVersion)
        header.u64(firstIndex ?? entries[0].index)
        header.u64(previousTerm)
        header.u32(CRC32C.checksum(header.buffer))
        var bytes = header.buffer
        for entry in entries {
            var payload = ByteWriter()
            payload.entry(entry)
            var record = ByteWriter()
            record.u32(UInt32(payload.buffer.count))
            record.u32(CRC32C.checksum(payload.buffer, seed: CRC32C.checksum(record.buffer)))
            record.bytes(payload.buffer)
            bytes += record.buffer
        }
        return bytes
    }
}

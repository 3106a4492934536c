import CohortCore
import CohortTestKit
@testable import RaftCore
@testable import RaftPersistence
import Testing

extension StorageTests {
    @Suite("FileRaftStorage on a simulated disk")
    struct FileTests {
        let directory = "/data/_sys/raft"
        let disk = CrashingFileSystem()

        func storage(segmentBytes: Int = FileRaftStorage.defaultSegmentBytes) -> FileRaftStorage {
            FileRaftStorage(directory: directory, fileSystem: disk, segmentBytes: segmentBytes)
        }

        func path(_ name: String) -> String { directory + "/" + name }
        var segmentNames: [String] { disk.names(in: directory).filter { $0.hasSuffix(".seg") } }
        var snapshotNames: [String] { disk.names(in: directory).filter { $0.hasSuffix(".snap") } }

        @Test("file storage keeps the storage contract across reopenings")
        func contract() throws {
            try StorageFixtures.checkContract { storage() }
            #expect(disk.names(in: directory).allSatisfy { !$0.hasSuffix(".tmp") })
        }

        @Test("segments roll over at 8 MiB by default")
        func defaults() {
            #expect(FileRaftStorage.defaultSegmentBytes == 8 << 20)
        }

        @Test("a temporary file left by an interrupted write is removed and the old hard state kept")
        func leftoverTemporaryFile() throws {
            try storage().persist(snapshot: nil, entries: StorageFixtures.entries(1...2, term: 1), hardState: HardState(term: 1, commit: 1))
            try disk.write([1, 2, 3], to: path("hardstate.tmp"))
            let loaded = try storage().load()
            #expect(loaded.hardState == HardState(term: 1, commit: 1))
            #expect(!disk.names(in: directory).contains("hardstate.tmp"))
        }

        @Test("a persist call with entries costs one fsync, hard state included; a commit-only one none")
        func oneSyncPerCall() throws {
            let storage = storage()
            _ = try storage.load()
            try storage.persist(snapshot: nil, entries: StorageFixtures.entries(1...1, term: 1), hardState: nil)
            var syncs = (file: disk.fileSyncs, directory: disk.directorySyncs)
            func syncsSince() -> (file: Int, directory: Int) {
                defer { syncs = (disk.fileSyncs, disk.directorySyncs) }
                return (disk.fileSyncs - syncs.file, disk.directorySyncs - syncs.directory)
            }
            try storage.persist(snapshot: nil, entries: StorageFixtures.entries(2...50, term: 1), hardState: nil)
            #expect(syncsSince() == (1, 0))
            try storage.persist(snapshot: nil, entries: StorageFixtures.entries(51...60, term: 1), hardState: HardState(term: 1, commit: 50))
            #expect(syncsSince() == (1, 0), "entries and hard state share the segment's fsync")
            try storage.persist(snapshot: nil, entries: [], hardState: HardState(term: 1, commit: 55))
            #expect(syncsSince() == (0, 0), "only the commit index moved")
            try storage.persist(snapshot: nil, entries: [], hardState: HardState(term: 2, vote: NodeID("b"), commit: 55))
            #expect(syncsSince() == (1, 0), "a new term and vote are durable before the call returns")
            #expect(!disk.names(in: directory).contains("hardstate"))
            #expect(try self.storage().load().hardState == HardState(term: 2, vote: NodeID("b"), commit: 55))
        }

        @Test("a commit index alone is written on the caller's thread when quick: one write, no fsync; anything more is refused")
        func quickCommit() throws {
            let storage = storage()
            #expect(try !storage.persistCommitIfQuick(HardState(term: 1, commit: 1)), "before the first load nothing is quick")
            _ = try storage.load()
            #expect(try !storage.persistCommitIfQuick(HardState(term: 1, commit: 1)), "no segment yet: writing would create one")
            try storage.persist(snapshot: nil, entries: StorageFixtures.entries(1...10, term: 1), hardState: HardState(term: 1, commit: 2))
            let syncs = (disk.fileSyncs, disk.directorySyncs)
            #expect(try storage.persistCommitIfQuick(HardState(term: 1, commit: 7)))
            #expect((disk.fileSyncs, disk.directorySyncs) == syncs, "no fsync")
            #expect(try !storage.persistCommitIfQuick(HardState(term: 2, commit: 7)), "a new term must be durable: refused")
            #expect(try !storage.persistCommitIfQuick(HardState(term: 1, vote: NodeID("b"), commit: 8)), "a vote must be durable: refused")
            #expect(try !storage.persistCommitIfQuick(HardState(term: 1, commit: 7)), "nothing moved: nothing to write")
            #expect(try self.storage().load().hardState == HardState(term: 1, commit: 7))
        }

        @Test("the log rolls over to new segments and a conflict removes the later ones")
        func segmentRollover() throws {
            let storage = storage(segmentBytes: 256)
            try storage.persist(snapshot: nil, entries: StorageFixtures.entries(1...40, term: 1, bytes: 40), hardState: nil)
            #expect(segmentNames.count > 5)
            #expect(segmentNames.first == "log-00000000000000000001.seg")
            #expect(try self.storage().load().entries == StorageFixtures.entries(1...40, term: 1, bytes: 40))

            try storage.persist(snapshot: nil, entries: StorageFixtures.entries(12...14, term: 2), hardState: nil)
            let expected = StorageFixtures.entries(1...11, term: 1, bytes: 40) + StorageFixtures.entries(12...14, term: 2)
            #expect(try self.storage(segmentBytes: 256).load().entries == expected)
            let firstIndexes = segmentNames.compactMap(RaftDirectory.firstIndex(fromSegmentName:))
            #expect(firstIndexes.allSatisfy { $0 <= 14 }, "segments after the conflict are gone")
        }

        @Test("the newest two snapshots are kept and covered segments are dropped")
        func snapshotRetentionAndCompaction() throws {
            let storage = storage(segmentBytes: 256)
            try storage.persist(snapshot: nil, entries: StorageFixtures.entries(1...40, term: 1, bytes: 40), hardState: nil)
            let segmentsBefore = segmentNames.count
            for index: LogIndex in [10, 20, 30] { try storage.saveSnapshot(StorageFixtures.snapshot(index: index, term: 1)) }
            #expect(snapshotNames == ["snap-00000000000000000001-00000000000000000020.snap", "snap-00000000000000000001-00000000000000000030.snap"])
            #expect(segmentNames.count < segmentsBefore)
            let firstIndexes = segmentNames.compactMap(RaftDirectory.firstIndex(fromSegmentName:))
            #expect(firstIndexes.first! <= 31 && firstIndexes.first! > 20, "only the segment holding 30 and later remain")

            let loaded = try self.storage().load()
            #expect(loaded.snapshot == StorageFixtures.snapshot(index: 30, term: 1).metadata)
            #expect(loaded.entries == StorageFixtures.entries(31...40, term: 1, bytes: 40))
            #expect(try self.storage().latestSnapshot() == StorageFixtures.snapshot(index: 30, term: 1))
        }

        @Test("a partial record at the tail is cut back to the last good record")
        func tornPartialRecord() throws {
            try storage().persist(snapshot: nil, entries: StorageFixtures.entries(1...5, term: 1), hardState: nil)
            let segment = path(segmentNames[0])
            let goodSize = disk.size(of: segment)
            try storage().persist(snapshot: nil, entries: StorageFixtures.entries(6...6, term: 1), hardState: nil)
            // The crash came before the fsync returned: no synced record, and entry 6's record cut short.
            try disk.truncate(segment, to: disk.size(of: segment) - StorageFormat.syncedRecord.count - 3)
            #expect(try storage().load().entries == StorageFixtures.entries(1...5, term: 1))
            #expect(disk.size(of: segment) == goodSize + StorageFormat.writeMarkerBytes, "the torn bytes are removed (the write's marker stays)")
            try storage().persist(snapshot: nil, entries: StorageFixtures.entries(6...7, term: 2), hardState: nil)
            #expect(try storage().load().entries == StorageFixtures.entries(1...5, term: 1) + StorageFixtures.entries(6...7, term: 2))
        }

        @Test("a bad checksum in the last record of a write whose fsync never returned is a torn write, not corruption")
        func tornLastRecord() throws {
            try storage().persist(snapshot: nil, entries: StorageFixtures.entries(1...5, term: 1), hardState: nil)
            let segment = path(segmentNames[0])
            try disk.truncate(segment, to: disk.size(of: segment) - StorageFormat.syncedRecord.count)
            disk.flipBit(in: segment, byte: disk.size(of: segment) - 2)
            #expect(try storage().load().entries == StorageFixtures.entries(1...4, term: 1))
        }

        @Test("a bad record in the last write is corruption once its fsync returned (the synced record follows it)")
        func rotInAcknowledgedLastWrite() throws {
            try storage().persist(snapshot: nil, entries: StorageFixtures.entries(1...5, term: 1), hardState: nil)
            let segment = path(segmentNames[0])
            disk.flipBit(in: segment, byte: disk.size(of: segment) - StorageFormat.syncedRecord.count - 2)
            try expectCorrupt(segment)
        }

        @Test("a stretch of a write lost while later pages of the same write arrived is a torn write, not corruption")
        func outOfOrderPagesOfOneWrite() throws {
            try storage().persist(snapshot: nil, entries: StorageFixtures.entries(1...3, term: 1), hardState: nil)
            let segment = path(segmentNames[0])
            let acknowledged = disk.size(of: segment)
            // One more write (entries 4–8 and a hard state) whose fsync never returned: the middle of it
            // never reached the disk, its end did.
            try storage().persist(snapshot: nil, entries: StorageFixtures.entries(4...8, term: 1, bytes: 200), hardState: HardState(term: 1, commit: 3))
            try disk.truncate(segment, to: disk.size(of: segment) - StorageFormat.syncedRecord.count)
            let hole = acknowledged + StorageFormat.writeMarkerBytes + 300
            try disk.overwrite(segment, at: hole, with: [UInt8](repeating: 0, count: 400))
            let loaded = try storage().load()
            #expect(loaded.entries == StorageFixtures.entries(1...3, term: 1) + StorageFixtures.entries(4...4, term: 1, bytes: 200))
        }

        @Test("the same lost stretch in a write that a later write follows is corruption")
        func lostStretchOfAcknowledgedWrite() throws {
            try storage().persist(snapshot: nil, entries: StorageFixtures.entries(1...3, term: 1), hardState: nil)
            let segment = path(segmentNames[0])
            let acknowledged = disk.size(of: segment)
            try storage().persist(snapshot: nil, entries: StorageFixtures.entries(4...8, term: 1, bytes: 200), hardState: HardState(term: 1, commit: 3))
            try storage().persist(snapshot: nil, entries: StorageFixtures.entries(9...9, term: 1), hardState: nil)
            try disk.overwrite(segment, at: acknowledged + StorageFormat.writeMarkerBytes + 300, with: [UInt8](repeating: 0, count: 400))
            try expectCorrupt(segment)
        }

        /// Loading fails with `.corrupt` naming `file`: corruption, not a torn tail to cut.
        func expectCorrupt(_ file: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            do {
                _ = try storage().load()
                Issue.record("load succeeded; expected corruption in \(file)", sourceLocation: sourceLocation)
            } catch {
                guard case .corrupt(let path, _) = error else {
                    Issue.record("expected corrupt, got \(error)", sourceLocation: sourceLocation)
                    return
                }
                #expect(path == file, sourceLocation: sourceLocation)
            }
        }

        @Test("a bad last entry record followed by its hard-state record is corruption, not a torn write")
        func corruptEntryBeforeHardState() throws {
            try storage().persist(snapshot: nil, entries: StorageFixtures.entries(1...5, term: 1), hardState: HardState(term: 1, commit: 5))
            let segment = path(segmentNames[0])
            let hardStateRecord = StorageFormat.record(StoredHardState(hardState: HardState(term: 1, commit: 5), sequence: 1))
            disk.flipBit(in: segment, byte: disk.size(of: segment) - StorageFormat.syncedRecord.count - hardStateRecord.count - 2)
            try expectCorrupt(segment)
        }

        @Test("a bad last record the checkpointed hard state calls committed is corruption, not a torn write")
        func corruptCommittedLastRecord() throws {
            try storage().persist(snapshot: nil, entries: StorageFixtures.entries(1...5, term: 1), hardState: nil)
            let segment = path(segmentNames[0])
            let end = disk.size(of: segment)
            try storage().persist(snapshot: nil, entries: [], hardState: HardState(term: 1, commit: 5))
            // As a checkpoint leaves it: the file holds the newest hard state, the log an older one.
            try disk.write(StorageFormat.encode(StoredHardState(hardState: HardState(term: 1, commit: 5), sequence: 1)), to: path("hardstate"))
            // The synced record of the write of 1–5 was lost too, so only the commit index says 5 was
            // acknowledged.
            try disk.truncate(segment, to: end - StorageFormat.syncedRecord.count)
            disk.flipBit(in: segment, byte: end - StorageFormat.syncedRecord.count - 2)
            #expect(throws: RaftStorageError.corrupt(path: directory, reason: "the log ends at 4 but 5 is committed")) { try storage().load() }
        }

        @Test("zeros after the last record are a torn write")
        func zeroTail() throws {
            try storage().persist(snapshot: nil, entries: StorageFixtures.entries(1...5, term: 1), hardState: nil)
            try disk.append([UInt8](repeating: 0, count: 100), to: path(segmentNames[0]))
            #expect(try storage().load().entries == StorageFixtures.entries(1...5, term: 1))
        }

        @Test("a bad checksum followed by good records is corruption")
        func corruptMiddleRecord() throws {
            try storage().persist(snapshot: nil, entries: StorageFixtures.entries(1...5, term: 1), hardState: nil)
            let segment = path(segmentNames[0])
            disk.flipBit(in: segment, byte: StorageFormat.segmentHeaderBytes + 60, bit: 3)
            try expectCorrupt(segment)
        }

        @Test("a damaged length field in the middle of the last segment is corruption")
        func corruptLength() throws {
            try storage().persist(snapshot: nil, entries: StorageFixtures.entries(1...5, term: 1), hardState: nil)
            disk.flipBit(in: path(segmentNames[0]), byte: StorageFormat.segmentHeaderBytes + 1, bit: 6)
            #expect(throws: RaftStorageError.self) { try storage().load() }
        }

        @Test("any bad record in a sealed segment is corruption")
        func corruptSealedSegment() throws {
            try storage(segmentBytes: 256).persist(snapshot: nil, entries: StorageFixtures.entries(1...20, term: 1, bytes: 40), hardState: nil)
            let first = path(segmentNames[0])
            disk.flipBit(in: first, byte: disk.size(of: first) - 1)
            #expect(throws: RaftStorageError.self) { try storage(segmentBytes: 256).load() }
        }

        @Test("a hard state file or snapshot that fails its checksum is corruption")
        func corruptHardStateAndSnapshot() throws {
            try storage().persist(snapshot: nil, entries: StorageFixtures.entries(1...5, term: 1), hardState: HardState(term: 1, commit: 3))
            // A suffix replacement checkpoints the hard state into the file.
            try storage().persist(snapshot: nil, entries: StorageFixtures.entries(5...5, term: 2), hardState: nil)
            disk.flipBit(in: path("hardstate"), byte: 5)
            #expect(throws: RaftStorageError.corrupt(path: path("hardstate"), reason: "hard state fails its checksum")) { try storage().load() }
            disk.flipBit(in: path("hardstate"), byte: 5)
            try storage().saveSnapshot(StorageFixtures.snapshot(index: 3, term: 1))
            disk.flipBit(in: path(snapshotNames[0]), byte: 30)
            #expect(throws: RaftStorageError.self) { try storage().load() }
        }

        @Test("old segments a leader's snapshot replaced are discarded after a crash before their removal")
        func interruptedInstall() throws {
            let storage = storage()
            try storage.persist(snapshot: nil, entries: StorageFixtures.entries(1...8, term: 1), hardState: nil)
            // Dies right after the snapshot's rename and directory fsync, before the segments go.
            disk.crash(afterOperations: 4)
            #expect(throws: RaftStorageError.self) {
                try storage.persist(snapshot: StorageFixtures.snapshot(index: 20, term: 3), entries: [], hardState: nil)
            }
            var generator = SplitMix64(seed: 1)
            disk.powerLoss(using: &generator)
            #expect(segmentNames.count == 1)
            let loaded = try self.storage().load()
            #expect(loaded.snapshot.index == 20 && loaded.entries.isEmpty)
            #expect(segmentNames.isEmpty)
        }
    }
}

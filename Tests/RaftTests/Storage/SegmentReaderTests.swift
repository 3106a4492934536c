import CohortCore
import CohortTestKit
@testable import RaftCore
@testable import RaftPersistence
import Synchronization
import Testing

extension StorageTests {
    @Suite("FileRaftStorage reads entries back from its segments")
    struct SegmentReaderTests {
        let directory = "/data/_sys/raft"
        let disk = CrashingFileSystem()

        /// Storage with small segments (about 10 entries of 64 bytes each) holding entries 1...60 of term 1
        /// written in 6 calls, then 61...70 of term 2 after a rewrite of 61...65.
        func filled() throws -> FileRaftStorage {
            let storage = FileRaftStorage(directory: directory, fileSystem: disk, segmentBytes: 900)
            for start in stride(from: LogIndex(1), through: 51, by: 10) {
                try storage.persist(snapshot: nil, entries: StorageFixtures.entries(start...(start + 9), term: 1, bytes: 64), hardState: HardState(term: 1, commit: start + 9))
            }
            try storage.persist(snapshot: nil, entries: StorageFixtures.entries(61...65, term: 1, bytes: 64), hardState: nil)
            try storage.persist(snapshot: nil, entries: StorageFixtures.entries(61...70, term: 2, bytes: 64), hardState: HardState(term: 2, commit: 70))
            return storage
        }

        @Test("entries from any index, within the end, the count and the bytes asked for, and the latest write of each index")
        func readsBack() throws {
            let storage = try filled()
            #expect(disk.names(in: directory).filter { $0.hasSuffix(".seg") }.count > 3, "the entries span several segments")
            let reader = try #require(storage.entryReader)
            let all = StorageFixtures.entries(1...60, term: 1, bytes: 64) + StorageFixtures.entries(61...70, term: 2, bytes: 64)
            // Reading on from wherever a read stopped gives every entry once, in order.
            var read: [LogEntry] = []
            var next: LogIndex = 1
            while next <= 70, let batch = reader.entries(from: next, through: 70, maxCount: 1000, maxBytes: 1 << 20) {
                #expect(batch.first?.index == next)
                read += batch
                next += LogIndex(batch.count)
            }
            #expect(read == all)
            let middle = try #require(reader.entries(from: 23, through: 24, maxCount: 1000, maxBytes: 1 << 20))
            #expect(middle == Array(all[22...23]), "never past `through`")
            #expect(reader.entries(from: 23, through: 70, maxCount: 1, maxBytes: 1 << 20) == [all[22]])
            #expect(reader.entries(from: 23, through: 70, maxCount: 100, maxBytes: 1) == [all[22]], "at least one entry")
            #expect(reader.entries(from: 63, through: 63, maxCount: 1, maxBytes: 1 << 20)?.first?.term == 2, "the rewrite, not the entry it replaced")
            #expect(reader.entries(from: 71, through: 80, maxCount: 10, maxBytes: 1 << 20) == nil)
        }

        @Test("reading on through a segment, a few entries at a time, reads its file once")
        func readsEachSegmentOnce() throws {
            let counting = CountingFileSystem(disk)
            _ = try filled()
            let reader = SegmentReader(path: directory, fileSystem: counting)
            var next: LogIndex = 1
            while next <= 70, let batch = reader.entries(from: next, through: 70, maxCount: 3, maxBytes: 1 << 20) {
                next += LogIndex(batch.count)
            }
            #expect(next == 71)
            let segments = disk.names(in: directory).filter { $0.hasSuffix(".seg") }.count
            #expect(counting.reads.withLock { $0 } == segments, "one read per segment, not one per batch of 3")
        }

        @Test("a snapshot that keeps trailing entries leaves their segments readable; a restart starts at the snapshot")
        func trailingSegmentsStay() throws {
            let storage = try filled()
            let reader = try #require(storage.entryReader)
            try storage.saveSnapshot(StorageFixtures.snapshot(index: 50, term: 1), keepingEntriesAfter: 30)
            #expect(reader.entries(from: 31, through: 31, maxCount: 1, maxBytes: 1 << 20)?.first?.index == 31)
            #expect(reader.entries(from: 5, through: 5, maxCount: 1, maxBytes: 1 << 20) == nil, "segments wholly at or before 30 are gone")
            let reopened = FileRaftStorage(directory: directory, fileSystem: disk, segmentBytes: 900)
            let loaded = try reopened.load()
            #expect(loaded.snapshot.index == 50)
            #expect(loaded.entries.map(\.index) == Array(51...70))
            // The saved snapshot with everything covered dropped (the default) leaves nothing before it.
            try reopened.saveSnapshot(StorageFixtures.snapshot(index: 65, term: 2))
            #expect(reopened.entryReader?.entries(from: 51, through: 51, maxCount: 1, maxBytes: 1 << 20) == nil)
        }
    }
}

/// A file system that counts whole-file reads and passes everything to another.
final class CountingFileSystem: ForwardingFileSystem {
    let base: any RaftFileSystem
    let reads = Mutex(0)

    init(_ base: any RaftFileSystem) { self.base = base }

    func read(_ path: String) throws(RaftStorageError) -> [UInt8] {
        reads.withLock { $0 += 1 }
        return try base.read(path)
    }
}

import CohortCore
import CohortTestKit
@testable import RaftCore
@testable import RaftPersistence
import Testing

extension StorageTests {
    @Suite("FileRaftStorage reads a stored snapshot in parts")
    struct SnapshotReadTests {
        let directory = "/data/_sys/raft"

        /// Checks summary and parts of a 3 MiB snapshot through `storage` over `files`.
        func check(_ storage: FileRaftStorage) throws {
            let snapshot = StorageFixtures.snapshot(index: 40, term: 3, size: 3 << 20 + 17)
            try storage.saveSnapshot(snapshot)
            let summary = try #require(try storage.snapshotSummary(snapshot.metadata))
            #expect(summary.size == snapshot.data.count)
            #expect(summary.checksum == CRC32C.checksum(snapshot.data))
            var data: [UInt8] = []
            while data.count < summary.size {
                let part = try storage.snapshotData(snapshot.metadata, offset: data.count, count: 1 << 20)
                #expect(!part.isEmpty && part.count <= 1 << 20)
                data += part
            }
            #expect(data == snapshot.data)
            #expect(try storage.snapshotData(snapshot.metadata, offset: summary.size - 5, count: 100) == Array(snapshot.data.suffix(5)))
            #expect(try storage.snapshotData(snapshot.metadata, offset: summary.size, count: 100).isEmpty)
        }

        @Test("size, checksum and every part of the data, on a simulated disk and on the real one")
        func partsAndSummary() throws {
            try check(FileRaftStorage(directory: directory, fileSystem: CrashingFileSystem()))
            try PosixTests().withTemporaryDirectory { path in try check(FileRaftStorage(directory: path)) }
        }

        @Test("a flipped bit fails the summary; a snapshot no longer stored, or another one, cannot be read")
        func corruptionAndAbsence() throws {
            let disk = CrashingFileSystem()
            let storage = FileRaftStorage(directory: directory, fileSystem: disk)
            let snapshot = StorageFixtures.snapshot(index: 40, term: 3, size: 4096)
            try storage.saveSnapshot(snapshot)
            let other = SnapshotMetadata(index: 40, term: 4, configuration: snapshot.metadata.configuration)
            #expect(throws: RaftStorageError.self) { try storage.snapshotData(other, offset: 0, count: 10) }
            let file = directory + "/" + RaftDirectory.snapshotName(snapshot.metadata)
            disk.flipBit(in: file, byte: disk.size(of: file) - 100)
            #expect(throws: RaftStorageError.self) { try storage.snapshotSummary(snapshot.metadata) }
            // Two newer snapshots push it out (the newest two are kept).
            try storage.saveSnapshot(StorageFixtures.snapshot(index: 50, term: 3))
            try storage.saveSnapshot(StorageFixtures.snapshot(index: 60, term: 3))
            #expect(throws: RaftStorageError.self) { try storage.snapshotData(snapshot.metadata, offset: 0, count: 10) }
        }
    }
}

import CohortCore
import CohortTestKit
@testable import RaftCore
@testable import RaftPersistence
import Testing

extension StorageTests {
    @Suite("FileRaftStorage reads a stored snapshot in parts")
    struct SnapshotReadTests {
        let directory = "/data/_sys/raft"

        /// What reading a saved 3 MiB snapshot back found, each compared with what was saved.
        struct Readback: Sendable {
            var sizeMatches = false, checksumMatches = false, everyPartBounded = true, dataMatches = false
            var tailMatches = false, pastTheEndIsEmpty = false
        }

        /// Saves a 3 MiB snapshot through `storage`, then reads its summary and its parts back.
        static func readBack(_ storage: FileRaftStorage) throws -> Readback {
            let snapshot = StorageFixtures.snapshot(index: 40, term: 3, size: 3 << 20 + 17)
            try storage.saveSnapshot(snapshot)
            var found = Readback()
            guard let summary = try storage.snapshotSummary(snapshot.metadata) else { return found }
            found.sizeMatches = summary.size == snapshot.data.count
            found.checksumMatches = summary.checksum == CRC32C.checksum(snapshot.data)
            var data: [UInt8] = []
            while data.count < summary.size {
                let part = try storage.snapshotData(snapshot.metadata, offset: data.count, count: 1 << 20)
                guard !part.isEmpty else { found.everyPartBounded = false; break }
                if part.count > 1 << 20 { found.everyPartBounded = false }
                data += part
            }
            found.dataMatches = data == snapshot.data
            found.tailMatches = try storage.snapshotData(snapshot.metadata, offset: summary.size - 5, count: 100) == Array(snapshot.data.suffix(5))
            found.pastTheEndIsEmpty = try storage.snapshotData(snapshot.metadata, offset: summary.size, count: 100).isEmpty
            return found
        }

        @Test("size, checksum and every part of the data, on a simulated disk and on the real one")
        func partsAndSummary() async throws {
            // Seconds of checksums in a debug build: on a thread of its own, not one of the pool's two.
            let directory = directory
            let readbacks = try await onDedicatedThread { () -> Result<[Readback], any Error> in
                Result {
                    var found = [try Self.readBack(FileRaftStorage(directory: directory, fileSystem: CrashingFileSystem()))]
                    try PosixTests().withTemporaryDirectory { path in found.append(try Self.readBack(FileRaftStorage(directory: path))) }
                    return found
                }
            }.get()
            #expect(readbacks.count == 2)
            for found in readbacks {
                #expect(found.sizeMatches && found.checksumMatches)
                #expect(found.everyPartBounded, "every part holds 1 to 2^20 bytes")
                #expect(found.dataMatches && found.tailMatches && found.pastTheEndIsEmpty)
            }
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

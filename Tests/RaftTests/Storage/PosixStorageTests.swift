import CohortCore
@testable import RaftCore
@testable import RaftPersistence
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension StorageTests {
    @Suite("FileRaftStorage on the real disk")
    struct PosixTests {
        /// A fresh directory under the system's temporary directory, removed after `body`.
        func withTemporaryDirectory(_ body: (String) throws -> Void) throws {
            var template = Array("/tmp/cohort-raft-XXXXXX".utf8CString)
            let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
            let base = String(cString: try #require(created))
            defer {
                let fileSystem = PosixFileSystem()
                let directory = base + "/_sys/raft"
                for name in (try? fileSystem.list(directory)) ?? [] { try? fileSystem.remove(directory + "/" + name) }
                rmdir(directory)
                rmdir(base + "/_sys")
                rmdir(base)
            }
            try body(base + "/_sys/raft")
        }

        @Test("file storage on the real disk keeps the storage contract across reopenings")
        func contract() throws {
            try withTemporaryDirectory { directory in
                try StorageFixtures.checkContract { FileRaftStorage(directory: directory) }
            }
        }

        @Test("the kept append descriptor never writes to a file that was replaced, renamed, cut or removed")
        func appendDescriptorFollowsTheName() throws {
            try withTemporaryDirectory { directory in
                let fileSystem = PosixFileSystem()
                try fileSystem.createDirectory(directory)
                let a = directory + "/a", b = directory + "/b"
                try fileSystem.write([1], to: a)
                try fileSystem.append([2], to: a)
                try fileSystem.sync(a)
                try fileSystem.write([9], to: a)  // replaced: the open descriptor named the old contents' file
                try fileSystem.append([3], to: a)
                #expect(try fileSystem.read(a) == [9, 3])
                try fileSystem.rename(a, to: b)
                try fileSystem.write([5], to: a)  // a new file under the old name
                try fileSystem.append([6], to: a)
                try fileSystem.append([4], to: b)
                #expect(try fileSystem.read(a) == [5, 6])
                #expect(try fileSystem.read(b) == [9, 3, 4])
                try fileSystem.truncate(b, to: 1)
                try fileSystem.append([7], to: b)
                #expect(try fileSystem.read(b) == [9, 7])
                try fileSystem.remove(b)
                try fileSystem.write([8], to: b)
                try fileSystem.append([1], to: b)
                try fileSystem.sync(b)
                #expect(try fileSystem.read(b) == [8, 1])
                try fileSystem.remove(a)
                try fileSystem.remove(b)
            }
        }

        @Test("segments, snapshots and a torn tail round-trip through the real disk")
        func segmentsSnapshotsAndTornTail() throws {
            try withTemporaryDirectory { directory in
                let storage = FileRaftStorage(directory: directory, segmentBytes: 256)
                try storage.persist(snapshot: nil, entries: StorageFixtures.entries(1...40, term: 1, bytes: 40), hardState: HardState(term: 1, commit: 30))
                for index: LogIndex in [10, 20, 30] { try storage.saveSnapshot(StorageFixtures.snapshot(index: index, term: 1)) }
                try storage.persist(snapshot: nil, entries: StorageFixtures.entries(41...41, term: 1, bytes: 40), hardState: nil)
                let names = try PosixFileSystem().list(directory).sorted()
                #expect(names.count { $0.hasSuffix(".snap") } == 2)
                #expect(!names.contains("hardstate"), "the hard state is a record of the log")
                let last = try #require(names.last { $0.hasSuffix(".seg") })
                let size = try PosixFileSystem().read(directory + "/" + last).count
                // Torn before the fsync returned: the synced record is gone and entry 41's record is cut short.
                try PosixFileSystem().truncate(directory + "/" + last, to: size - StorageFormat.syncedRecord.count - 5)

                let loaded = try FileRaftStorage(directory: directory, segmentBytes: 256).load()
                #expect(loaded.hardState == HardState(term: 1, commit: 30))
                #expect(loaded.snapshot == StorageFixtures.snapshot(index: 30, term: 1).metadata)
                #expect(loaded.entries == StorageFixtures.entries(31...40, term: 1, bytes: 40))
            }
        }
    }
}

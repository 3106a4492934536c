import CohortCore
import CohortTestKit
import Foundation
@testable import RaftCore
@testable import RaftPersistence
import Synchronization
import Testing

extension StorageTests {
    /// Saving a snapshot writes its file without the storage's lock: a large state takes seconds to write, and
    /// a `persist` waiting for the lock meanwhile held up the Raft service's Readies (heartbeats included)
    /// for longer than an election timeout.
    @Suite("FileRaftStorage: a snapshot is written without the lock")
    struct SnapshotSaveLockTests {
        let directory = "/data/_sys/raft"

        @Test("a persist goes on while a snapshot's file is being written; then the snapshot is in place and the log compacted")
        func persistWhileTheSnapshotIsWritten() async throws {
            let disk = GatedFileSystem(CrashingFileSystem(), holdingWritesEndingIn: ".saving.tmp")
            let storage = FileRaftStorage(directory: directory, fileSystem: disk, segmentBytes: 256)
            try storage.persist(snapshot: nil, entries: StorageFixtures.entries(1...40, term: 1, bytes: 40), hardState: nil)

            let saved = Mutex<Result<Void, RaftStorageError>?>(nil)
            Thread {
                let result = Result { () throws(RaftStorageError) in try storage.saveSnapshot(StorageFixtures.snapshot(index: 30, term: 1)) }
                saved.withLock { $0 = result }
            }.start()
            try await waitUntil(within: .seconds(10), "the snapshot's file write to start") { disk.isHolding }

            // The file write is held; a persist (on a thread of its own: if it waited for the lock it would
            // wait until the release) must finish meanwhile.
            let persisted = Mutex<Result<Void, RaftStorageError>?>(nil)
            Thread {
                let result = Result { () throws(RaftStorageError) in
                    try storage.persist(snapshot: nil, entries: StorageFixtures.entries(41...50, term: 1, bytes: 40), hardState: nil)
                }
                persisted.withLock { $0 = result }
            }.start()
            do {
                try await waitUntil(within: .seconds(10), "the persist to finish while the snapshot's file is written") {
                    persisted.withLock { $0 != nil }
                }
            } catch {
                disk.release()  // let the threads end before failing
                throw error
            }
            #expect(saved.withLock { $0 == nil }, "the snapshot was still being written")
            disk.release()
            try await waitUntil(within: .seconds(10), "the snapshot to be saved") { saved.withLock { $0 != nil } }
            try saved.withLock { $0! }.get()
            try persisted.withLock { $0! }.get()

            let reopened = FileRaftStorage(directory: directory, fileSystem: disk, segmentBytes: 256)
            let loaded = try reopened.load()
            #expect(loaded.snapshot == StorageFixtures.snapshot(index: 30, term: 1).metadata)
            #expect(loaded.entries == StorageFixtures.entries(31...50, term: 1, bytes: 40))
            #expect(try reopened.latestSnapshot() == StorageFixtures.snapshot(index: 30, term: 1))
            #expect(!disk.names(in: directory).contains { $0.hasSuffix(".tmp") })
        }
    }
}

/// A file system that holds every `write` to a path ending in `suffix` until ``release()``.
private final class GatedFileSystem: ForwardingFileSystem {
    private let inner: CrashingFileSystem
    private let suffix: String
    private let gate = DispatchSemaphore(value: 0)
    private let holding = Mutex(false)

    init(_ inner: CrashingFileSystem, holdingWritesEndingIn suffix: String) {
        self.inner = inner
        self.suffix = suffix
    }

    var base: any RaftFileSystem { inner }
    var isHolding: Bool { holding.withLock { $0 } }
    func release() { gate.signal() }
    func names(in directory: String) -> [String] { inner.names(in: directory) }

    func write(_ bytes: [UInt8], to path: String) throws(RaftStorageError) {
        if path.hasSuffix(suffix) {
            holding.withLock { $0 = true }
            gate.wait()
            holding.withLock { $0 = false }
        }
        try inner.write(bytes, to: path)
    }
}

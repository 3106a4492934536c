import RaftCore
import Synchronization

/// ``RaftStorage`` on disk, in one directory (`<data_dir>/_sys/raft`): segmented log files holding entries
/// and hard states, snapshot files, and a hard state checkpoint file (layout and recovery rules in
/// docs/raft.md, "Durable storage").
///
/// A `persist` writes its entries and its hard state as records of the last segment in one write and
/// fsyncs that file once; a call that only moves the commit index writes its record without an fsync
/// (see ``RaftStorage/persist(snapshot:entries:hardState:)``). Segment rollover, suffix replacement,
/// snapshots and segment removal cost more fsyncs, and every file created, renamed or removed is followed
/// by a directory fsync. The first call scans the directory, cuts a torn tail off the last segment and
/// removes what an interrupted call left behind.
public final class FileRaftStorage: RaftStorage {
    /// The default segment size at which the log rolls over to a new file: 8 MiB.
    public static let defaultSegmentBytes = 8 << 20

    /// The directory holding the files.
    public let directory: String
    private let state: Mutex<RaftDirectory>
    private let fileSystem: any RaftFileSystem

    /// Storage in `directory` (created when missing) through `fileSystem`. A segment is sealed once it
    /// holds `segmentBytes` (default 8 MiB); one entry larger than that gets a segment of its own.
    public init(directory: String, fileSystem: any RaftFileSystem = PosixFileSystem(), segmentBytes: Int = FileRaftStorage.defaultSegmentBytes) {
        self.directory = directory
        self.fileSystem = fileSystem
        self.state = Mutex(RaftDirectory(path: directory, fileSystem: fileSystem, segmentBytes: max(segmentBytes, 1)))
    }

    public func load() throws(RaftStorageError) -> LogStorage {
        try withDirectory { (directory: inout RaftDirectory) throws(RaftStorageError) -> LogStorage in
            let entries = try directory.recover()
            let snapshot = directory.snapshots.last ?? .empty
            return LogStorage(hardState: directory.hardState.hardState, snapshot: snapshot, entries: entries, applied: snapshot.index)
        }
    }

    public func persist(snapshot: StoredSnapshot?, entries: [LogEntry], hardState: HardState?) throws(RaftStorageError) {
        try withDirectory { (directory: inout RaftDirectory) throws(RaftStorageError) in
            try directory.recoverIfNeeded()
            if let snapshot { try directory.install(snapshot) }
            try directory.append(entries, hardState: hardState, forceSync: snapshot != nil)
        }
    }

    public func saveSnapshot(_ snapshot: StoredSnapshot) throws(RaftStorageError) {
        try saveSnapshot(snapshot, keepingEntriesAfter: snapshot.metadata.index)
    }

    public func saveSnapshot(_ snapshot: StoredSnapshot, keepingEntriesAfter: LogIndex) throws(RaftStorageError) {
        try withDirectory { (directory: inout RaftDirectory) throws(RaftStorageError) in
            try directory.recoverIfNeeded()
            try directory.compact(with: snapshot, keepingEntriesAfter: keepingEntriesAfter)
        }
    }

    /// Reads entries straight from the segment files, without this storage's lock (a `persist` or a
    /// snapshot save may hold it for a while): see ``SegmentReader``.
    public var entryReader: (any LogEntryReader)? { SegmentReader(path: directory, fileSystem: fileSystem) }

    public func latestSnapshot() throws(RaftStorageError) -> StoredSnapshot? {
        try withDirectory { (directory: inout RaftDirectory) throws(RaftStorageError) -> StoredSnapshot? in
            try directory.recoverIfNeeded()
            return try directory.newestSnapshot()
        }
    }

    /// Runs `body` under the lock; after a failure the memory of the directory may be ahead of the disk, so
    /// the next call scans the disk again.
    private func withDirectory<Result: Sendable>(
        _ body: (inout RaftDirectory) throws(RaftStorageError) -> Result
    ) throws(RaftStorageError) -> Result {
        try state.withLock { (directory: inout RaftDirectory) throws(RaftStorageError) -> Result in
            do throws(RaftStorageError) {
                return try body(&directory)
            } catch {
                directory.isRecovered = false
                throw error
            }
        }
    }
}

import CohortCore
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
    private let segmentReader: SegmentReader

    /// Storage in `directory` (created when missing) through `fileSystem`. A segment is sealed once it
    /// holds `segmentBytes` (default 8 MiB); one entry larger than that gets a segment of its own.
    public init(directory: String, fileSystem: any RaftFileSystem = PosixFileSystem(), segmentBytes: Int = FileRaftStorage.defaultSegmentBytes) {
        self.directory = directory
        self.fileSystem = fileSystem
        self.segmentReader = SegmentReader(path: directory, fileSystem: fileSystem)
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

    public func persistCommitIfQuick(_ hardState: HardState) throws(RaftStorageError) -> Bool {
        let outcome: Result<Bool, RaftStorageError>? = state.withLockIfAvailable { directory in
            guard directory.canAppendCommitWithoutSync(hardState) else { return .success(false) }
            do throws(RaftStorageError) {
                try directory.append([], hardState: hardState, forceSync: false)
                return .success(true)
            } catch {
                directory.isRecovered = false
                return .failure(error)
            }
        }
        return try (outcome ?? .success(false)).get()
    }

    public func saveSnapshot(_ snapshot: StoredSnapshot) throws(RaftStorageError) {
        try saveSnapshot(snapshot, keepingEntriesAfter: snapshot.metadata.index)
    }

    /// The snapshot's file is encoded, written and fsynced without the lock, under a name of its own
    /// (`<name>.saving.tmp`): for a large state that takes seconds (a 96 MB snapshot 2.9 s here), and a
    /// `persist` waiting for the lock meanwhile held up the Raft service's Readies — heartbeats included —
    /// longer than an election timeout. Only renaming it into place and the bookkeeping after it (the
    /// snapshot list, old snapshot files, covered segments) take the lock.
    public func saveSnapshot(_ snapshot: StoredSnapshot, keepingEntriesAfter: LogIndex) throws(RaftStorageError) {
        let isNewer = try withDirectory { (directory: inout RaftDirectory) throws(RaftStorageError) -> Bool in
            try directory.recoverIfNeeded()
            return snapshot.metadata.index > directory.snapshotPosition.index
        }
        guard isNewer else { return }
        let temporary = directory + "/" + RaftDirectory.snapshotName(snapshot.metadata) + ".saving.tmp"
        try fileSystem.write(StorageFormat.encode(snapshot), to: temporary)
        try fileSystem.sync(temporary)
        try withDirectory { (directory: inout RaftDirectory) throws(RaftStorageError) in
            try directory.recoverIfNeeded()
            try directory.adoptSnapshotFile(temporary, snapshot.metadata, keepingEntriesAfter: keepingEntriesAfter)
        }
    }

    public var readsSnapshotsInParts: Bool { true }

    /// Reads the snapshot file in 1 MiB pieces (without the lock: a snapshot file never changes once
    /// renamed into place, and a removed one fails the read), checking the file's own CRC-32C.
    public func snapshotSummary(_ metadata: SnapshotMetadata) throws(RaftStorageError) -> (size: Int, checksum: UInt32)? {
        let file = snapshotFile(metadata)
        let (start, size) = try snapshotDataRange(metadata)
        var fileChecksum = CRC32C.checksum(StorageFormat.snapshotHeader(metadata, dataCount: size))
        var dataChecksum: UInt32 = 0
        var offset = 0
        while offset < size {
            let piece = try fileSystem.read(file, offset: start + offset, count: min(1 << 20, size - offset))
            guard !piece.isEmpty else { throw .corrupt(path: file, reason: "ends inside its data") }
            fileChecksum = CRC32C.checksum(piece, seed: fileChecksum)
            dataChecksum = CRC32C.checksum(piece, seed: dataChecksum)
            offset += piece.count
        }
        let trailer = try fileSystem.read(file, offset: start + size, count: 4)
        guard trailer.count == 4, trailer == Self.bytes(of: fileChecksum) else { throw .corrupt(path: file, reason: "snapshot fails its checksum") }
        return (size, dataChecksum)
    }

    public func snapshotData(_ metadata: SnapshotMetadata, offset: Int, count: Int) throws(RaftStorageError) -> [UInt8] {
        let (start, size) = try snapshotDataRange(metadata)
        guard offset >= 0, count > 0, offset < size else { return [] }
        return try fileSystem.read(snapshotFile(metadata), offset: start + offset, count: min(count, size - offset))
    }

    private func snapshotFile(_ metadata: SnapshotMetadata) -> String {
        directory + "/" + RaftDirectory.snapshotName(metadata)
    }

    /// Where the data of snapshot `metadata` starts in its file, and its length (checked against the
    /// header the file must start with).
    private func snapshotDataRange(_ metadata: SnapshotMetadata) throws(RaftStorageError) -> (start: Int, size: Int) {
        let file = snapshotFile(metadata)
        let expected = StorageFormat.snapshotHeader(metadata, dataCount: 0)
        let header = try fileSystem.read(file, offset: 0, count: expected.count)
        guard header.count == expected.count, header.prefix(expected.count - 8) == expected.prefix(expected.count - 8) else {
            throw .corrupt(path: file, reason: "does not start with the header of snapshot \(metadata.index)")
        }
        let size = header.suffix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard size <= UInt64(Int.max / 2) else { throw .corrupt(path: file, reason: "bad data length") }
        return (expected.count, Int(size))
    }

    private static func bytes(of checksum: UInt32) -> [UInt8] {
        [UInt8(truncatingIfNeeded: checksum >> 24), UInt8(truncatingIfNeeded: checksum >> 16), UInt8(truncatingIfNeeded: checksum >> 8), UInt8(truncatingIfNeeded: checksum)]
    }

    /// Reads entries straight from the segment files, without this storage's lock (a `persist` or a
    /// snapshot save may hold it for a while): see ``SegmentReader``.
    public var entryReader: (any LogEntryReader)? { segmentReader }

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

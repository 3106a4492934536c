import RaftCore
/// Durable Raft state: what the Raft shell persists from each `Ready` and reads back at start.
///
/// Calls are synchronous and may block on `fsync`; the shell makes them off any event loop. Every method
/// is durable when it returns: a crash after a return never loses what it wrote, and a crash during one
/// leaves the state as before the call or as after it, never a corrupt mix (torn tails are cut back to the
/// last good record on the next `load`). The one exception is a commit index moved on its own (see
/// ``persist(snapshot:entries:hardState:)``).
public protocol RaftStorage: Sendable {
    /// Everything stored, for the core's restart: hard state, the newest snapshot's metadata, the entries
    /// after it, and the applied index (the snapshot's index). `.empty` for fresh storage.
    func load() throws(RaftStorageError) -> LogStorage

    /// Persists one `Ready`'s durable part, in this order: `snapshot` (replacing the whole log),
    /// `entries` (replacing every stored entry from the first one's index on), `hardState`.
    ///
    /// When the call carries no snapshot and no entries and `hardState` differs from the stored one only
    /// in `commit`, an implementation may return before that commit index is durable (Raft can learn it
    /// again from the leader): a crash may then bring back the commit index of an earlier call, never a
    /// higher one than was persisted. Term, vote, entries and snapshots are always durable on return.
    func persist(snapshot: StoredSnapshot?, entries: [LogEntry], hardState: HardState?) throws(RaftStorageError)

    /// Persists `hardState` on the caller's thread when that is quick: it differs from the stored one only
    /// in `commit` (so it needs no fsync, as in ``persist(snapshot:entries:hardState:)``), writing it
    /// creates no file, and no other call holds the storage. Returns false, having done nothing, otherwise:
    /// the caller persists it as usual, off its thread. (An event loop writes a commit index in a few
    /// microseconds where handing it to another thread costs two thread switches.)
    func persistCommitIfQuick(_ hardState: HardState) throws(RaftStorageError) -> Bool

    /// Saves a snapshot the application took (its state through `metadata.index`), keeps the newest two,
    /// and drops the log entries it covers.
    func saveSnapshot(_ snapshot: StoredSnapshot) throws(RaftStorageError)

    /// ``saveSnapshot(_:)``, dropping only the entries through `keepingEntriesAfter` (at most the
    /// snapshot's index): the core keeps trailing entries behind a snapshot for lagging peers, and an
    /// ``entryReader`` must still find them. What a restart loads starts at the snapshot all the same.
    func saveSnapshot(_ snapshot: StoredSnapshot, keepingEntriesAfter: LogIndex) throws(RaftStorageError)

    /// Reads stored entries back for a core that lets them go from memory; nil (the default) keeps the
    /// whole log in memory.
    var entryReader: (any LogEntryReader)? { get }

    /// True when ``snapshotSummary(_:)`` and ``snapshotData(_:offset:count:)`` read a stored snapshot in
    /// parts, so the shell need not keep the newest snapshot's data in memory. False by default.
    var readsSnapshotsInParts: Bool { get }

    /// The size and CRC-32C of the data of the stored snapshot `metadata`, read from storage (checking
    /// what storage checks, such as a file's own checksum), when this storage reads snapshots in parts;
    /// nil (the default) when it does not, and the shell keeps the newest snapshot's data in memory.
    func snapshotSummary(_ metadata: SnapshotMetadata) throws(RaftStorageError) -> (size: Int, checksum: UInt32)?

    /// Up to `count` bytes of the data of the stored snapshot `metadata` from `offset`, for a storage whose
    /// ``snapshotSummary(_:)`` is not nil. Throws when that snapshot is no longer stored.
    func snapshotData(_ metadata: SnapshotMetadata, offset: Int, count: Int) throws(RaftStorageError) -> [UInt8]

    /// The newest snapshot with its data, or nil.
    func latestSnapshot() throws(RaftStorageError) -> StoredSnapshot?
}

extension RaftStorage {
    /// Never quick: the call goes to ``persist(snapshot:entries:hardState:)``.
    public func persistCommitIfQuick(_ hardState: HardState) throws(RaftStorageError) -> Bool { false }

    public func saveSnapshot(_ snapshot: StoredSnapshot, keepingEntriesAfter: LogIndex) throws(RaftStorageError) {
        try saveSnapshot(snapshot)
    }

    public var entryReader: (any LogEntryReader)? { nil }

    public var readsSnapshotsInParts: Bool { false }

    public func snapshotSummary(_ metadata: SnapshotMetadata) throws(RaftStorageError) -> (size: Int, checksum: UInt32)? { nil }

    /// A storage that does not read snapshots in parts is never asked (the shell keeps the data).
    public func snapshotData(_ metadata: SnapshotMetadata, offset: Int, count: Int) throws(RaftStorageError) -> [UInt8] {
        throw .corrupt(path: "snapshot \(metadata.index)", reason: "this storage does not read snapshots in parts")
    }
}

/// A snapshot: its position and configuration, and the application's state at that index.
public struct StoredSnapshot: Hashable, Sendable {
    /// Index, term and configuration of the snapshot.
    public var metadata: SnapshotMetadata
    /// The application's serialized state through `metadata.index`.
    public var data: [UInt8]

    /// Creates a snapshot.
    public init(metadata: SnapshotMetadata, data: [UInt8]) {
        self.metadata = metadata
        self.data = data
    }
}

/// Storage failed; the node cannot continue safely without its state.
public enum RaftStorageError: Error, Equatable, CustomStringConvertible {
    /// A system call failed (`operation` on `path`, errno).
    case io(operation: String, path: String, errno: Int32)
    /// A record or file that must be whole is corrupt in a way that is not a torn tail (e.g. a bad CRC in
    /// the middle of a segment, a hard state file that fails its checksum).
    case corrupt(path: String, reason: String)
    /// The entries given do not continue the stored log.
    case gap(expected: LogIndex, got: LogIndex)

    public var description: String {
        switch self {
        case .io(let operation, let path, let errno): "raft storage: \(operation) \(path) failed (errno \(errno))"
        case .corrupt(let path, let reason): "raft storage: \(path) is corrupt: \(reason)"
        case .gap(let expected, let got): "raft storage: entries start at \(got), expected at most \(expected)"
        }
    }
}

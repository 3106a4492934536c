import RaftCore
import Synchronization

/// ``RaftStorage`` in memory: for nodes without a data directory and for tests of the Raft service. It
/// follows the same rules as ``FileRaftStorage`` (two snapshots kept, covered entries dropped, gaps
/// refused) but nothing survives the process.
public final class MemoryRaftStorage: RaftStorage {
    private struct Contents {
        var hardState = HardState()
        /// The newest two, oldest first.
        var snapshots: [StoredSnapshot] = []
        /// Consecutive, after the newest snapshot.
        var entries: [LogEntry] = []

        var snapshotIndex: LogIndex { snapshots.last?.metadata.index ?? 0 }
        var lastIndex: LogIndex { entries.last?.index ?? snapshotIndex }

        mutating func keep(_ snapshot: StoredSnapshot) {
            snapshots.append(snapshot)
            if snapshots.count > 2 { snapshots.removeFirst(snapshots.count - 2) }
        }
    }

    private let contents = Mutex(Contents())

    /// Empty storage; ``load()`` returns ``LogStorage/empty`` until something is persisted.
    public init() {}

    public func load() throws(RaftStorageError) -> LogStorage {
        contents.withLock { contents in
            let snapshot = contents.snapshots.last?.metadata ?? .empty
            return LogStorage(hardState: contents.hardState, snapshot: snapshot, entries: contents.entries, applied: snapshot.index)
        }
    }

    public func persist(snapshot: StoredSnapshot?, entries: [LogEntry], hardState: HardState?) throws(RaftStorageError) {
        try contents.withLock { (contents: inout Contents) throws(RaftStorageError) in
            var updated = contents
            if let snapshot {
                updated.keep(snapshot)
                updated.entries = []
            }
            if let first = entries.first {
                try checkConsecutive(entries)
                guard first.index <= updated.lastIndex + 1 else { throw .gap(expected: updated.lastIndex + 1, got: first.index) }
                let fresh = entries.filter { $0.index > updated.snapshotIndex }
                if let start = fresh.first {
                    updated.entries.removeAll { $0.index >= start.index }
                    updated.entries.append(contentsOf: fresh)
                }
            }
            if let hardState { updated.hardState = hardState }
            contents = updated
        }
    }

    public func saveSnapshot(_ snapshot: StoredSnapshot) throws(RaftStorageError) {
        contents.withLock { contents in
            guard snapshot.metadata.index > contents.snapshotIndex else { return }
            contents.keep(snapshot)
            contents.entries.removeAll { $0.index <= snapshot.metadata.index }
        }
    }

    public func latestSnapshot() throws(RaftStorageError) -> StoredSnapshot? {
        contents.withLock { $0.snapshots.last }
    }
}

/// Throws ``RaftStorageError/gap(expected:got:)`` unless `entries` have consecutive indexes.
func checkConsecutive(_ entries: [LogEntry]) throws(RaftStorageError) {
    for (previous, entry) in zip(entries, entries.dropFirst()) where entry.index != previous.index + 1 {
        throw .gap(expected: previous.index + 1, got: entry.index)
    }
}

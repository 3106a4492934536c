/// What the shell read back from disk on (re)start, to build a core from: the durable hard state, the
/// metadata of the latest snapshot, and the entries after it.
public struct LogStorage: Hashable, Sendable {
    /// The persisted term, vote and commit index.
    public var hardState: HardState
    /// The latest snapshot's metadata (``SnapshotMetadata/empty`` when there is none).
    public var snapshot: SnapshotMetadata
    /// The persisted entries after the snapshot, consecutive.
    public var entries: [LogEntry]
    /// The index the state machine has already applied (at least the snapshot's, when the state machine was
    /// restored from it); committed entries after it are handed out again.
    public var applied: LogIndex

    /// Creates storage contents.
    public init(hardState: HardState = HardState(), snapshot: SnapshotMetadata = .empty, entries: [LogEntry] = [], applied: LogIndex? = nil) {
        self.hardState = hardState
        self.snapshot = snapshot
        self.entries = entries
        self.applied = applied ?? snapshot.index
    }

    /// A node that has never been part of a group: it waits to be added by a leader.
    public static let empty = LogStorage()

    /// True when nothing was ever stored: no term, no vote, no entry, no snapshot. A core started from
    /// pristine storage (or from any with term 0) is a blank replica.
    public var isPristine: Bool {
        hardState == HardState() && entries.isEmpty && snapshot.index == 0
    }

    /// The state every founding member writes identically when a group is bootstrapped: term 1 and one
    /// configuration entry at index 1 (so every founder agrees on it without an election).
    public static func bootstrap(_ configuration: Configuration) -> LogStorage {
        LogStorage(
            hardState: HardState(term: 1, vote: nil, commit: 0),
            entries: [LogEntry(term: 1, index: 1, payload: .configuration(configuration))]
        )
    }
}

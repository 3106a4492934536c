import CohortCore

/// One entry of the replicated log.
public struct LogEntry: Hashable, Sendable, CustomStringConvertible {
    /// What an entry carries.
    public enum Payload: Hashable, Sendable {
        /// The empty entry a new leader appends to commit the entries of earlier terms (Raft §5.4.2).
        case noop
        /// An application command, opaque to Raft.
        case command([UInt8])
        /// The whole configuration that is in force from this entry on (single-server change).
        case configuration(Configuration)
    }

    /// The term of the leader that created the entry.
    public var term: Term
    /// The entry's place in the log.
    public var index: LogIndex
    /// What it carries.
    public var payload: Payload

    /// An entry at `index` created in `term`.
    public init(term: Term, index: LogIndex, payload: Payload) {
        self.term = term
        self.index = index
        self.payload = payload
    }

    /// The entry's `(term, index)`.
    public var position: LogPosition { LogPosition(term: term, index: index) }

    /// The entry's approximate size on the wire, used to cap the bytes of one append.
    public var byteCount: Int {
        switch payload {
        case .noop: 17
        case .command(let data): 21 + data.count
        case .configuration(let configuration):
            19 + (configuration.voters + configuration.standbys).reduce(0) { $0 + 2 + $1.rawValue.utf8.count }
        }
    }

    public var description: String {
        switch payload {
        case .noop: "\(position) noop"
        case .command(let data): "\(position) command(\(data.count) bytes)"
        case .configuration(let configuration): "\(position) configuration(\(configuration))"
        }
    }
}

/// What a snapshot covers: the log up to and including `index`, and the configuration in force there.
/// The snapshot's data belongs to the application; the core only tracks this boundary.
public struct SnapshotMetadata: Hashable, Sendable, CustomStringConvertible {
    /// The last index the snapshot includes.
    public var index: LogIndex
    /// The term of the entry at `index`.
    public var term: Term
    /// The configuration in force at `index`.
    public var configuration: Configuration

    /// Metadata of a snapshot through `index` (whose entry has `term`) with `configuration`.
    public init(index: LogIndex, term: Term, configuration: Configuration) {
        self.index = index
        self.term = term
        self.configuration = configuration
    }

    /// The boundary of a log that was never compacted.
    public static let empty = SnapshotMetadata(index: 0, term: 0, configuration: .empty)

    /// The position of the last entry the snapshot includes.
    public var position: LogPosition { LogPosition(term: term, index: index) }

    public var description: String { "snapshot \(position) \(configuration)" }
}

/// The state a node must persist (and fsync) before it sends the messages that depend on it.
public struct HardState: Hashable, Sendable {
    /// The latest term the node has seen.
    public var term: Term
    /// Whom the node voted for in `term`, if anyone.
    public var vote: NodeID?
    /// The highest index known to be committed.
    public var commit: LogIndex
    /// True while the node is a blank replica: it started from empty storage (new, or its data was lost)
    /// and no leader has admitted it yet, so it neither votes nor counts (see ``RaftNode/isBlank``).
    public var blank: Bool

    /// Creates a hard state.
    public init(term: Term = 0, vote: NodeID? = nil, commit: LogIndex = 0, blank: Bool = false) {
        self.term = term
        self.vote = vote
        self.commit = commit
        self.blank = blank
    }
}

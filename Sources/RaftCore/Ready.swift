import CohortCore

/// A message to send, and whether it may only leave once the ``Ready`` it came in is durable.
public struct OutgoingMessage: Hashable, Sendable, CustomStringConvertible {
    /// The message.
    public var message: Message
    /// True when the message vouches for state of this node that must be on disk first (a vote, an append
    /// acknowledgement, a vote request after voting for oneself, anything sent in a term not yet persisted):
    /// send it only after the ready's hard state, entries and snapshot are fsynced. False messages may be
    /// sent at once (a leader's appends and heartbeats go out in parallel with its own write).
    public var afterPersist: Bool

    /// Creates an outgoing message.
    public init(message: Message, afterPersist: Bool) {
        self.message = message
        self.afterPersist = afterPersist
    }

    public var description: String { "\(message)\(afterPersist ? " [after persist]" : "")" }
}

/// The answer to a linearizable read: once the local state machine has applied `index`, reading it is
/// linearizable for the request named `context`.
public struct ReadState: Hashable, Sendable {
    /// The caller's identifier of the read.
    public var context: ReadContext
    /// The commit index the read must wait for.
    public var index: LogIndex

    /// Creates a read state.
    public init(context: ReadContext, index: LogIndex) {
        self.context = context
        self.index = index
    }
}

/// Who leads and what this node is doing: state the shell reports (metrics, logs, status), not state that
/// must be persisted. A ``Ready`` carries it when it changed since the previous one (etcd's `SoftState`).
public struct SoftState: Hashable, Sendable {
    /// The leader this node knows of in its term.
    public var leader: NodeID?
    /// Follower, pre-candidate, candidate or leader.
    public var state: RaftNodeState

    /// Creates a soft state.
    public init(leader: NodeID?, state: RaftNodeState) {
        self.leader = leader
        self.state = state
    }
}

/// A batch of effects for the shell. Carry them out in this order, then call ``RaftNode/advance()``:
/// 1. send the messages with `afterPersist == false` (may overlap with step 2);
/// 2. write `snapshot` (it replaces the whole log), then `entries` (they replace every stored entry
///    from `entries.first.index` on), then `hardState`; fsync;
/// 3. send the messages with `afterPersist == true`;
/// 4. install the snapshot's data in the state machine, then apply `committedEntries` in order (with no
///    snapshot, those already durable when `ready()` was called may apply before step 2: docs/raft.md);
/// 5. hand `readStates` to their waiters (each waits until the state machine has applied its index).
public struct Ready: Sendable {
    /// The hard state to persist, or nil when it did not change.
    public var hardState: HardState?
    /// Entries to persist, consecutive; they replace any stored entry at or after the first one's index.
    public var entries: [LogEntry]
    /// A snapshot received from the leader, to persist and install; the log before it is discarded.
    public var snapshot: SnapshotMetadata?
    /// Messages to send.
    public var messages: [OutgoingMessage]
    /// Committed entries to apply to the state machine, in order.
    public var committedEntries: [LogEntry]
    /// Answers to linearizable reads.
    public var readStates: [ReadState]
    /// Reads of this node that can no longer be answered (leadership was lost); retry them.
    public var droppedReads: [ReadContext]
    /// The leader or this node's state changed since the previous ready: the new values. Nil otherwise.
    public var softState: SoftState?
    /// This ready's hard state clears the blank mark: a leader admitted this replica (durable once
    /// written).
    public var admitted: Bool

    /// True when there is nothing to do.
    public var isEmpty: Bool {
        hardState == nil && entries.isEmpty && snapshot == nil && messages.isEmpty && committedEntries.isEmpty
            && readStates.isEmpty && droppedReads.isEmpty && softState == nil
    }
}

// The Raft consensus core of Cohort: a pure value type (`RaftNode`) that takes ticks, messages and
// proposals and hands back `Ready` batches of effects for a shell to carry out. See docs/raft.md.

/// A Raft term: a logical clock that only moves forward.
public typealias Term = UInt64

/// The position of an entry in the Raft log; the first entry is at index 1, 0 means "before the log".
public typealias LogIndex = UInt64

/// An opaque request identifier the caller of ``RaftNode/readIndex(context:)`` chooses to match the answer
/// (a ``ReadState``) to its request; unique per requesting node.
public typealias ReadContext = UInt64

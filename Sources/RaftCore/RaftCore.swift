// The Raft consensus core of Cohort: a pure value type (`RaftNode`) that takes ticks, messages and
// proposals and hands back `Ready` batches of effects for a shell to carry out. See docs/raft.md.

/// A Raft term: a logical clock that only moves forward.
public typealias Term = UInt64

/// The position of an entry in the Raft log; the first entry is at index 1, 0 means "before the log".
public typealias LogIndex = UInt64

/// An opaque request identifier the caller of ``RaftNode/readIndex(context:)`` chooses to match the answer
/// (a ``ReadState``) to its request. It must be unique per requesting node **across restarts**: a leader
/// answers a forwarded read after the follower that asked may have restarted, and an answer to an earlier
/// boot's read must never complete a new one (``ReadContextSequence`` hands out such contexts).
public typealias ReadContext = UInt64

/// Read contexts that no other boot of the same node hands out: the sequence of a boot starts at its
/// incarnation (milliseconds since the epoch at boot, strictly greater on every start) times 2²⁰, so a boot
/// would have to issue more than a million reads per millisecond of its life to reach the next boot's
/// range.
public struct ReadContextSequence: Sendable {
    private var next: ReadContext

    /// The contexts of the boot with `incarnation`.
    public init(incarnation: UInt64) {
        next = incarnation &<< 20
    }

    /// The next context.
    public mutating func take() -> ReadContext {
        next &+= 1
        return next
    }
}

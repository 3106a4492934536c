import CohortCore

/// One key's value in a store.
public struct StoredValue: Sendable, Hashable {
    /// The value's bytes.
    public var value: [UInt8]
    /// The Raft index of the write that set it: versions grow strictly, so `ifVersion` is a
    /// compare-and-set and a watch resumes from a version.
    public var version: UInt64
    /// The Raft index of the write that created the key (kept across overwrites, reset by a delete).
    public var created: UInt64
    /// When the key expires, in the state's clock (milliseconds since the Unix epoch, stamped by the
    /// leader); nil for a key without a TTL.
    public var expiresAt: UInt64?

    /// A value.
    public init(value: [UInt8], version: UInt64, created: UInt64, expiresAt: UInt64? = nil) {
        self.value = value
        self.version = version
        self.created = created
        self.expiresAt = expiresAt
    }
}

/// A lock: who holds it, the fencing token of the grant, and who waits, first come first served.
public struct LockRecord: Sendable, Hashable {
    /// The holder; nil while the lock is free but delayed, or between a release and the next grant.
    public var holder: PID?
    /// The fencing token of the latest grant: the Raft index of the entry that granted it. Indexes only
    /// grow, so a lock's tokens strictly increase forever — across restarts, failovers and snapshots.
    public var token: UInt64
    /// When the latest grant happened (state clock, ms).
    public var grantedAt: UInt64
    /// The holder's lock delay (ms): when its node departs, the lock stays unavailable this long.
    public var lockDelay: UInt64
    /// While the state's clock is before this, nobody gets the lock (0: no delay).
    public var delayedUntil: UInt64
    /// Processes waiting for the lock, in arrival order.
    public var waiters: [LockWaiter]

    /// A lock record.
    public init(holder: PID?, token: UInt64, grantedAt: UInt64, lockDelay: UInt64, delayedUntil: UInt64 = 0, waiters: [LockWaiter] = []) {
        self.holder = holder
        self.token = token
        self.grantedAt = grantedAt
        self.lockDelay = lockDelay
        self.delayedUntil = delayedUntil
        self.waiters = waiters
    }

    /// True when nothing remains to keep: no holder, no delay, no waiter.
    var isVacant: Bool { holder == nil && delayedUntil == 0 && waiters.isEmpty }
}

/// A process queued for a lock.
public struct LockWaiter: Sendable, Hashable {
    /// The process that will hold the lock.
    public var pid: PID
    /// When it stops waiting (state clock, ms).
    public var deadline: UInt64
    /// The lock delay it asks for once it holds the lock (ms).
    public var lockDelay: UInt64

    /// A waiter.
    public init(pid: PID, deadline: UInt64, lockDelay: UInt64) {
        self.pid = pid
        self.deadline = deadline
        self.lockDelay = lockDelay
    }
}

/// A name registered through Raft: in the consistent scope, or in the strong scope (a consistent name that
/// every live node acknowledged first). Both share one namespace.
public struct NameRecord: Sendable, Hashable {
    /// The process the name resolves to.
    public var pid: PID
    /// The fencing token of the registration: the Raft index of the entry that made it (for a strong
    /// name, of the entry that reserved it).
    public var token: UInt64
    /// Which scope registered it.
    public var scope: Scope

    /// A registration.
    public init(pid: PID, token: UInt64, scope: Scope = .consistent) {
        self.pid = pid
        self.token = token
        self.scope = scope
    }

    /// The scopes whose names Raft holds.
    public enum Scope: UInt8, Sendable, Hashable {
        /// First write wins.
        case consistent = 0
        /// First write wins, once every live node acknowledged it holds no conflicting binding.
        case strong = 1
    }
}

/// A strong registration in progress: the name is held for `pid` while the registering node asks every
/// live node; it becomes a ``NameRecord`` on confirmation, and lapses at `deadline`. Never visible to a
/// lookup.
public struct NameReservation: Sendable, Hashable {
    /// The process the name will resolve to.
    public var pid: PID
    /// The Raft index of the entry that reserved it: the registration's fencing token once confirmed,
    /// and what a confirmation or a cancellation names, so a stale one cannot touch a newer reservation.
    public var token: UInt64
    /// When it lapses (state clock, ms, stamped by the leader).
    public var deadline: UInt64

    /// A reservation.
    public init(pid: PID, token: UInt64, deadline: UInt64) {
        self.pid = pid
        self.token = token
        self.deadline = deadline
    }
}

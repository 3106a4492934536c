import CohortCore

/// What applying a ``CoordinationCommand`` did, as returned to the proposer.
public enum CoordinationResult: Sendable, Hashable {
    /// A put or delete was applied; the entry's index (the key's new version).
    case written(version: UInt64)
    /// The condition of a put or delete did not hold; the key's current value, if any.
    case conflict(current: StoredValue?)
    /// A delete of a key that has no value.
    case notFound
    /// What a read found.
    case value(StoredValue?)
    /// A transaction: which branch ran, the entry's index, and one result per operation of that branch.
    case transaction(succeeded: Bool, version: UInt64, results: [TransactionResult])
    /// The lock is the caller's, with this fencing token (also when it already held it).
    case lockGranted(token: UInt64)
    /// The caller waits in the lock's queue at `position` (0 = next); the grant comes as a change.
    case lockQueued(holder: PID?, position: Int)
    /// Fail-fast: the lock is held (by `holder`), or free but delayed until `delayedUntil` (state clock).
    case lockBusy(holder: PID?, delayedUntil: UInt64)
    /// The caller no longer holds or waits for the lock.
    case lockReleased
    /// The caller neither holds nor waits for the lock; who holds it, if anyone.
    case notHolder(current: PID?)
    /// The name is the caller's, with this fencing token (also when it already was).
    case nameRegistered(token: UInt64)
    /// The name belongs to `owner`.
    case nameTaken(owner: PID)
    /// The name was unbound.
    case nameUnregistered
    /// The name belongs to `owner`, not the caller.
    case notOwner(owner: PID)
    /// The name is reserved for the caller (also when it already was) with this token, until `deadline`
    /// (state clock, ms).
    case nameReserved(token: UInt64, deadline: UInt64)
    /// A confirmation or cancellation named a reservation that is no longer there (it lapsed, was
    /// cancelled, or its process or node was released).
    case reservationGone
    /// The reservation was dropped.
    case reservationCancelled
    /// What a release of an owner or a node let go.
    case released(locks: Int, names: Int, waits: Int)
    /// What a sweep expired.
    case swept(keys: Int, waits: Int, delaysEnded: Int)
    /// The command did not decode (never produced by this codebase's encoder): every replica refuses the
    /// same bytes the same way, so the replicas stay identical.
    case malformed
}

/// What one operation of a transaction's branch did.
public enum TransactionResult: Sendable, Hashable {
    /// A put: the key's new version.
    case put(version: UInt64)
    /// A delete: whether the key existed.
    case delete(existed: Bool)
    /// A get: the key's value as of the operation.
    case get(StoredValue?)
}

/// A change applied to the coordination state: what watchers, lock waiters and metrics hear about.
/// Every change carries the index of the entry that made it.
public enum CoordinationChange: Sendable, Hashable {
    /// `key` of `store` was set.
    case put(store: ByteKey, key: ByteKey, value: StoredValue)
    /// `key` of `store` was removed (by a delete, a transaction or its TTL) at `version`.
    case delete(store: ByteKey, key: ByteKey, version: UInt64)
    /// `holder` now holds the lock `name`, with fencing token `token`.
    case lockGranted(name: ByteKey, holder: PID, token: UInt64)
    /// `holder` no longer holds the lock `name` (released, exited, or its node departed).
    case lockReleased(name: ByteKey, holder: PID)
    /// `pid` stopped waiting for `name` without getting it (its wait expired, or it was released).
    case lockWaitEnded(name: ByteKey, pid: PID)
    /// `name` now resolves to `pid` in the consistent (or strong) scope.
    case nameRegistered(name: ByteKey, pid: PID, token: UInt64)
    /// `name` no longer resolves to `pid`.
    case nameReleased(name: ByteKey, pid: PID)
}

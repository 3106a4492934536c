import CohortCore
import CoordinationCore

/// A lock held: its name, its holder and the grant's fencing token.
public struct LockGrant: Sendable, Hashable {
    /// The lock.
    public var name: String
    /// The process that holds it.
    public var holder: PID
    /// Strictly greater than the token of every earlier grant of this lock, forever: pass it to whatever
    /// the lock protects, which refuses requests carrying an older token.
    public var token: UInt64
}

/// A lock as the replica knows it.
public struct LockInfo: Sendable, Hashable {
    /// The lock.
    public var name: String
    /// The holder (nil while a lock delay runs).
    public var holder: PID?
    /// The latest grant's fencing token.
    public var token: UInt64
    /// Processes waiting, first served first.
    public var waiters: [PID]
    /// While the leaders' clock (ms since the Unix epoch) is before this, nobody gets the lock.
    public var delayedUntil: UInt64?

    init(name: String, record: LockRecord) {
        self.name = name
        holder = record.holder
        token = record.token
        waiters = record.waiters.map(\.pid)
        delayedUntil = record.delayedUntil > 0 ? record.delayedUntil : nil
    }
}

/// Distributed locks (SPEC §9): a linearizable set-if-absent of the holder, with fencing tokens, fair
/// queueing, and release when the holder exits, its session ends or its node departs.
///
/// ```swift
/// let grant = try await node.locks.acquire("jobs/nightly", holder: pid, wait: .seconds(5))
/// defer { Task { try? await node.locks.release("jobs/nightly", holder: pid) } }
/// try await database.write(..., fencingToken: grant.token)
/// ```
public struct Locks: Sendable {
    let coordination: Coordination
    let nodeID: NodeID

    /// Takes `name` for `holder`. Without `wait` it fails fast with ``CoordinationError/alreadyExists(_:by:)``
    /// naming the holder; with `wait` it queues (first come, first served) and throws
    /// ``CoordinationError/timeout(_:)`` if the lock did not come within it. `lockDelay` (up to 60 s): if
    /// the holder's node departs, the lock stays unavailable that long (Chubby's and Consul's lock-delay),
    /// so a holder that was only cut off has time to notice. Acquiring a lock the holder already holds
    /// returns the same grant.
    public func acquire(_ name: String, holder: PID, wait: Duration? = nil, lockDelay: Duration? = nil) async throws(CoordinationError) -> LockGrant {
        let start = ContinuousClock.now
        do {
            let grant = try await take(name, holder: holder, wait: wait, lockDelay: lockDelay)
            coordination.metrics?.acquired("granted")
            coordination.metrics?.lockWait.record(ContinuousClock.now - start)
            return grant
        } catch {
            switch error {
            case .alreadyExists: coordination.metrics?.acquired("busy")
            case .timeout: coordination.metrics?.acquired("timeout")
            default: coordination.metrics?.acquired("error")
            }
            throw error
        }
    }

    private func take(_ name: String, holder: PID, wait: Duration?, lockDelay: Duration?) async throws(CoordinationError) -> LockGrant {
        try Self.validate(name: name)
        let waitMilliseconds = try KeyValueStore.milliseconds(wait, field: "wait", limit: CoordinationLimits.maxLockWait)
        let delay = try KeyValueStore.milliseconds(lockDelay, field: "lock_delay", limit: CoordinationLimits.maxLockDelay)
        if holder.node == nodeID { coordination.noteOwner(holder) }
        let (index, result) = try await coordination.append(.acquireLock(name: name, holder: holder, wait: waitMilliseconds, lockDelay: delay))
        switch result {
        case .lockGranted(let token):
            return LockGrant(name: name, holder: holder, token: token)
        case .lockBusy(let current, let delayedUntil):
            if let current { throw .alreadyExists("lock \"\(name)\" is held by \(current)", by: current) }
            throw .alreadyExists("lock \"\(name)\" is unavailable until its lock delay ends (\(delayedUntil) ms since the epoch)", by: nil)
        case .lockQueued:
            return try await waitInQueue(name, holder: holder, queuedAt: index, wait: wait ?? .zero)
        default:
            throw .unavailable("the store answered an acquire with \(result)")
        }
    }

    /// Releases `name` if `holder` holds it (the next waiter gets it), or takes `holder` out of its queue.
    /// Throws ``CoordinationError/notHolder(lock:holder:)`` otherwise.
    public func release(_ name: String, holder: PID) async throws(CoordinationError) {
        try Self.validate(name: name)
        let (_, result) = try await coordination.append(.releaseLock(name: name, holder: holder))
        switch result {
        case .lockReleased: return
        case .notHolder(let current): throw .notHolder(lock: name, holder: current)
        default: throw .unavailable("the store answered a release with \(result)")
        }
    }

    /// The lock `name`, when it is held, delayed or waited for.
    public func info(_ name: String, consistency: Coordination.Consistency = .stale) async throws(CoordinationError) -> LockInfo? {
        try Self.validate(name: name)
        guard case .locks(let locks) = try await coordination.query(.lock(name: name), consistency: consistency) else {
            throw .unavailable("the replica answered with something else")
        }
        return locks.first.map { LockInfo(name: $0.0, record: $0.1) }
    }

    /// Locks whose names start with `prefix`, in name order.
    public func list(prefix: String = "", limit: Int = 1000, consistency: Coordination.Consistency = .stale) async throws(CoordinationError) -> [LockInfo] {
        guard (1...ReplicaQuery.maxListLimit).contains(limit) else { throw .badRequest("limit: must be 1...\(ReplicaQuery.maxListLimit)") }
        guard case .locks(let locks) = try await coordination.query(.locks(prefix: prefix, limit: limit), consistency: consistency) else {
            throw .unavailable("the replica answered with something else")
        }
        return locks.map { LockInfo(name: $0.0, record: $0.1) }
    }

    /// Waits for the grant of the request queued at index `queuedAt`; at the deadline, withdraws it
    /// (releasing the lock should the grant and the deadline have crossed) and throws
    /// ``CoordinationError/timeout(_:)``.
    private func waitInQueue(_ name: String, holder: PID, queuedAt: UInt64, wait: Duration) async throws(CoordinationError) -> LockGrant {
        let outcome = try await coordination.awaitGrant(name, pid: holder, after: queuedAt, timeout: wait)
        if case .granted(let token) = outcome { return LockGrant(name: name, holder: holder, token: token) }
        _ = try? await coordination.append(.releaseLock(name: name, holder: holder))
        throw .timeout("lock \"\(name)\" was not acquired within \(wait)")
    }

    static func validate(name: String) throws(CoordinationError) {
        guard !name.isEmpty else { throw .badRequest("lock name: required") }
        guard name.utf8.count <= CoordinationLimits.maxKeyBytes else {
            throw .tooLarge("lock name: longer than \(CoordinationLimits.maxKeyBytes) bytes")
        }
    }
}

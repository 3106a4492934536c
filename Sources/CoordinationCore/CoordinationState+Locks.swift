import CohortCore

/// Locks: fail-fast or queued acquisition, release by the holder, fencing tokens, lock delays.
extension CoordinationState {
    mutating func acquire(_ name: ByteKey, holder: PID, wait: UInt64, lockDelay: UInt64, changes: inout [CoordinationChange]) -> CoordinationResult {
        var record = locks[name] ?? LockRecord(holder: nil, token: 0, grantedAt: 0, lockDelay: 0)
        if record.holder == holder {
            // A retry of an acquire that already succeeded (its reply was lost): the same grant.
            return .lockGranted(token: record.token)
        }
        if record.holder == nil, record.delayedUntil == 0, record.waiters.isEmpty {
            grant(&record, name: name, to: holder, lockDelay: lockDelay, changes: &changes)
            store(record, name: name)
            return .lockGranted(token: record.token)
        }
        if let position = record.waiters.firstIndex(where: { $0.pid == holder }) {
            return .lockQueued(holder: record.holder, position: position)
        }
        guard wait > 0 else { return .lockBusy(holder: record.holder, delayedUntil: record.delayedUntil) }
        let waiter = LockWaiter(pid: holder, deadline: clock(after: wait), lockDelay: lockDelay)
        record.waiters.append(waiter)
        deadlines[Deadline(at: waiter.deadline, subject: .lockWait(name, holder))] = true
        holdings[Holding(pid: holder, resource: .wait(name))] = true
        store(record, name: name)
        return .lockQueued(holder: record.holder, position: record.waiters.count - 1)
    }

    mutating func release(_ name: ByteKey, holder: PID, changes: inout [CoordinationChange]) -> CoordinationResult {
        guard var record = locks[name] else { return .notHolder(current: nil) }
        if record.holder == holder {
            letGo(&record, name: name, delayed: false, changes: &changes)
        } else if let position = record.waiters.firstIndex(where: { $0.pid == holder }) {
            dropWaiter(&record, at: position, name: name, changes: &changes)
        } else {
            return .notHolder(current: record.holder)
        }
        store(record, name: name)
        return .lockReleased
    }

    /// The holder lets go of the lock: at once to the next waiter, or — when its node departed and it
    /// asked for a lock delay — after the delay.
    mutating func letGo(_ record: inout LockRecord, name: ByteKey, delayed: Bool, changes: inout [CoordinationChange]) {
        guard let holder = record.holder else { return }
        record.holder = nil
        heldLocks -= 1
        holdings.removeValue(forKey: Holding(pid: holder, resource: .lock(name)))
        changes.append(.lockReleased(name: name, holder: holder))
        if delayed, record.lockDelay > 0 {
            record.delayedUntil = clock(after: record.lockDelay)
            deadlines[Deadline(at: record.delayedUntil, subject: .lockDelay(name))] = true
        } else {
            grantNext(&record, name: name, changes: &changes)
        }
    }

    /// Gives a free, undelayed lock to the first waiter, if any.
    mutating func grantNext(_ record: inout LockRecord, name: ByteKey, changes: inout [CoordinationChange]) {
        guard record.holder == nil, record.delayedUntil == 0, !record.waiters.isEmpty else { return }
        let next = record.waiters.removeFirst()
        deadlines.removeValue(forKey: Deadline(at: next.deadline, subject: .lockWait(name, next.pid)))
        holdings.removeValue(forKey: Holding(pid: next.pid, resource: .wait(name)))
        grant(&record, name: name, to: next.pid, lockDelay: next.lockDelay, changes: &changes)
    }

    /// Makes `holder` the holder, with the current index as its fencing token.
    mutating func grant(_ record: inout LockRecord, name: ByteKey, to holder: PID, lockDelay: UInt64, changes: inout [CoordinationChange]) {
        record.holder = holder
        heldLocks += 1
        record.token = index
        record.grantedAt = clock
        record.lockDelay = lockDelay
        holdings[Holding(pid: holder, resource: .lock(name))] = true
        changes.append(.lockGranted(name: name, holder: holder, token: index))
    }

    mutating func dropWaiter(_ record: inout LockRecord, at position: Int, name: ByteKey, changes: inout [CoordinationChange]) {
        let waiter = record.waiters.remove(at: position)
        deadlines.removeValue(forKey: Deadline(at: waiter.deadline, subject: .lockWait(name, waiter.pid)))
        holdings.removeValue(forKey: Holding(pid: waiter.pid, resource: .wait(name)))
        changes.append(.lockWaitEnded(name: name, pid: waiter.pid))
    }

    /// Keeps the record, or forgets it once nothing is left in it.
    mutating func store(_ record: LockRecord, name: ByteKey) {
        locks[name] = record.isVacant ? nil : record
    }
}

/// Names of the consistent scope, and releasing what a process or a node held.
extension CoordinationState {
    mutating func register(_ name: ByteKey, pid: PID, changes: inout [CoordinationChange]) -> CoordinationResult {
        if let current = names[name] {
            return current.pid == pid ? .nameRegistered(token: current.token) : .nameTaken(owner: current.pid)
        }
        // A strong registration in progress holds the name: the reserving process is its owner-to-be.
        if let reservation = reservations[name] { return .nameTaken(owner: reservation.pid) }
        names[name] = NameRecord(pid: pid, token: index)
        holdings[Holding(pid: pid, resource: .name(name))] = true
        changes.append(.nameRegistered(name: name, pid: pid, token: index))
        return .nameRegistered(token: index)
    }

    mutating func unregister(_ name: ByteKey, pid: PID, changes: inout [CoordinationChange]) -> CoordinationResult {
        guard let current = names[name] else { return .notFound }
        guard current.pid == pid else { return .notOwner(owner: current.pid) }
        unbind(name, pid: pid, changes: &changes)
        return .nameUnregistered
    }

    mutating func unbind(_ name: ByteKey, pid: PID, changes: inout [CoordinationChange]) {
        if names.removeValue(forKey: name)?.scope == .strong { strongNames -= 1 }
        holdings.removeValue(forKey: Holding(pid: pid, resource: .name(name)))
        changes.append(.nameReleased(name: name, pid: pid))
    }

    /// Releases everything held by the processes `first...last` (one process, or every boot of a node up
    /// to an incarnation). `departed`: their node is gone, so locks honour their lock delays.
    mutating func releaseHoldings(from first: PID, through last: PID, departed: Bool, changes: inout [CoordinationChange]) -> CoordinationResult {
        var found: [Holding] = []
        for (holding, _) in holdings.entries(from: Holding(pid: first, resource: .lowest)) {
            guard holding.pid <= last else { break }
            found.append(holding)
        }
        // Waits first: a lock let go below must not pass to another of the processes being released.
        found.sort { ($0.resource.releaseOrder, $0) < ($1.resource.releaseOrder, $1) }
        var released = (locks: 0, names: 0, waits: 0)
        for holding in found {
            switch holding.resource {
            case .lock(let name):
                guard var record = locks[name], record.holder == holding.pid else { continue }
                letGo(&record, name: name, delayed: departed, changes: &changes)
                store(record, name: name)
                released.locks += 1
            case .wait(let name):
                guard var record = locks[name], let position = record.waiters.firstIndex(where: { $0.pid == holding.pid }) else { continue }
                dropWaiter(&record, at: position, name: name, changes: &changes)
                store(record, name: name)
                released.waits += 1
            case .name(let name):
                guard names[name]?.pid == holding.pid else { continue }
                unbind(name, pid: holding.pid, changes: &changes)
                released.names += 1
            case .reservation(let name):
                guard let reservation = reservations[name], reservation.pid == holding.pid else { continue }
                dropReservation(name, reservation)
            }
        }
        return .released(locks: released.locks, names: released.names, waits: released.waits)
    }
}

extension Holding.Resource {
    /// Waits, then names, then locks.
    fileprivate var releaseOrder: Int {
        switch self {
        case .wait: 0
        case .name, .reservation: 1
        case .lock: 2
        }
    }
}

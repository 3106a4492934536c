import CohortCore

/// Something timed in the state, ordered by when it falls due.
struct Deadline: Hashable, Comparable, Sendable {
    /// When (state clock, ms).
    let at: UInt64
    /// What falls due.
    let subject: Subject

    /// The timed things.
    enum Subject: Hashable, Comparable, Sendable {
        /// A key's TTL runs out.
        case expiry(ScopedKey)
        /// A lock's delay after its holder's node departed ends.
        case lockDelay(ByteKey)
        /// A process stops waiting for a lock.
        case lockWait(ByteKey, PID)
        /// A name reservation lapses.
        case reservation(ByteKey)
    }

    static func < (lhs: Deadline, rhs: Deadline) -> Bool {
        lhs.at != rhs.at ? lhs.at < rhs.at : lhs.subject < rhs.subject
    }
}

/// One thing a process holds or waits for.
struct Holding: Hashable, Comparable, Sendable {
    /// The process.
    let pid: PID
    /// What it holds.
    let resource: Resource

    /// The things a process can hold.
    enum Resource: Hashable, Comparable, Sendable {
        /// A lock it holds.
        case lock(ByteKey)
        /// A name it owns.
        case name(ByteKey)
        /// A lock it waits for.
        case wait(ByteKey)
        /// A name reserved for it (a strong registration in progress).
        case reservation(ByteKey)

        /// Sorts before every other resource: where a scan of one process's holdings starts.
        static let lowest = Resource.lock(ByteKey(bytes: []))
    }

    static func < (lhs: Holding, rhs: Holding) -> Bool {
        lhs.pid != rhs.pid ? lhs.pid < rhs.pid : lhs.resource < rhs.resource
    }
}

extension CoordinationState {
    /// What an advance of the clock expired.
    struct Expired {
        var keys = 0
        var waits = 0
        var delays = 0
        var reservations = 0
    }

    /// Moves the clock to `time` (never backwards) and handles, in order, every deadline at or before it.
    mutating func advance(to time: UInt64, changes: inout [CoordinationChange]) -> Expired {
        clock = max(clock, time)
        var expired = Expired()
        while let (deadline, _) = deadlines.first, deadline.at <= clock {
            deadlines.removeValue(forKey: deadline)
            switch deadline.subject {
            case .expiry(let scoped):
                guard let current = keys[scoped], current.expiresAt == deadline.at else { continue }
                removeKey(scoped, current: current, changes: &changes)
                expired.keys += 1
            case .lockWait(let name, let pid):
                guard var record = locks[name], let position = record.waiters.firstIndex(where: { $0.pid == pid && $0.deadline == deadline.at }) else { continue }
                record.waiters.remove(at: position)
                holdings.removeValue(forKey: Holding(pid: pid, resource: .wait(name)))
                changes.append(.lockWaitEnded(name: name, pid: pid))
                store(record, name: name)
                expired.waits += 1
            case .lockDelay(let name):
                guard var record = locks[name], record.delayedUntil == deadline.at else { continue }
                record.delayedUntil = 0
                grantNext(&record, name: name, changes: &changes)
                store(record, name: name)
                expired.delays += 1
            case .reservation(let name):
                guard let reservation = reservations[name], reservation.deadline == deadline.at else { continue }
                dropReservation(name, reservation)
                expired.reservations += 1
            }
        }
        return expired
    }
}

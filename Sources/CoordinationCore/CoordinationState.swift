import CohortCore

/// The replicated coordination state: every named store's keys, the locks with their queues, and the
/// names of the consistent scope — a deterministic state machine that Raft feeds in log order.
///
/// Every part is a ``PersistentSortedMap``, so a copy of the whole state costs O(1): the node keeps the
/// current version where readers take it without waiting for an apply, and a snapshot is serialized
/// from a copy on another thread while entries keep applying. Applying is pure: the same commands at
/// the same indexes give the same state and the same results on every replica; time comes only from
/// the commands (``CoordinationCommand/time``).
public struct CoordinationState: Sendable {
    /// Every store's keys, by store then key.
    public internal(set) var keys = PersistentSortedMap<ScopedKey, StoredValue>()
    /// Locks that are held, delayed or waited for.
    public internal(set) var locks = PersistentSortedMap<ByteKey, LockRecord>()
    /// Names of the consistent and strong scopes (one namespace).
    public internal(set) var names = PersistentSortedMap<ByteKey, NameRecord>()
    /// Strong registrations in progress: names held while the registering node asks every live node.
    /// Never visible to a lookup; they lapse at their deadline.
    public internal(set) var reservations = PersistentSortedMap<ByteKey, NameReservation>()
    /// The state's clock: the largest command time applied (ms since the Unix epoch, the leaders').
    public internal(set) var clock: UInt64 = 0
    /// The index of the last entry applied.
    public internal(set) var index: UInt64 = 0
    /// How many keys each store holds.
    public internal(set) var keyCounts: [ByteKey: Int] = [:]
    /// How many locks have a holder.
    public internal(set) var heldLocks = 0
    /// How many of `names` are strong.
    public internal(set) var strongNames = 0
    /// What happens when: TTL expiries, lock waits running out, lock delays ending. Derived from the
    /// rest (rebuilt on restore).
    var deadlines = PersistentSortedMap<Deadline, Bool>()
    /// What each process holds or waits for, ordered by PID, so an exit or a node's departure releases
    /// its things without scanning the state. Derived from the rest (rebuilt on restore).
    var holdings = PersistentSortedMap<Holding, Bool>()

    /// An empty state.
    public init() {}

    /// When the next deadline falls (state clock, ms): the leader proposes a ``CoordinationCommand/Operation/sweep``
    /// once its clock reaches it. Nil when nothing is timed.
    public var nextDeadline: UInt64? { deadlines.first?.key.at }

    /// `clock + delta`, held at `UInt64.max` instead of overflowing: a timestamp comes from the leader's
    /// clock and a duration from a request, and the two must never trap a replica, however far apart.
    func clock(after delta: UInt64) -> UInt64 {
        let (sum, overflow) = clock.addingReportingOverflow(delta)
        return overflow ? .max : sum
    }

    /// Applies `command`, the entry at `index`: advances the clock (expiring whatever fell due), then
    /// runs the operation. Returns the proposer's result and every change, in order.
    public mutating func apply(_ command: CoordinationCommand, index: UInt64) -> (CoordinationResult, [CoordinationChange]) {
        var changes: [CoordinationChange] = []
        self.index = max(self.index, index)
        let due = advance(to: command.time, changes: &changes)
        let result: CoordinationResult
        switch command.operation {
        case .put(let store, let key, let value, let condition, let ttl):
            result = put(ScopedKey(store: ByteKey(store), key: ByteKey(key)), value, condition: condition, ttl: ttl, changes: &changes)
        case .delete(let store, let key, let condition):
            result = delete(ScopedKey(store: ByteKey(store), key: ByteKey(key)), condition: condition, changes: &changes)
        case .read(let store, let key):
            result = .value(keys[ScopedKey(store: ByteKey(store), key: ByteKey(key))])
        case .transaction(let store, let compares, let success, let failure):
            result = transaction(store: ByteKey(store), compares: compares, success: success, failure: failure, changes: &changes)
        case .acquireLock(let name, let holder, let wait, let lockDelay):
            result = acquire(ByteKey(name), holder: holder, wait: wait, lockDelay: lockDelay, changes: &changes)
        case .releaseLock(let name, let holder):
            result = release(ByteKey(name), holder: holder, changes: &changes)
        case .registerName(let name, let pid):
            result = register(ByteKey(name), pid: pid, changes: &changes)
        case .unregisterName(let name, let pid):
            result = unregister(ByteKey(name), pid: pid, changes: &changes)
        case .releaseOwner(let pid):
            result = releaseHoldings(from: pid, through: pid, departed: false, changes: &changes)
        case .releaseNode(let node, let incarnation):
            let first = PID(node: node, incarnation: Incarnation(0), serial: 0)
            let last = PID(node: node, incarnation: Incarnation(incarnation), serial: .max)
            result = releaseHoldings(from: first, through: last, departed: true, changes: &changes)
        case .sweep:
            result = .swept(keys: due.keys, waits: due.waits, delaysEnded: due.delays)
        case .reserveName(let name, let pid, let timeout):
            result = reserve(ByteKey(name), pid: pid, timeout: timeout)
        case .confirmName(let name, let pid, let token):
            result = confirm(ByteKey(name), pid: pid, token: token, changes: &changes)
        case .cancelReservation(let name, let pid, let token):
            result = cancel(ByteKey(name), pid: pid, token: token)
        }
        return (result, changes)
    }

    /// Decodes and applies the entry at `index`; bytes that do not decode change nothing (but the
    /// applied index) and answer ``CoordinationResult/malformed``, identically on every replica.
    public mutating func apply(encoded bytes: [UInt8], index: UInt64) -> (result: [UInt8], changes: [CoordinationChange]) {
        guard let command = try? CoordinationCommand.decode(bytes) else {
            self.index = max(self.index, index)
            return (CoordinationResult.malformed.encoded(), [])
        }
        let (result, changes) = apply(command, index: index)
        return (result.encoded(), changes)
    }
}

// MARK: Reading

extension CoordinationState {
    /// The value of `key` in `store`.
    public func value(store: String, key: String) -> StoredValue? {
        keys[ScopedKey(store: ByteKey(store), key: ByteKey(key))]
    }

    /// Up to `limit` keys of `store` that start with `prefix` and sort after `after` (as UTF-8 bytes), in
    /// key order. O(log n + k).
    public func list(store: String, prefix: String = "", after: String? = nil, limit: Int = 1000) -> [(key: String, value: StoredValue)] {
        let store = ByteKey(store), prefix = ByteKey(prefix)
        var start = ScopedKey(store: store, key: prefix)
        var inclusive = true
        if let after = after.map(ByteKey.init), after >= prefix {
            start = ScopedKey(store: store, key: after)
            inclusive = false
        }
        var found: [(key: String, value: StoredValue)] = []
        guard limit > 0 else { return found }
        let entries = inclusive ? keys.entries(from: start) : keys.entries(after: start)
        for (scoped, value) in entries {
            guard scoped.store == store, scoped.key.hasPrefix(prefix) else { break }
            found.append((scoped.key.string, value))
            if found.count == limit { break }
        }
        return found
    }

    /// The number of keys in `store`.
    public func count(store: String) -> Int { keyCounts[ByteKey(store)] ?? 0 }

    /// The lock `name`, when it is held, delayed or waited for.
    public func lock(_ name: String) -> LockRecord? { locks[ByteKey(name)] }

    /// The process `name` resolves to in the consistent or strong scope (a reservation does not count).
    public func name(_ name: String) -> NameRecord? { names[ByteKey(name)] }

    /// The strong registration of `name` in progress, if any.
    public func reservation(_ name: String) -> NameReservation? { reservations[ByteKey(name)] }

    /// The locks and the names `pid` holds, and the locks it waits for.
    public func holdings(of pid: PID) -> (locks: [String], names: [String], waits: [String]) {
        var held: (locks: [String], names: [String], waits: [String]) = ([], [], [])
        for (holding, _) in holdings.entries(from: Holding(pid: pid, resource: .lowest)) {
            guard holding.pid == pid else { break }
            switch holding.resource {
            case .lock(let name): held.locks.append(name.string)
            case .name(let name): held.names.append(name.string)
            case .wait(let name): held.waits.append(name.string)
            case .reservation: break
            }
        }
        return held
    }
}

extension CoordinationState {
    /// Every node whose processes hold or wait for something, with the oldest incarnation among them: what
    /// a new leader checks against the membership to release what departed or restarted nodes left behind.
    public var holderNodes: [NodeID: UInt64] {
        var nodes: [NodeID: UInt64] = [:]
        for (holding, _) in holdings {
            nodes[holding.pid.node] = min(nodes[holding.pid.node] ?? .max, holding.pid.incarnation.rawValue)
        }
        return nodes
    }
}

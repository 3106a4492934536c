import CohortCore

/// Puts, deletes and transactions on the stores' keys.
extension CoordinationState {
    mutating func put(
        _ scoped: ScopedKey, _ value: [UInt8], condition: CoordinationCommand.Condition, ttl: UInt64, changes: inout [CoordinationChange]
    ) -> CoordinationResult {
        let current = keys[scoped]
        guard condition.holds(for: current) else { return .conflict(current: current) }
        setKey(scoped, value, ttl: ttl, current: current, changes: &changes)
        return .written(version: index)
    }

    mutating func delete(_ scoped: ScopedKey, condition: CoordinationCommand.Condition, changes: inout [CoordinationChange]) -> CoordinationResult {
        guard let current = keys[scoped] else { return .notFound }
        guard condition.holds(for: current) else { return .conflict(current: current) }
        removeKey(scoped, current: current, changes: &changes)
        return .written(version: index)
    }

    mutating func transaction(
        store: ByteKey, compares: [CoordinationCommand.Compare], success: [CoordinationCommand.TransactionOperation],
        failure: [CoordinationCommand.TransactionOperation], changes: inout [CoordinationChange]
    ) -> CoordinationResult {
        let succeeded = compares.allSatisfy { compare in
            let current = keys[ScopedKey(store: store, key: ByteKey(compare.key))]
            switch compare.expectation {
            case .version(let version): return current?.version == version
            case .value(let value): return current?.value == value
            case .absent: return current == nil
            }
        }
        var results: [TransactionResult] = []
        for operation in succeeded ? success : failure {
            switch operation {
            case .put(let key, let value, let ttl):
                let scoped = ScopedKey(store: store, key: ByteKey(key))
                setKey(scoped, value, ttl: ttl, current: keys[scoped], changes: &changes)
                results.append(.put(version: index))
            case .delete(let key):
                let scoped = ScopedKey(store: store, key: ByteKey(key))
                if let current = keys[scoped] {
                    removeKey(scoped, current: current, changes: &changes)
                    results.append(.delete(existed: true))
                } else {
                    results.append(.delete(existed: false))
                }
            case .get(let key):
                results.append(.get(keys[ScopedKey(store: store, key: ByteKey(key))]))
            }
        }
        return .transaction(succeeded: succeeded, version: index, results: results)
    }

    /// Writes a key at the current index, keeping its creation index and moving its TTL deadline.
    mutating func setKey(_ scoped: ScopedKey, _ value: [UInt8], ttl: UInt64, current: StoredValue?, changes: inout [CoordinationChange]) {
        if let expiresAt = current?.expiresAt {
            deadlines.removeValue(forKey: Deadline(at: expiresAt, subject: .expiry(scoped)))
        }
        let expiresAt: UInt64? = ttl > 0 ? clock(after: ttl) : nil
        if let expiresAt {
            deadlines[Deadline(at: expiresAt, subject: .expiry(scoped))] = true
        }
        let stored = StoredValue(value: value, version: index, created: current?.created ?? index, expiresAt: expiresAt)
        keys[scoped] = stored
        if current == nil { keyCounts[scoped.store, default: 0] += 1 }
        changes.append(.put(store: scoped.store, key: scoped.key, value: stored))
    }

    /// Removes a key at the current index, with its TTL deadline.
    mutating func removeKey(_ scoped: ScopedKey, current: StoredValue, changes: inout [CoordinationChange]) {
        if let expiresAt = current.expiresAt {
            deadlines.removeValue(forKey: Deadline(at: expiresAt, subject: .expiry(scoped)))
        }
        keys.removeValue(forKey: scoped)
        let remaining = (keyCounts[scoped.store] ?? 1) - 1
        keyCounts[scoped.store] = remaining > 0 ? remaining : nil
        changes.append(.delete(store: scoped.store, key: scoped.key, version: index))
    }
}

extension CoordinationCommand.Condition {
    /// True when a write under this condition applies to a key whose value is `current`.
    func holds(for current: StoredValue?) -> Bool {
        switch self {
        case .none: true
        case .absent: current == nil
        case .version(let version): current?.version == version
        }
    }
}

import CohortConfig
import CohortCore
import CoordinationCore

/// One named store (`kv.raft` through Raft on a clustered node, `kv.local` in memory with the cluster
/// disabled): versioned keys, conditional writes, TTLs, transactions and watches. A `kv.crdt` store
/// (eventual, last-writer-wins, held by every node) answers the same calls from this node's copy, except
/// conditional writes and transactions (``CoordinationError/unsupported(_:)``); see ``CRDTStoreBackend``
/// for what its versions mean.
///
/// ```swift
/// let config = try node.store("config")
/// let version = try await config.set("feature/x", Array("on".utf8))
/// try await config.put("leader", Array("n1".utf8), condition: .ifVersion(version))
/// for try await event in try await config.watch(prefix: "feature/", after: version) { ... }
/// ```
///
/// Keys are UTF-8, 1 to 1024 bytes, not starting with `_` (reserved); values at most 512 KiB.
public struct KeyValueStore: Sendable {
    /// The store's name.
    public let name: String
    /// Its declaration.
    public let settings: StoreSettings
    let coordination: Coordination
    /// A `kv.crdt` store's backend; nil for the stores served by ``Coordination``.
    let crdt: CRDTStoreBackend?
    /// How long a write or a linearizable read may take (nil: the node's default, 5 s).
    public var timeout: Duration?

    init(name: String, settings: StoreSettings, coordination: Coordination, crdt: CRDTStoreBackend? = nil, timeout: Duration? = nil) {
        self.name = name
        self.settings = settings
        self.coordination = coordination
        self.crdt = crdt
        self.timeout = timeout
    }

    /// The same store, with calls bounded by `timeout`.
    public func timeout(_ timeout: Duration) -> KeyValueStore {
        KeyValueStore(name: name, settings: settings, coordination: coordination, crdt: crdt, timeout: timeout)
    }

    /// When a ``put(_:_:condition:ttl:)`` applies.
    public enum Condition: Sendable, Hashable {
        /// Only when the key has no value (create).
        case onlyIfAbsent
        /// Only when the key's version is this one (compare-and-set).
        case ifVersion(UInt64)
    }

    // MARK: Reading

    /// The value of `key`, or nil.
    public func get(_ key: String, consistency: Coordination.Consistency = .linearizable) async throws(CoordinationError) -> [UInt8]? {
        try await entry(key, consistency: consistency)?.value
    }

    /// The value of `key` with its version, creation index and expiry, or nil. (A `kv.crdt` store reads
    /// this node's copy whatever `consistency` says.)
    public func entry(_ key: String, consistency: Coordination.Consistency = .linearizable) async throws(CoordinationError) -> StoredValue? {
        try Self.validate(key: key)
        if let crdt { return crdt.entry(key) }
        guard case .value(let value, _) = try await coordination.query(.get(store: name, key: key), consistency: consistency, timeout: timeout) else {
            throw .unavailable("the replica answered a read with something else")
        }
        return value
    }

    /// Up to `limit` (1...10000) keys starting with `prefix` and sorting after `after`, in UTF-8 byte
    /// order, with the replica's applied index (a watch from it sees every later change). Reserved keys
    /// (`_…`) are left out.
    public func list(
        prefix: String = "", after: String? = nil, limit: Int = 1000, consistency: Coordination.Consistency = .linearizable
    ) async throws(CoordinationError) -> (entries: [(key: String, value: StoredValue)], revision: UInt64) {
        guard (1...ReplicaQuery.maxListLimit).contains(limit) else { throw .badRequest("limit: must be 1...\(ReplicaQuery.maxListLimit)") }
        if let crdt { return crdt.list(prefix: prefix, after: after, limit: limit) }
        let query = ReplicaQuery.list(store: name, prefix: prefix, after: after, limit: limit)
        guard case .entries(let entries, let revision) = try await coordination.query(query, consistency: consistency, timeout: timeout) else {
            throw .unavailable("the replica answered a listing with something else")
        }
        return (entries.filter { !$0.key.hasPrefix("_") }, revision)
    }

    // MARK: Writing

    /// Sets `key` (with a TTL: it expires that long after this write, within a second, unless written
    /// again). Returns the new version.
    @discardableResult
    public func set(_ key: String, _ value: [UInt8], ttl: Duration? = nil) async throws(CoordinationError) -> UInt64 {
        try await write(key, value, condition: .none, ttl: ttl)
    }

    /// Sets `key` only if `condition` holds; throws ``CoordinationError/conflict(key:current:)`` with the
    /// current value otherwise. Returns the new version.
    @discardableResult
    public func put(_ key: String, _ value: [UInt8], condition: Condition, ttl: Duration? = nil) async throws(CoordinationError) -> UInt64 {
        if let crdt { throw crdt.unsupported("put", "a conditional write") }
        switch condition {
        case .onlyIfAbsent: return try await write(key, value, condition: .absent, ttl: ttl)
        case .ifVersion(let version): return try await write(key, value, condition: .version(version), ttl: ttl)
        }
    }

    /// Removes `key` (only at `ifVersion`, when given). Returns the delete's version; throws
    /// ``CoordinationError/notFound(_:)`` when the key has no value.
    @discardableResult
    public func delete(_ key: String, ifVersion: UInt64? = nil) async throws(CoordinationError) -> UInt64 {
        try Self.validate(key: key)
        if let crdt {
            guard ifVersion == nil else { throw crdt.unsupported("delete", "a conditional delete") }
            return crdt.write(key, nil, ttlMillis: 0)
        }
        return try await counted("delete") { () async throws(CoordinationError) in
            let (_, result) = try await coordination.append(.delete(store: name, key: key, condition: ifVersion.map { .version($0) } ?? .none), timeout: timeout)
            return try written(result, key: key)
        }
    }

    /// Compares keys, then applies the success or the failure operations atomically (etcd's Txn).
    public func transaction(
        compare: [CoordinationCommand.Compare], success: [CoordinationCommand.TransactionOperation],
        failure: [CoordinationCommand.TransactionOperation] = []
    ) async throws(CoordinationError) -> (succeeded: Bool, version: UInt64, results: [TransactionResult]) {
        for key in compare.map(\.key) + (success + failure).map(\.key) { try Self.validate(key: key) }
        if let crdt { throw crdt.unsupported("txn", "a transaction") }
        let outcome = try await counted("txn") { () async throws(CoordinationError) -> (succeeded: Bool, version: UInt64, results: [TransactionResult]) in
            let (_, result) = try await coordination.append(.transaction(store: name, compares: compare, success: success, failure: failure), timeout: timeout)
            guard case .transaction(let succeeded, let version, let results) = result else {
                throw .unavailable("the store answered a transaction with something else")
            }
            return (succeeded, version, results)
        }
        return outcome
    }

    // MARK: Watching

    /// Every change of a key under `prefix` after version `after`, exactly once and in version order,
    /// then each new one as it applies here. Throws ``CoordinationError/compacted(oldest:)`` when changes
    /// after `after` are no longer kept (list, then watch from the listing's revision). The stream ends
    /// with a ``WatchError`` when the watcher falls too far behind or this replica is replaced by a
    /// snapshot: resume from the last version seen, here or on another node.
    ///
    /// On a client node (no replica) the changes are fetched from a Raft member's feed over the mesh, a
    /// batch at a time, each fetch waiting up to 5 s for the next change and resuming after the last
    /// version delivered (on another member when one stops answering): the same order, exactly once.
    public func watch(prefix: String = "", after: UInt64) async throws(CoordinationError) -> AsyncThrowingStream<StoreEvent, any Error> {
        if let crdt { return try crdt.watch(prefix: prefix, after: after) }
        guard await coordination.log.hasReplica() else {
            guard let remote = coordination.remote else {
                throw .unavailable("this node holds no replica to watch, and knows no Raft member")
            }
            return try await remote.watch(store: name, prefix: prefix, after: after)
        }
        do {
            return try coordination.store.feed.watch(store: name, prefix: prefix, after: after)
        } catch {
            switch error {
            case .compacted(let oldest), .replicaReplaced(let oldest): throw .compacted(oldest: oldest)
            case .fellBehind, .interrupted: throw .unavailable("\(error)")
            }
        }
    }

    // MARK: Helpers

    private func write(_ key: String, _ value: [UInt8], condition: CoordinationCommand.Condition, ttl: Duration?) async throws(CoordinationError) -> UInt64 {
        try Self.validate(key: key)
        guard value.count <= CoordinationLimits.maxValueBytes else {
            throw .tooLarge("value: \(value.count) bytes, larger than \(CoordinationLimits.maxValueBytes)")
        }
        let ttl = try Self.milliseconds(ttl, field: "ttl", limit: CoordinationLimits.maxTTL)
        if let crdt { return crdt.write(key, value, ttlMillis: ttl) }
        return try await counted("put") { () async throws(CoordinationError) in
            let (_, result) = try await coordination.append(.put(store: name, key: key, value: value, condition: condition, ttl: ttl), timeout: timeout)
            return try written(result, key: key)
        }
    }

    /// Runs a write and counts it in `store_writes_total` by its outcome.
    private func counted<T>(_ operation: String, _ write: () async throws(CoordinationError) -> T) async throws(CoordinationError) -> T {
        do {
            let value = try await write()
            coordination.metrics?.write(store: name, operation: operation, result: "ok")
            return value
        } catch {
            if case .conflict = error {
                coordination.metrics?.write(store: name, operation: operation, result: "conflict")
            } else {
                coordination.metrics?.write(store: name, operation: operation, result: "error")
            }
            throw error
        }
    }

    private func written(_ result: CoordinationResult, key: String) throws(CoordinationError) -> UInt64 {
        switch result {
        case .written(let version): return version
        case .conflict(let current): throw .conflict(key: key, current: current)
        case .notFound: throw .notFound("no value at key \"\(key)\"")
        default: throw .unavailable("the store answered a write with \(result)")
        }
    }

    /// Checks a user key: non-empty, not reserved, within the size limit.
    static func validate(key: String) throws(CoordinationError) {
        guard !key.isEmpty else { throw .badRequest("key: required") }
        guard !key.hasPrefix("_") else { throw .badRequest("key \"\(key)\": keys starting with _ are reserved") }
        guard key.utf8.count <= CoordinationLimits.maxKeyBytes else {
            throw .tooLarge("key: \(key.utf8.count) bytes, longer than \(CoordinationLimits.maxKeyBytes)")
        }
    }

    /// A duration in whole milliseconds (0 for nil), refused when negative, below 1 ms or over `limit`.
    static func milliseconds(_ duration: Duration?, field: String, limit: UInt64) throws(CoordinationError) -> UInt64 {
        guard let duration else { return 0 }
        guard duration >= .milliseconds(1) else { throw .badRequest("\(field): must be at least 1ms") }
        let milliseconds = UInt64(duration.milliseconds)
        guard milliseconds <= limit else { throw .tooLarge("\(field): longer than \(limit / 1000)s") }
        return milliseconds
    }
}

extension CoordinationCommand.TransactionOperation {
    /// The key the operation touches.
    var key: String {
        switch self {
        case .put(let key, _, _), .delete(let key), .get(let key): key
        }
    }
}

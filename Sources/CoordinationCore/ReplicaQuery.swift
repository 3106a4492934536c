import CohortCore

/// A read of the coordination state, answered from one replica: by this node when it holds one, or by a
/// Raft member on behalf of a client node (which holds none), over the mesh — reads never cost a log entry.
public enum ReplicaQuery: Sendable, Hashable {
    /// One key of a store.
    case get(store: String, key: String)
    /// Keys of a store under a prefix, after a key, up to a limit.
    case list(store: String, prefix: String, after: String?, limit: Int)
    /// One lock.
    case lock(name: String)
    /// Locks under a prefix, up to a limit.
    case locks(prefix: String, limit: Int)
    /// One name of the consistent or strong scope.
    case name(String)
    /// Names under a prefix, up to a limit.
    case names(prefix: String, limit: Int)

    /// The most entries a listing returns.
    public static let maxListLimit = 10_000

    /// The answer from `state`.
    public func answer(from state: CoordinationState) -> ReplicaAnswer {
        switch self {
        case .get(let store, let key):
            return .value(state.value(store: store, key: key), revision: state.index)
        case .list(let store, let prefix, let after, let limit):
            return .entries(state.list(store: store, prefix: prefix, after: after, limit: limit), revision: state.index)
        case .lock(let name):
            return .locks(state.lock(name).map { [(name, $0)] } ?? [])
        case .locks(let prefix, let limit):
            return .locks(Self.scan(state.locks, prefix: prefix, limit: limit))
        case .name(let name):
            return .names(state.name(name).map { [(name, $0)] } ?? [])
        case .names(let prefix, let limit):
            return .names(Self.scan(state.names, prefix: prefix, limit: limit))
        }
    }

    private static func scan<Value>(_ map: PersistentSortedMap<ByteKey, Value>, prefix: String, limit: Int) -> [(String, Value)] {
        let prefix = ByteKey(prefix)
        var found: [(String, Value)] = []
        for (name, value) in map.entries(from: prefix) {
            guard name.hasPrefix(prefix), found.count < limit else { break }
            found.append((name.string, value))
        }
        return found
    }
}

/// What a ``ReplicaQuery`` found.
public enum ReplicaAnswer: Sendable {
    /// One key's value (nil: absent), and the replica's applied index.
    case value(StoredValue?, revision: UInt64)
    /// Keys in order, and the replica's applied index.
    case entries([(key: String, value: StoredValue)], revision: UInt64)
    /// Locks in name order.
    case locks([(String, LockRecord)])
    /// Names in order (consistent and strong; never a reservation).
    case names([(String, NameRecord)])
}

// MARK: Codec

extension ReplicaQuery {
    /// The query's bytes.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        switch self {
        case .get(let store, let key):
            writer.u8(1)
            writer.text(store)
            writer.text(key)
        case .list(let store, let prefix, let after, let limit):
            writer.u8(2)
            writer.text(store)
            writer.text(prefix)
            writer.flag(after != nil)
            writer.text(after ?? "")
            writer.u32(UInt32(clamping: limit))
        case .lock(let name):
            writer.u8(3)
            writer.text(name)
        case .locks(let prefix, let limit):
            writer.u8(4)
            writer.text(prefix)
            writer.u32(UInt32(clamping: limit))
        case .name(let name):
            writer.u8(5)
            writer.text(name)
        case .names(let prefix, let limit):
            writer.u8(6)
            writer.text(prefix)
            writer.u32(UInt32(clamping: limit))
        }
        return writer.buffer
    }

    /// Decodes a query.
    public static func decode(_ bytes: [UInt8]) throws(CoordinationCodecError) -> ReplicaQuery {
        var reader = ByteReader(bytes)
        let kind = try reader.kind("query")
        let key = CoordinationLimits.maxKeyBytes, storeName = CoordinationLimits.maxStoreNameBytes
        let query: ReplicaQuery
        switch kind {
        case 1: query = .get(store: try reader.text(limit: storeName, "store"), key: try reader.text(limit: key, "key"))
        case 2:
            let store = try reader.text(limit: storeName, "store"), prefix = try reader.text(limit: key, "prefix")
            let hasAfter = try reader.present("after present")
            let after = try reader.text(limit: key, "after")
            query = .list(store: store, prefix: prefix, after: hasAfter ? after : nil, limit: try reader.limit())
        case 3: query = .lock(name: try reader.text(limit: key, "lock"))
        case 4: query = .locks(prefix: try reader.text(limit: key, "prefix"), limit: try reader.limit())
        case 5: query = .name(try reader.text(limit: key, "name"))
        case 6: query = .names(prefix: try reader.text(limit: key, "prefix"), limit: try reader.limit())
        default: throw .unknownKind(field: "query", value: kind)
        }
        try reader.end()
        return query
    }
}

extension ReplicaAnswer {
    /// The answer's bytes.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        switch self {
        case .value(let value, let revision):
            writer.u8(1)
            writer.optionalValue(value)
            writer.u64(revision)
        case .entries(let entries, let revision):
            writer.u8(2)
            writer.u64(revision)
            writer.u32(UInt32(entries.count))
            for (key, value) in entries {
                writer.text(key)
                writer.storedValue(value)
            }
        case .locks(let locks):
            writer.u8(3)
            writer.u32(UInt32(locks.count))
            for (name, record) in locks {
                writer.text(name)
                writer.lockRecord(record)
            }
        case .names(let names):
            // Kind 4 (no scope byte) while every name is consistent, so a client node of the version
            // before strong names still reads the answer; kind 5 carries each name's scope.
            let scoped = names.contains { $0.1.scope != .consistent }
            writer.u8(scoped ? 5 : 4)
            writer.u32(UInt32(names.count))
            for (name, record) in names {
                writer.text(name)
                writer.pid(record.pid)
                writer.u64(record.token)
                if scoped { writer.u8(record.scope.rawValue) }
            }
        }
        return writer.buffer
    }

    /// Decodes an answer.
    public static func decode(_ bytes: [UInt8]) throws(CoordinationCodecError) -> ReplicaAnswer {
        var reader = ByteReader(bytes)
        let kind = try reader.kind("answer")
        let answer: ReplicaAnswer
        switch kind {
        case 1:
            let value = try reader.optionalValue()
            answer = .value(value, revision: try reader.number("revision"))
        case 2:
            let revision = try reader.number("revision")
            var entries: [(key: String, value: StoredValue)] = []
            for _ in 0..<(try reader.sectionCount(minimumEntryBytes: 30, "entries")) {
                entries.append((try reader.text(limit: CoordinationLimits.maxKeyBytes, "key"), try reader.storedValue()))
            }
            answer = .entries(entries, revision: revision)
        case 3:
            var locks: [(String, LockRecord)] = []
            for _ in 0..<(try reader.sectionCount(minimumEntryBytes: 39, "locks")) {
                locks.append((try reader.text(limit: CoordinationLimits.maxKeyBytes, "lock"), try reader.lockRecord()))
            }
            answer = .locks(locks)
        case 4, 5:
            var names: [(String, NameRecord)] = []
            for _ in 0..<(try reader.sectionCount(minimumEntryBytes: kind == 5 ? 29 : 28, "names")) {
                let name = try reader.text(limit: CoordinationLimits.maxKeyBytes, "name")
                var record = NameRecord(pid: try reader.pid("pid"), token: try reader.number("token"))
                if kind == 5 {
                    let scope = try reader.kind("name.scope")
                    guard let known = NameRecord.Scope(rawValue: scope) else { throw .unknownKind(field: "name.scope", value: scope) }
                    record.scope = known
                }
                names.append((name, record))
            }
            answer = .names(names)
        default: throw .unknownKind(field: "answer", value: kind)
        }
        try reader.end()
        return answer
    }
}

extension ByteWriter {
    /// A lock record: holder, token, times, waiters.
    package mutating func lockRecord(_ record: LockRecord) {
        optionalPID(record.holder)
        u64(record.token)
        u64(record.grantedAt)
        u64(record.lockDelay)
        u64(record.delayedUntil)
        u32(UInt32(record.waiters.count))
        for waiter in record.waiters {
            pid(waiter.pid)
            u64(waiter.deadline)
            u64(waiter.lockDelay)
        }
    }
}

extension ByteReader {
    package mutating func lockRecord() throws(CoordinationCodecError) -> LockRecord {
        var record = LockRecord(
            holder: try optionalPID(), token: try number("token"), grantedAt: try number("granted_at"),
            lockDelay: try number("lock_delay"), delayedUntil: try number("delayed_until")
        )
        for _ in 0..<(try sectionCount(minimumEntryBytes: 34, "waiters")) {
            record.waiters.append(LockWaiter(pid: try pid("waiter"), deadline: try number("deadline"), lockDelay: try number("lock_delay")))
        }
        return record
    }

    package mutating func limit() throws(CoordinationCodecError) -> Int {
        let limit = Int(try count32("limit"))
        guard limit <= ReplicaQuery.maxListLimit else { throw .outOfRange(field: "limit") }
        return limit
    }
}

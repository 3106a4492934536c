import CohortCore
import RaftCore
import Raft
import Synchronization

/// The node's replicated state machine: a sorted key → value map with versions, written only through
/// Raft. Each value's version is the Raft index of the write that set it, so versions grow strictly
/// and a conditional write (`ifAbsent`, `ifVersion`) is a linearizable compare-and-set — the primitive
/// names, locks and `kv.raft` stores build on. Reads are local (the replica as applied here); a caller
/// wanting linearizable reads first waits on ``RaftService/linearizableRead(timeout:)``.
public final class SystemStore: RaftStateMachine, Sendable {
    /// One stored value.
    public struct Entry: Sendable, Hashable {
        /// The value's bytes.
        public var value: [UInt8]
        /// The Raft index of the write that set it.
        public var version: UInt64
    }

    private let state = Mutex<[StoreKey: Entry]>([:])

    /// An empty store.
    public init() {}

    /// The entry at `key` as applied here.
    public func get(_ key: String) -> Entry? {
        state.withLock { $0[StoreKey(key)] }
    }

    /// Up to `limit` entries whose keys start with `prefix` and sort after `after`, in key order (keys
    /// compare as UTF-8 bytes).
    public func list(prefix: String = "", after: String? = nil, limit: Int = 1000) -> [(key: String, entry: Entry)] {
        let prefix = StoreKey(prefix), after = after.map(StoreKey.init)
        return state.withLock { entries in
            entries.filter { key, _ in key.hasPrefix(prefix) && after.map { key > $0 } ?? true }
                .sorted { $0.key < $1.key }
                .prefix(max(0, limit))
                .map { (key: $0.key.string, entry: $0.value) }
        }
    }

    /// The number of keys.
    public var count: Int { state.withLock { $0.count } }

    // MARK: RaftStateMachine

    public func apply(_ entry: LogEntry) -> [UInt8] {
        guard case .command(let bytes) = entry.payload else { return [] }
        guard let command = SystemCommand.decode(bytes) else {
            // Every node rejects the same bytes the same way, so the replicas stay identical.
            return SystemCommandResult.malformed.encode()
        }
        return state.withLock { entries in command.apply(to: &entries, version: UInt64(entry.index)) }.encode()
    }

    public func snapshot() -> [UInt8] {
        var writer = ByteWriter()
        state.withLock { entries in
            writer.u32(UInt32(entries.count))
            for (key, entry) in entries.sorted(by: { $0.key < $1.key }) {
                writer.field(key.bytes)
                writer.field(entry.value)
                writer.u64(entry.version)
            }
        }
        return writer.buffer
    }

    /// Replaces the state with a snapshot's, or throws (changing nothing) when the bytes are not exactly
    /// one: a count, then that many keys in strictly increasing byte order with their values and
    /// versions, and nothing after.
    public func restore(_ data: [UInt8]) throws(SystemStoreSnapshotError) {
        var reader = ByteReader(data)
        guard let count = try? reader.u32() else { throw .truncated(entry: 0) }
        // Each entry takes at least 16 bytes: refuse a count the bytes cannot hold before reserving for it.
        guard Int(count) <= reader.remaining / 16 else { throw .truncated(entry: 0) }
        var restored: [StoreKey: Entry] = [:]
        restored.reserveCapacity(Int(count))
        var previous: StoreKey?
        for position in 0..<Int(count) {
            guard let keyBytes = reader.field(), let value = reader.field(), let version = try? reader.u64() else {
                throw .truncated(entry: position)
            }
            guard String(validating: keyBytes, as: UTF8.self) != nil else { throw .invalidKey(entry: position) }
            let key = StoreKey(bytes: keyBytes)
            if let previous, !(previous < key) { throw .unordered(entry: position) }
            previous = key
            restored[key] = Entry(value: value, version: version)
        }
        guard reader.isAtEnd else { throw .trailingBytes(reader.remaining) }
        state.withLock { $0 = restored }
    }
}

/// Why bytes are not a ``SystemStore`` snapshot.
public enum SystemStoreSnapshotError: Error, Hashable, CustomStringConvertible {
    /// The bytes end inside the entry at this position.
    case truncated(entry: Int)
    /// The key of the entry at this position is not UTF-8.
    case invalidKey(entry: Int)
    /// The key of the entry at this position does not sort after the one before it.
    case unordered(entry: Int)
    /// Bytes are left after the last entry.
    case trailingBytes(Int)

    public var description: String {
        switch self {
        case .truncated(let entry): "the snapshot ends inside entry \(entry)"
        case .invalidKey(let entry): "the key of entry \(entry) is not UTF-8"
        case .unordered(let entry): "the key of entry \(entry) does not sort after the one before it"
        case .trailingBytes(let count): "\(count) bytes follow the last entry"
        }
    }
}

/// A store key: compared, hashed and ordered as its UTF-8 bytes. Swift's `String` equality is canonical
/// equivalence ("é" precomposed equals "e" + a combining accent), which would make two keys that differ
/// in bytes one entry on some paths and two on others; bytes are what every replica agrees on.
struct StoreKey: Hashable, Comparable, Sendable {
    let bytes: [UInt8]

    init(_ string: String) { bytes = Array(string.utf8) }
    init(bytes: [UInt8]) { self.bytes = bytes }

    /// The key as text (keys are validated UTF-8 when they enter the store).
    var string: String { String(decoding: bytes, as: UTF8.self) }

    func hasPrefix(_ prefix: StoreKey) -> Bool { bytes.starts(with: prefix.bytes) }

    static func < (lhs: StoreKey, rhs: StoreKey) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }
}

/// A write to the ``SystemStore``, as carried in a Raft command entry.
public enum SystemCommand: Sendable, Hashable {
    /// When a write applies.
    public enum Condition: Sendable, Hashable {
        /// Always.
        case none
        /// Only when the key has no value.
        case absent
        /// Only when the key's version is this one.
        case version(UInt64)
    }

    /// Sets `key` to `value` if `condition` holds.
    case put(key: String, value: [UInt8], condition: Condition)
    /// Removes `key` if `condition` holds (`.absent` never holds for an existing key).
    case delete(key: String, condition: Condition)
    /// Reads `key` through the log: how a node outside the configuration (which holds no replica) reads
    /// linearizably. Changes nothing.
    case read(key: String)

    /// The largest key accepted, in UTF-8 bytes.
    public static let maxKeyBytes = 1024
    /// The largest value accepted.
    public static let maxValueBytes = 512 * 1024

    /// The command's bytes.
    public func encode() -> [UInt8] {
        var writer = ByteWriter()
        switch self {
        case .put(let key, let value, let condition):
            writer.u8(1)
            writer.field(Array(key.utf8))
            writer.field(value)
            condition.encode(into: &writer)
        case .delete(let key, let condition):
            writer.u8(2)
            writer.field(Array(key.utf8))
            condition.encode(into: &writer)
        case .read(let key):
            writer.u8(3)
            writer.field(Array(key.utf8))
        }
        return writer.buffer
    }

    /// Decodes a command; nil for anything malformed, truncated or over the size limits.
    public static func decode(_ bytes: [UInt8]) -> SystemCommand? {
        var reader = ByteReader(bytes)
        guard let kind = try? reader.u8(), let key = reader.fieldString(), key.utf8.count <= maxKeyBytes else { return nil }
        let command: SystemCommand
        switch kind {
        case 1:
            guard let value = reader.field(), value.count <= maxValueBytes, let condition = Condition.decode(&reader) else { return nil }
            command = .put(key: key, value: value, condition: condition)
        case 2:
            guard let condition = Condition.decode(&reader) else { return nil }
            command = .delete(key: key, condition: condition)
        case 3:
            command = .read(key: key)
        default:
            return nil
        }
        return reader.isAtEnd ? command : nil
    }

    func apply(to entries: inout [StoreKey: SystemStore.Entry], version: UInt64) -> SystemCommandResult {
        switch self {
        case .put(let key, let value, let condition):
            let key = StoreKey(key)
            guard condition.holds(for: entries[key]) else { return .conflict(current: entries[key]) }
            entries[key] = SystemStore.Entry(value: value, version: version)
            return .applied(version: version)
        case .delete(let key, let condition):
            let key = StoreKey(key)
            guard let current = entries[key] else { return .notFound }
            guard condition.holds(for: current) else { return .conflict(current: current) }
            entries[key] = nil
            return .applied(version: version)
        case .read(let key):
            return .value(entries[StoreKey(key)])
        }
    }
}

extension SystemCommand.Condition {
    func holds(for current: SystemStore.Entry?) -> Bool {
        switch self {
        case .none: true
        case .absent: current == nil
        case .version(let version): current?.version == version
        }
    }

    func encode(into writer: inout ByteWriter) {
        switch self {
        case .none: writer.u8(0)
        case .absent: writer.u8(1)
        case .version(let version):
            writer.u8(2)
            writer.u64(version)
        }
    }

    static func decode(_ reader: inout ByteReader) -> Self? {
        switch try? reader.u8() {
        case 0: return SystemCommand.Condition.none
        case 1: return .absent
        case 2: return (try? reader.u64()).map { .version($0) }
        default: return nil
        }
    }
}

/// What applying a ``SystemCommand`` did, as returned to the proposer.
public enum SystemCommandResult: Sendable, Hashable {
    /// Written; the key's new version (or the delete's index).
    case applied(version: UInt64)
    /// The condition did not hold; the key's current entry, if any.
    case conflict(current: SystemStore.Entry?)
    /// A delete of a key that has no value.
    case notFound
    /// The command did not decode (never produced by this node's own encoder).
    case malformed
    /// What a read found.
    case value(SystemStore.Entry?)

    /// The result's bytes.
    public func encode() -> [UInt8] {
        var writer = ByteWriter()
        switch self {
        case .applied(let version):
            writer.u8(0)
            writer.u64(version)
        case .conflict(let current):
            writer.u8(1)
            writer.entry(current)
        case .notFound: writer.u8(2)
        case .malformed: writer.u8(3)
        case .value(let entry):
            writer.u8(4)
            writer.entry(entry)
        }
        return writer.buffer
    }

    /// Decodes a result; nil when malformed.
    public static func decode(_ bytes: [UInt8]) -> SystemCommandResult? {
        var reader = ByteReader(bytes)
        let result: SystemCommandResult
        switch try? reader.u8() {
        case 0:
            guard let version = try? reader.u64() else { return nil }
            result = .applied(version: version)
        case 1:
            guard let current = reader.entry() else { return nil }
            result = .conflict(current: current)
        case 2: result = .notFound
        case 3: result = .malformed
        case 4:
            guard let entry = reader.entry() else { return nil }
            result = .value(entry)
        default: return nil
        }
        return reader.isAtEnd ? result : nil
    }
}

/// Length-prefixed fields (a `u32` length, then the bytes) for the store's commands, results and snapshots,
/// on CohortCore's byte reader and writer.
extension ByteWriter {
    mutating func field(_ value: [UInt8]) {
        lengthPrefixed(value, lengthWidth: 4)
    }

    /// An optional entry: a presence byte, then value and version.
    mutating func entry(_ entry: SystemStore.Entry?) {
        guard let entry else {
            u8(0)
            return
        }
        u8(1)
        field(entry.value)
        u64(entry.version)
    }
}

extension ByteReader {
    /// A length-prefixed field, or nil (nothing read) when it does not fit.
    mutating func field() -> [UInt8]? {
        try? lengthPrefixed(lengthWidth: 4, "field")
    }

    /// A length-prefixed UTF-8 field, or nil.
    mutating func fieldString() -> String? {
        field().flatMap { String(validating: $0, as: UTF8.self) }
    }

    /// What ``ByteWriter/entry(_:)`` wrote: nil when malformed, `.some(nil)` for an absent entry.
    mutating func entry() -> SystemStore.Entry?? {
        switch try? u8() {
        case 0: return .some(nil)
        case 1:
            guard let value = field(), let version = try? u64() else { return nil }
            return .some(SystemStore.Entry(value: value, version: version))
        default: return nil
        }
    }
}

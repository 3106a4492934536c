import Consensus
import NIOCore
import RaftService
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

    private let state = Mutex<[String: Entry]>([:])

    /// An empty store.
    public init() {}

    /// The entry at `key` as applied here.
    public func get(_ key: String) -> Entry? {
        state.withLock { $0[key] }
    }

    /// Up to `limit` entries whose keys start with `prefix` and sort after `after`, in key order.
    public func list(prefix: String = "", after: String? = nil, limit: Int = 1000) -> [(key: String, entry: Entry)] {
        state.withLock { entries in
            entries.filter { key, _ in key.hasPrefix(prefix) && after.map { key > $0 } ?? true }
                .sorted { $0.key < $1.key }
                .prefix(max(0, limit))
                .map { (key: $0.key, entry: $0.value) }
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
        var writer = ByteBuffer()
        state.withLock { entries in
            writer.writeInteger(UInt32(entries.count))
            for (key, entry) in entries.sorted(by: { $0.key < $1.key }) {
                writer.writeField(key)
                writer.writeField(entry.value)
                writer.writeInteger(entry.version)
            }
        }
        return Array(writer.readableBytesView)
    }

    public func restore(_ data: [UInt8]) {
        var reader = ByteBuffer(bytes: data)
        var restored: [String: Entry] = [:]
        if let count = reader.readInteger(as: UInt32.self) {
            for _ in 0..<count {
                guard let key = reader.readFieldString(), let value = reader.readField(), let version = reader.readInteger(as: UInt64.self) else { break }
                restored[key] = Entry(value: value, version: version)
            }
        }
        state.withLock { $0 = restored }
    }
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
        var writer = ByteBuffer()
        switch self {
        case .put(let key, let value, let condition):
            writer.writeInteger(UInt8(1))
            writer.writeField(key)
            writer.writeField(value)
            condition.encode(into: &writer)
        case .delete(let key, let condition):
            writer.writeInteger(UInt8(2))
            writer.writeField(key)
            condition.encode(into: &writer)
        case .read(let key):
            writer.writeInteger(UInt8(3))
            writer.writeField(key)
        }
        return Array(writer.readableBytesView)
    }

    /// Decodes a command; nil for anything malformed, truncated or over the size limits.
    public static func decode(_ bytes: [UInt8]) -> SystemCommand? {
        var reader = ByteBuffer(bytes: bytes)
        guard let kind = reader.readInteger(as: UInt8.self), let key = reader.readFieldString(), key.utf8.count <= maxKeyBytes else { return nil }
        let command: SystemCommand
        switch kind {
        case 1:
            guard let value = reader.readField(), value.count <= maxValueBytes, let condition = Condition.decode(&reader) else { return nil }
            command = .put(key: key, value: value, condition: condition)
        case 2:
            guard let condition = Condition.decode(&reader) else { return nil }
            command = .delete(key: key, condition: condition)
        case 3:
            command = .read(key: key)
        default:
            return nil
        }
        return reader.readableBytes == 0 ? command : nil
    }

    func apply(to entries: inout [String: SystemStore.Entry], version: UInt64) -> SystemCommandResult {
        switch self {
        case .put(let key, let value, let condition):
            guard condition.holds(for: entries[key]) else { return .conflict(current: entries[key]) }
            entries[key] = SystemStore.Entry(value: value, version: version)
            return .applied(version: version)
        case .delete(let key, let condition):
            guard let current = entries[key] else { return .notFound }
            guard condition.holds(for: current) else { return .conflict(current: current) }
            entries[key] = nil
            return .applied(version: version)
        case .read(let key):
            return .value(entries[key])
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

    func encode(into writer: inout ByteBuffer) {
        switch self {
        case .none: writer.writeInteger(UInt8(0))
        case .absent: writer.writeInteger(UInt8(1))
        case .version(let version):
            writer.writeInteger(UInt8(2))
            writer.writeInteger(version)
        }
    }

    static func decode(_ reader: inout ByteBuffer) -> Self? {
        switch reader.readInteger(as: UInt8.self) {
        case 0: return SystemCommand.Condition.none
        case 1: return .absent
        case 2: return reader.readInteger(as: UInt64.self).map { .version($0) }
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
        var writer = ByteBuffer()
        switch self {
        case .applied(let version):
            writer.writeInteger(UInt8(0))
            writer.writeInteger(version)
        case .conflict(let current):
            writer.writeInteger(UInt8(1))
            writer.writeEntry(current)
        case .notFound: writer.writeInteger(UInt8(2))
        case .malformed: writer.writeInteger(UInt8(3))
        case .value(let entry):
            writer.writeInteger(UInt8(4))
            writer.writeEntry(entry)
        }
        return Array(writer.readableBytesView)
    }

    /// Decodes a result; nil when malformed.
    public static func decode(_ bytes: [UInt8]) -> SystemCommandResult? {
        var reader = ByteBuffer(bytes: bytes)
        let result: SystemCommandResult
        switch reader.readInteger(as: UInt8.self) {
        case 0:
            guard let version = reader.readInteger(as: UInt64.self) else { return nil }
            result = .applied(version: version)
        case 1:
            guard let current = reader.readEntry() else { return nil }
            result = .conflict(current: current)
        case 2: result = .notFound
        case 3: result = .malformed
        case 4:
            guard let entry = reader.readEntry() else { return nil }
            result = .value(entry)
        default: return nil
        }
        return reader.readableBytes == 0 ? result : nil
    }
}

/// Length-prefixed fields on NIO's `ByteBuffer` for the store's commands, results and snapshots
/// (integers big-endian); every read is bounds-checked and answers nil past the end.
extension ByteBuffer {
    mutating func writeField(_ value: [UInt8]) {
        writeInteger(UInt32(value.count))
        writeBytes(value)
    }

    mutating func writeField(_ value: String) { writeField(Array(value.utf8)) }

    mutating func readField() -> [UInt8]? {
        guard let count = getInteger(at: readerIndex, as: UInt32.self), readableBytes - 4 >= count else { return nil }
        moveReaderIndex(forwardBy: 4)
        return readBytes(length: Int(count))
    }

    /// An optional entry: a presence byte, then value and version.
    mutating func writeEntry(_ entry: SystemStore.Entry?) {
        guard let entry else {
            writeInteger(UInt8(0))
            return
        }
        writeInteger(UInt8(1))
        writeField(entry.value)
        writeInteger(entry.version)
    }

    /// What ``writeEntry(_:)`` wrote: nil when malformed, `.some(nil)` for an absent entry.
    mutating func readEntry() -> SystemStore.Entry?? {
        switch readInteger(as: UInt8.self) {
        case 0: return .some(nil)
        case 1:
            guard let value = readField(), let version = readInteger(as: UInt64.self) else { return nil }
            return .some(SystemStore.Entry(value: value, version: version))
        default: return nil
        }
    }

    mutating func readFieldString() -> String? {
        readField().flatMap { String(validating: $0, as: UTF8.self) }
    }
}

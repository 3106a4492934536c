import CohortCore

/// The command's bytes: `u8 format | u64 time | u8 kind | operation`. Text has a 2-byte length, values
/// a 4-byte one, PIDs are node text, incarnation and serial.
///
/// The format byte is the oldest format that can read the command: `0xC1` for kinds 1–11 (everything
/// before strong names), `0xC2` for the strong-name kinds 12–14 (reserve, confirm, cancel). So a node
/// of the earlier version replaying a log, or following a newer leader during a rolling upgrade, reads
/// every entry it can, and refuses (identically on every such replica) only the strong-name ones.
/// Kinds 12–14 under `0xC1` are refused as unknown.
///
/// Entries written by earlier versions (the `SystemStore` commands, whose first byte is 1, 2 or 3:
/// put, delete, read of the default store) still decode, so an existing Raft log replays unchanged.
extension CoordinationCommand {
    /// The format byte of the commands that existed before strong names.
    public static let format: UInt8 = 0xC1
    /// The format byte of the strong-name commands (and the newest format this decoder reads).
    public static let strongFormat: UInt8 = 0xC2
    /// Where the time sits in the bytes.
    static let timeOffset = 1

    /// The command's bytes.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.u8(operation.isStrongName ? Self.strongFormat : Self.format)
        writer.u64(time)
        operation.encode(into: &writer)
        return writer.buffer
    }

    /// Writes the leader's `time` into an encoded command, in place; commands of the earlier format
    /// (which have no time) are left as they are.
    public static func stamp(_ bytes: inout [UInt8], time: UInt64) {
        guard bytes.count >= timeOffset + 8, bytes[0] == format || bytes[0] == strongFormat else { return }
        for position in 0..<8 {
            bytes[timeOffset + position] = UInt8(truncatingIfNeeded: time >> (8 * (7 - position)))
        }
    }

    /// Decodes a command, enforcing every limit of ``CoordinationLimits``.
    public static func decode(_ bytes: [UInt8]) throws(CoordinationCodecError) -> CoordinationCommand {
        var reader = ByteReader(bytes)
        let format = try reader.kind("format")
        let command: CoordinationCommand
        switch format {
        case Self.format, Self.strongFormat:
            let time = try reader.number("time")
            let operation = try Operation.decode(&reader)
            if operation.isStrongName, format == Self.format { throw .unknownKind(field: "operation", value: operation.kind) }
            command = CoordinationCommand(operation, time: time)
        case 1, 2, 3:
            command = CoordinationCommand(try Operation.decodeEarlier(kind: format, &reader))
        default:
            throw .unknownKind(field: "format", value: format)
        }
        try reader.end()
        return command
    }
}

extension CoordinationCommand.Operation {
    func encode(into writer: inout ByteWriter) {
        switch self {
        case .put(let store, let key, let value, let condition, let ttl):
            writer.u8(1)
            writer.text(store)
            writer.text(key)
            writer.blob(value)
            condition.encode(into: &writer)
            writer.u64(ttl)
        case .delete(let store, let key, let condition):
            writer.u8(2)
            writer.text(store)
            writer.text(key)
            condition.encode(into: &writer)
        case .read(let store, let key):
            writer.u8(3)
            writer.text(store)
            writer.text(key)
        case .transaction(let store, let compares, let success, let failure):
            writer.u8(4)
            writer.text(store)
            writer.u16(UInt16(truncatingIfNeeded: compares.count))
            for compare in compares { compare.encode(into: &writer) }
            for branch in [success, failure] {
                writer.u16(UInt16(truncatingIfNeeded: branch.count))
                for operation in branch { operation.encode(into: &writer) }
            }
        case .acquireLock(let name, let holder, let wait, let lockDelay):
            writer.u8(5)
            writer.text(name)
            writer.pid(holder)
            writer.u64(wait)
            writer.u64(lockDelay)
        case .releaseLock(let name, let holder):
            writer.u8(6)
            writer.text(name)
            writer.pid(holder)
        case .registerName(let name, let pid):
            writer.u8(7)
            writer.text(name)
            writer.pid(pid)
        case .unregisterName(let name, let pid):
            writer.u8(8)
            writer.text(name)
            writer.pid(pid)
        case .releaseOwner(let pid):
            writer.u8(9)
            writer.pid(pid)
        case .releaseNode(let node, let incarnation):
            writer.u8(10)
            writer.text(node.rawValue)
            writer.u64(incarnation)
        case .sweep:
            writer.u8(11)
        case .reserveName(let name, let pid, let timeout):
            writer.u8(12)
            writer.text(name)
            writer.pid(pid)
            writer.u64(timeout)
        case .confirmName(let name, let pid, let token):
            writer.u8(13)
            writer.text(name)
            writer.pid(pid)
            writer.u64(token)
        case .cancelReservation(let name, let pid, let token):
            writer.u8(14)
            writer.text(name)
            writer.pid(pid)
            writer.u64(token)
        }
    }

    /// The strong-name operations, written in format `0xC2`.
    var isStrongName: Bool {
        switch self {
        case .reserveName, .confirmName, .cancelReservation: true
        default: false
        }
    }

    /// The operation's kind byte.
    var kind: UInt8 {
        switch self {
        case .reserveName: 12
        case .confirmName: 13
        case .cancelReservation: 14
        default: 0
        }
    }

    static func decode(_ reader: inout ByteReader) throws(CoordinationCodecError) -> Self {
        let kind = try reader.kind("operation")
        switch kind {
        case 1:
            let (store, key) = try storeAndKey(&reader)
            let value = try reader.blob(limit: CoordinationLimits.maxValueBytes, "value")
            let condition = try CoordinationCommand.Condition.decode(&reader)
            let ttl = try reader.number(max: CoordinationLimits.maxTTL, "ttl")
            return .put(store: store, key: key, value: value, condition: condition, ttl: ttl)
        case 2:
            let (store, key) = try storeAndKey(&reader)
            return .delete(store: store, key: key, condition: try CoordinationCommand.Condition.decode(&reader))
        case 3:
            let (store, key) = try storeAndKey(&reader)
            return .read(store: store, key: key)
        case 4:
            return try decodeTransaction(&reader)
        case 5:
            let name = try reader.text(limit: CoordinationLimits.maxKeyBytes, "lock")
            let holder = try reader.pid("holder")
            let wait = try reader.number(max: CoordinationLimits.maxLockWait, "wait")
            let lockDelay = try reader.number(max: CoordinationLimits.maxLockDelay, "lock_delay")
            return .acquireLock(name: name, holder: holder, wait: wait, lockDelay: lockDelay)
        case 6:
            return .releaseLock(name: try reader.text(limit: CoordinationLimits.maxKeyBytes, "lock"), holder: try reader.pid("holder"))
        case 7:
            return .registerName(name: try reader.text(limit: CoordinationLimits.maxKeyBytes, "name"), pid: try reader.pid("pid"))
        case 8:
            return .unregisterName(name: try reader.text(limit: CoordinationLimits.maxKeyBytes, "name"), pid: try reader.pid("pid"))
        case 9:
            return .releaseOwner(try reader.pid("pid"))
        case 10:
            let node = try reader.text(limit: CoordinationLimits.maxKeyBytes, "node")
            return .releaseNode(NodeID(node), throughIncarnation: try reader.number("incarnation"))
        case 11:
            return .sweep
        case 12:
            let name = try reader.text(limit: CoordinationLimits.maxKeyBytes, "name")
            let pid = try reader.pid("pid")
            return .reserveName(name: name, pid: pid, timeout: try reader.number(max: CoordinationLimits.maxReservation, "timeout"))
        case 13:
            let name = try reader.text(limit: CoordinationLimits.maxKeyBytes, "name")
            let pid = try reader.pid("pid")
            return .confirmName(name: name, pid: pid, token: try reader.number("token"))
        case 14:
            let name = try reader.text(limit: CoordinationLimits.maxKeyBytes, "name")
            let pid = try reader.pid("pid")
            return .cancelReservation(name: name, pid: pid, token: try reader.number("token"))
        default:
            throw .unknownKind(field: "operation", value: kind)
        }
    }

    static func storeAndKey(_ reader: inout ByteReader) throws(CoordinationCodecError) -> (String, String) {
        let store = try reader.text(limit: CoordinationLimits.maxStoreNameBytes, "store")
        return (store, try reader.text(limit: CoordinationLimits.maxKeyBytes, "key"))
    }

    static func decodeTransaction(_ reader: inout ByteReader) throws(CoordinationCodecError) -> Self {
        let store = try reader.text(limit: CoordinationLimits.maxStoreNameBytes, "store")
        var budget = CoordinationLimits.maxTransactionBytes
        var compares: [CoordinationCommand.Compare] = []
        for _ in 0..<(try reader.count(max: CoordinationLimits.maxTransactionOperations, "compares")) {
            compares.append(try CoordinationCommand.Compare.decode(&reader, budget: &budget))
        }
        var branches: [[CoordinationCommand.TransactionOperation]] = []
        for field in ["success", "failure"] {
            var branch: [CoordinationCommand.TransactionOperation] = []
            for _ in 0..<(try reader.count(max: CoordinationLimits.maxTransactionOperations, field)) {
                branch.append(try CoordinationCommand.TransactionOperation.decode(&reader, budget: &budget))
            }
            branches.append(branch)
        }
        return .transaction(store: store, compares: compares, success: branches[0], failure: branches[1])
    }

    /// The earlier format: `u8 kind | u32 key | (put: u32 value) | condition`, all on the default store.
    static func decodeEarlier(kind: UInt8, _ reader: inout ByteReader) throws(CoordinationCodecError) -> Self {
        let keyBytes = try reader.blob(limit: CoordinationLimits.maxKeyBytes, "key")
        guard let key = String(validating: keyBytes, as: UTF8.self) else { throw .bytes(.invalidUTF8(field: "key")) }
        switch kind {
        case 1:
            let value = try reader.blob(limit: CoordinationLimits.maxValueBytes, "value")
            return .put(store: "default", key: key, value: value, condition: try CoordinationCommand.Condition.decode(&reader), ttl: 0)
        case 2:
            return .delete(store: "default", key: key, condition: try CoordinationCommand.Condition.decode(&reader))
        default:
            return .read(store: "default", key: key)
        }
    }
}

extension CoordinationCommand.Condition {
    func encode(into writer: inout ByteWriter) {
        switch self {
        case .none: writer.u8(0)
        case .absent: writer.u8(1)
        case .version(let version):
            writer.u8(2)
            writer.u64(version)
        }
    }

    static func decode(_ reader: inout ByteReader) throws(CoordinationCodecError) -> Self {
        let kind = try reader.kind("condition")
        switch kind {
        case 0: return .none
        case 1: return .absent
        case 2: return .version(try reader.number("condition.version"))
        default: throw .unknownKind(field: "condition", value: kind)
        }
    }
}

extension CoordinationCommand.Compare {
    func encode(into writer: inout ByteWriter) {
        writer.text(key)
        switch expectation {
        case .version(let version):
            writer.u8(1)
            writer.u64(version)
        case .value(let value):
            writer.u8(2)
            writer.blob(value)
        case .absent:
            writer.u8(3)
        }
    }

    static func decode(_ reader: inout ByteReader, budget: inout Int) throws(CoordinationCodecError) -> Self {
        let key = try reader.text(limit: CoordinationLimits.maxKeyBytes, "compare.key")
        let kind = try reader.kind("compare")
        switch kind {
        case 1: return Self(key: key, .version(try reader.number("compare.version")))
        case 2:
            let value = try reader.blob(limit: CoordinationLimits.maxValueBytes, "compare.value")
            budget -= value.count
            guard budget >= 0 else { throw .outOfRange(field: "transaction size") }
            return Self(key: key, .value(value))
        case 3: return Self(key: key, .absent)
        default: throw .unknownKind(field: "compare", value: kind)
        }
    }
}

extension CoordinationCommand.TransactionOperation {
    func encode(into writer: inout ByteWriter) {
        switch self {
        case .put(let key, let value, let ttl):
            writer.u8(1)
            writer.text(key)
            writer.blob(value)
            writer.u64(ttl)
        case .delete(let key):
            writer.u8(2)
            writer.text(key)
        case .get(let key):
            writer.u8(3)
            writer.text(key)
        }
    }

    static func decode(_ reader: inout ByteReader, budget: inout Int) throws(CoordinationCodecError) -> Self {
        let kind = try reader.kind("operation")
        let key = try reader.text(limit: CoordinationLimits.maxKeyBytes, "operation.key")
        switch kind {
        case 1:
            let value = try reader.blob(limit: CoordinationLimits.maxValueBytes, "operation.value")
            budget -= value.count
            guard budget >= 0 else { throw .outOfRange(field: "transaction size") }
            return .put(key: key, value: value, ttl: try reader.number(max: CoordinationLimits.maxTTL, "operation.ttl"))
        case 2: return .delete(key: key)
        case 3: return .get(key: key)
        default: throw .unknownKind(field: "operation", value: kind)
        }
    }
}

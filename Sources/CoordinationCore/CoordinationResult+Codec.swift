import CohortCore

/// The result's bytes, as they travel back to a proposer on another node: `u8 kind | fields`. Kinds
/// 18–20 answer the strong-name commands, which only a node that knows them proposes.
extension CoordinationResult {
    /// The result's bytes.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        switch self {
        case .written(let version):
            writer.u8(1)
            writer.u64(version)
        case .conflict(let current):
            writer.u8(2)
            writer.optionalValue(current)
        case .notFound:
            writer.u8(3)
        case .value(let value):
            writer.u8(4)
            writer.optionalValue(value)
        case .transaction(let succeeded, let version, let results):
            writer.u8(5)
            writer.flag(succeeded)
            writer.u64(version)
            writer.u16(UInt16(truncatingIfNeeded: results.count))
            for result in results { result.encode(into: &writer) }
        case .lockGranted(let token):
            writer.u8(6)
            writer.u64(token)
        case .lockQueued(let holder, let position):
            writer.u8(7)
            writer.optionalPID(holder)
            writer.u32(UInt32(truncatingIfNeeded: position))
        case .lockBusy(let holder, let delayedUntil):
            writer.u8(8)
            writer.optionalPID(holder)
            writer.u64(delayedUntil)
        case .lockReleased:
            writer.u8(9)
        case .notHolder(let current):
            writer.u8(10)
            writer.optionalPID(current)
        case .nameRegistered(let token):
            writer.u8(11)
            writer.u64(token)
        case .nameTaken(let owner):
            writer.u8(12)
            writer.pid(owner)
        case .nameUnregistered:
            writer.u8(13)
        case .notOwner(let owner):
            writer.u8(14)
            writer.pid(owner)
        case .released(let locks, let names, let waits):
            writer.u8(15)
            for count in [locks, names, waits] { writer.u32(UInt32(truncatingIfNeeded: count)) }
        case .swept(let keys, let waits, let delaysEnded):
            writer.u8(16)
            for count in [keys, waits, delaysEnded] { writer.u32(UInt32(truncatingIfNeeded: count)) }
        case .malformed:
            writer.u8(17)
        case .nameReserved(let token, let deadline):
            writer.u8(18)
            writer.u64(token)
            writer.u64(deadline)
        case .reservationGone:
            writer.u8(19)
        case .reservationCancelled:
            writer.u8(20)
        }
        return writer.buffer
    }

    /// Decodes a result.
    public static func decode(_ bytes: [UInt8]) throws(CoordinationCodecError) -> CoordinationResult {
        var reader = ByteReader(bytes)
        let kind = try reader.kind("result")
        let result: CoordinationResult
        switch kind {
        case 1: result = .written(version: try reader.number("version"))
        case 2: result = .conflict(current: try reader.optionalValue())
        case 3: result = .notFound
        case 4: result = .value(try reader.optionalValue())
        case 5:
            let succeeded = try reader.kind("succeeded") != 0
            let version = try reader.number("version")
            var results: [TransactionResult] = []
            for _ in 0..<(try reader.count(max: CoordinationLimits.maxTransactionOperations, "results")) {
                results.append(try TransactionResult.decode(&reader))
            }
            result = .transaction(succeeded: succeeded, version: version, results: results)
        case 6: result = .lockGranted(token: try reader.number("token"))
        case 7: result = .lockQueued(holder: try reader.optionalPID(), position: Int(try reader.count32("position")))
        case 8: result = .lockBusy(holder: try reader.optionalPID(), delayedUntil: try reader.number("delayed_until"))
        case 9: result = .lockReleased
        case 10: result = .notHolder(current: try reader.optionalPID())
        case 11: result = .nameRegistered(token: try reader.number("token"))
        case 12: result = .nameTaken(owner: try reader.pid("owner"))
        case 13: result = .nameUnregistered
        case 14: result = .notOwner(owner: try reader.pid("owner"))
        case 15:
            result = .released(locks: Int(try reader.count32("locks")), names: Int(try reader.count32("names")), waits: Int(try reader.count32("waits")))
        case 16:
            result = .swept(keys: Int(try reader.count32("keys")), waits: Int(try reader.count32("waits")), delaysEnded: Int(try reader.count32("delays")))
        case 17: result = .malformed
        case 18: result = .nameReserved(token: try reader.number("token"), deadline: try reader.number("deadline"))
        case 19: result = .reservationGone
        case 20: result = .reservationCancelled
        default: throw .unknownKind(field: "result", value: kind)
        }
        try reader.end()
        return result
    }
}

extension TransactionResult {
    func encode(into writer: inout ByteWriter) {
        switch self {
        case .put(let version):
            writer.u8(1)
            writer.u64(version)
        case .delete(let existed):
            writer.u8(2)
            writer.flag(existed)
        case .get(let value):
            writer.u8(3)
            writer.optionalValue(value)
        }
    }

    static func decode(_ reader: inout ByteReader) throws(CoordinationCodecError) -> Self {
        let kind = try reader.kind("transaction result")
        switch kind {
        case 1: return .put(version: try reader.number("version"))
        case 2: return .delete(existed: try reader.kind("existed") != 0)
        case 3: return .get(try reader.optionalValue())
        default: throw .unknownKind(field: "transaction result", value: kind)
        }
    }
}

extension ByteWriter {
    /// A stored value: value, version, creation index, expiry (0 for none).
    package mutating func storedValue(_ value: StoredValue) {
        blob(value.value)
        u64(value.version)
        u64(value.created)
        u64(value.expiresAt ?? 0)
    }

    package mutating func optionalValue(_ value: StoredValue?) {
        flag(value != nil)
        if let value { storedValue(value) }
    }

    package mutating func optionalPID(_ pid: PID?) {
        flag(pid != nil)
        if let pid { self.pid(pid) }
    }
}

extension ByteReader {
    package mutating func storedValue() throws(CoordinationCodecError) -> StoredValue {
        let value = try blob(limit: CoordinationLimits.maxValueBytes, "value")
        let version = try number("version")
        let created = try number("created")
        let expiresAt = try number("expires_at")
        return StoredValue(value: value, version: version, created: created, expiresAt: expiresAt == 0 ? nil : expiresAt)
    }

    package mutating func present(_ field: String) throws(CoordinationCodecError) -> Bool {
        do {
            return try flag(field)
        } catch {
            throw .bytes(error)
        }
    }

    package mutating func optionalValue() throws(CoordinationCodecError) -> StoredValue? {
        try present("value present") ? try storedValue() : nil
    }

    package mutating func optionalPID() throws(CoordinationCodecError) -> PID? {
        try present("pid present") ? try pid("pid") : nil
    }

    package mutating func count32(_ field: String) throws(CoordinationCodecError) -> UInt32 {
        do {
            return try u32(field)
        } catch {
            throw .bytes(error)
        }
    }
}

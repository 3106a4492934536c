import CohortCore

/// Why bytes are not a coordination command, result or snapshot.
public enum CoordinationCodecError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The bytes end early, hold bad text or break a limit (the reader says which field).
    case bytes(ByteReaderError)
    /// A kind byte this version does not know.
    case unknownKind(field: String, value: UInt8)
    /// A value out of range (a TTL, wait or delay over its limit, a transaction too large).
    case outOfRange(field: String)
    /// Snapshot entries out of order or repeated, at this position of their section.
    case unordered(section: String, position: Int)
    /// Not a snapshot of this format.
    case notASnapshot

    public var description: String {
        switch self {
        case .bytes(let error): "\(error)"
        case .unknownKind(let field, let value): "\(field): unknown kind \(value)"
        case .outOfRange(let field): "\(field) is out of range"
        case .unordered(let section, let position): "\(section) entry \(position) does not sort after the one before it"
        case .notASnapshot: "not a coordination snapshot"
        }
    }
}

/// The length-prefixed fields of the coordination codecs.
extension ByteWriter {
    /// UTF-8 text with a 2-byte length.
    package mutating func text(_ string: String) {
        lengthPrefixed(Array(string.utf8), lengthWidth: 2)
    }

    /// Bytes with a 4-byte length.
    package mutating func blob(_ bytes: [UInt8]) {
        lengthPrefixed(bytes, lengthWidth: 4)
    }

    /// A PID: its node's name, its incarnation and its serial.
    package mutating func pid(_ pid: PID) {
        text(pid.node.rawValue)
        u64(pid.incarnation.rawValue)
        u64(pid.serial)
    }
}

extension ByteReader {
    /// UTF-8 text with a 2-byte length, at most `limit` bytes.
    package mutating func text(limit: Int, _ field: String) throws(CoordinationCodecError) -> String {
        let bytes: [UInt8]
        do {
            bytes = try lengthPrefixed(lengthWidth: 2, limit: limit, field)
        } catch {
            throw .bytes(error)
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .bytes(.invalidUTF8(field: field)) }
        return text
    }

    /// Bytes with a 4-byte length, at most `limit`.
    package mutating func blob(limit: Int, _ field: String) throws(CoordinationCodecError) -> [UInt8] {
        do {
            return try lengthPrefixed(lengthWidth: 4, limit: limit, field)
        } catch {
            throw .bytes(error)
        }
    }

    /// A big-endian u64.
    package mutating func number(_ field: String) throws(CoordinationCodecError) -> UInt64 {
        do {
            return try u64(field)
        } catch {
            throw .bytes(error)
        }
    }

    /// A u64 no greater than `maximum`.
    package mutating func number(max maximum: UInt64, _ field: String) throws(CoordinationCodecError) -> UInt64 {
        let value = try number(field)
        guard value <= maximum else { throw .outOfRange(field: field) }
        return value
    }

    /// A count (u16) no greater than `maximum`.
    package mutating func count(max maximum: Int, _ field: String) throws(CoordinationCodecError) -> Int {
        let value: UInt16
        do {
            value = try u16(field)
        } catch {
            throw .bytes(error)
        }
        guard Int(value) <= maximum else { throw .outOfRange(field: field) }
        return Int(value)
    }

    /// A kind byte.
    package mutating func kind(_ field: String) throws(CoordinationCodecError) -> UInt8 {
        do {
            return try u8(field)
        } catch {
            throw .bytes(error)
        }
    }

    /// A PID.
    package mutating func pid(_ field: String) throws(CoordinationCodecError) -> PID {
        let node = try text(limit: CoordinationLimits.maxKeyBytes, field + ".node")
        let incarnation = try number(field + ".incarnation")
        let serial = try number(field + ".serial")
        return PID(node: NodeID(node), incarnation: Incarnation(incarnation), serial: serial)
    }

    /// Throws unless every byte was read.
    package func end() throws(CoordinationCodecError) {
        do {
            try expectEnd()
        } catch {
            throw .bytes(error)
        }
    }
}

/// Reads big-endian integers, byte runs and UTF-8 text from a byte array, checking every read against the
/// bytes left before it copies or allocates anything: the one reader under every binary codec of Cohort
/// (Raft messages and storage records, process signals, the Raft shell's payloads, the coordination
/// store's commands and snapshots, Cohort's gossip metadata).
///
/// Every read either returns a value or throws a ``ByteReaderError`` naming the field, and leaves the
/// position unchanged when it throws. Codecs map the error to their own typed error where they have one.
public struct ByteReader: Sendable {
    /// The bytes being read.
    public let bytes: [UInt8]
    /// The offset of the next byte to read.
    public private(set) var offset: Int

    /// A reader at the start of `bytes`.
    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.offset = 0
    }

    /// How many bytes are left.
    public var remaining: Int { bytes.count - offset }
    /// True when every byte was read.
    public var isAtEnd: Bool { offset == bytes.count }

    private func need(_ count: Int, _ field: String) throws(ByteReaderError) {
        guard count >= 0, count <= remaining else { throw .truncated(field: field, needed: count, available: remaining) }
    }

    /// One byte.
    public mutating func u8(_ field: String = "u8") throws(ByteReaderError) -> UInt8 {
        try need(1, field)
        defer { offset += 1 }
        return bytes[offset]
    }

    /// A big-endian unsigned integer of `width` bytes (1…8).
    public mutating func integer(width: Int, _ field: String) throws(ByteReaderError) -> UInt64 {
        precondition((1...8).contains(width), "integers are 1 to 8 bytes wide")
        try need(width, field)
        var value: UInt64 = 0
        for index in offset..<offset + width { value = value << 8 | UInt64(bytes[index]) }
        offset += width
        return value
    }

    /// A big-endian `UInt16`.
    public mutating func u16(_ field: String = "u16") throws(ByteReaderError) -> UInt16 {
        UInt16(try integer(width: 2, field))
    }

    /// A big-endian `UInt32`.
    public mutating func u32(_ field: String = "u32") throws(ByteReaderError) -> UInt32 {
        UInt32(try integer(width: 4, field))
    }

    /// A big-endian `UInt64`.
    public mutating func u64(_ field: String = "u64") throws(ByteReaderError) -> UInt64 {
        try integer(width: 8, field)
    }

    /// A byte that must be 0 (false) or 1 (true).
    public mutating func flag(_ field: String = "flag") throws(ByteReaderError) -> Bool {
        let value = try u8(field)
        guard value <= 1 else {
            offset -= 1
            throw .invalidFlag(field: field, value: value)
        }
        return value == 1
    }

    /// Exactly `count` bytes; nothing is allocated unless they are all there.
    public mutating func bytes(_ count: Int, _ field: String = "bytes") throws(ByteReaderError) -> [UInt8] {
        try need(count, field)
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    /// `count` bytes of UTF-8 text.
    public mutating func utf8(_ count: Int, _ field: String) throws(ByteReaderError) -> String {
        try need(count, field)
        guard let text = String(validating: bytes[offset..<offset + count], as: UTF8.self) else {
            throw .invalidUTF8(field: field)
        }
        offset += count
        return text
    }

    /// A byte run preceded by its length as a big-endian integer of `lengthWidth` bytes, at most `limit`
    /// bytes long (checked before anything is read past the length).
    public mutating func lengthPrefixed(lengthWidth: Int, limit: Int = .max, _ field: String) throws(ByteReaderError) -> [UInt8] {
        let start = offset
        let length = try integer(width: lengthWidth, field + " length")
        guard length <= UInt64(limit) else {
            offset = start
            throw .limitExceeded(field: field, value: length, limit: limit)
        }
        do {
            return try bytes(Int(length), field)
        } catch {
            offset = start
            throw error
        }
    }

    /// Everything left.
    public mutating func rest() -> [UInt8] {
        defer { offset = bytes.count }
        return Array(bytes[offset...])
    }

    /// Throws ``ByteReaderError/trailingBytes(_:)`` unless every byte was read.
    public func expectEnd() throws(ByteReaderError) {
        guard isAtEnd else { throw .trailingBytes(remaining) }
    }
}

/// Why bytes could not be read as what a codec expected.
public enum ByteReaderError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The bytes end inside `field`: `needed` bytes were wanted, `available` were left.
    case truncated(field: String, needed: Int, available: Int)
    /// A boolean byte other than 0 or 1.
    case invalidFlag(field: String, value: UInt8)
    /// Text that is not UTF-8.
    case invalidUTF8(field: String)
    /// A length above the limit the codec allows.
    case limitExceeded(field: String, value: UInt64, limit: Int)
    /// Bytes left after the value.
    case trailingBytes(Int)

    public var description: String {
        switch self {
        case .truncated(let field, let needed, let available): "truncated \(field): needed \(needed) bytes, \(available) available"
        case .invalidFlag(let field, let value): "\(field): \(value) is not a flag (0 or 1)"
        case .invalidUTF8(let field): "\(field) is not UTF-8"
        case .limitExceeded(let field, let value, let limit): "\(field) is \(value), over the limit of \(limit)"
        case .trailingBytes(let count): "\(count) bytes follow the value"
        }
    }
}

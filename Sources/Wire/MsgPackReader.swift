import CohortCore
import NIOCore

/// Reads msgpack values one at a time from a `ByteBuffer`, the way go-msgpack 0.5.5 decodes memberlist
/// messages.
///
/// - Every read is bounded by ``MsgPackLimits`` and by the bytes present: a declared length is checked
///   against the limit first (so an absurd length is malformed at once) and against the remaining bytes
///   second (so nothing is allocated for bytes that are not there).
/// - A `nil` value reads as the zero value of the requested kind, as go-msgpack sets Go's zero value.
/// - Reads are not transactional: after a throw the reader's position is unspecified. Work on a copy (the
///   reader is a value type over copy-on-write storage) and keep it only on success.
public struct MsgPackReader: Sendable {
    /// The bytes not yet read. After a message's values, raw trailing data (push/pull user state) is here.
    public var buffer: ByteBuffer
    /// The bounds applied to every read.
    public let limits: MsgPackLimits

    /// Starts reading at `buffer`'s reader index.
    public init(_ buffer: ByteBuffer, limits: MsgPackLimits = .default) {
        self.buffer = buffer
        self.limits = limits
    }

    /// True when every byte has been consumed.
    public var isAtEnd: Bool { buffer.readableBytes == 0 }

    /// The format byte of the next value, without consuming it.
    public func peekFormat() throws(MsgPackError) -> UInt8 {
        guard let format = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { throw .truncated }
        return format
    }

    /// The kind of the next value, without consuming it.
    public func peekType() throws(MsgPackError) -> MsgPackType {
        let format = try peekFormat()
        guard let type = MsgPackFormat.type(of: format) else { throw .reservedFormat }
        return type
    }

    /// Consumes a `nil` and returns true, or returns false and consumes nothing.
    public mutating func readNil() throws(MsgPackError) -> Bool {
        guard try peekFormat() == MsgPackFormat.nil else { return false }
        buffer.moveReaderIndex(forwardBy: 1)
        return true
    }

    // MARK: Scalars

    /// Reads any integer encoding (or `nil` as 0) into `T`, failing if the value does not fit.
    public mutating func readInteger<T: FixedWidthInteger>(as: T.Type = T.self) throws(MsgPackError) -> T {
        if try readNil() { return 0 }
        switch try readIntegerValue() {
        case .unsigned(let value):
            guard let result = T(exactly: value) else { throw .integerOverflow }
            return result
        case .signed(let value):
            guard let result = T(exactly: value) else { throw .integerOverflow }
            return result
        }
    }

    /// Reads a boolean. Like go-msgpack, the integers 0 and 1 and `nil` (false) are accepted too.
    public mutating func readBool() throws(MsgPackError) -> Bool {
        let format = try readFormat()
        switch format {
        case MsgPackFormat.true, 1: return true
        case MsgPackFormat.false, 0, MsgPackFormat.nil: return false
        default: throw .typeMismatch(expected: .bool, format: format)
        }
    }

    /// Reads a byte string from any string or binary encoding, an array of small integers, or `nil` (empty).
    public mutating func readBytes() throws(MsgPackError) -> [UInt8] {
        let format = try peekFormat()
        if format == MsgPackFormat.nil {
            buffer.moveReaderIndex(forwardBy: 1)
            return []
        }
        if MsgPackFormat.type(of: format) == .array {
            let count = try readArrayHeader()
            var bytes: [UInt8] = []
            bytes.reserveCapacity(min(count, buffer.readableBytes))
            for _ in 0..<count { bytes.append(try readInteger(as: UInt8.self)) }
            return bytes
        }
        let length = try readByteStringHeader(expected: .string)
        return try take(length)
    }

    /// Reads a UTF-8 string from any string or binary encoding, or `nil` (empty).
    public mutating func readString() throws(MsgPackError) -> String {
        if try readNil() { return "" }
        let length = try readByteStringHeader(expected: .string)
        guard length <= buffer.readableBytes else { throw .truncated }
        let string = buffer.withUnsafeReadableBytes { String(wireUTF8: UnsafeRawBufferPointer(rebasing: $0.prefix(length))) }
        guard let string else { throw .invalidUTF8 }
        buffer.moveReaderIndex(forwardBy: length)
        return string
    }

    /// Reads a string (or `nil`, as empty) and returns the index of the name in `names` its bytes spell,
    /// without making a `String` of it: nil when none does (invalid UTF-8 included, as no name is).
    mutating func readName(in names: [String]) throws(MsgPackError) -> Int? {
        if try readNil() { return names.firstIndex(of: "") }
        let length = try readByteStringHeader(expected: .string)
        guard length <= buffer.readableBytes else { throw .truncated }
        let index = buffer.withUnsafeReadableBytes { raw in
            let key = UnsafeRawBufferPointer(rebasing: raw.prefix(length))
            return names.firstIndex { $0.utf8.elementsEqual(key) }
        }
        buffer.moveReaderIndex(forwardBy: length)
        return index
    }

    /// Reads a float32 or float64 (integers are widened, as go-msgpack does), or `nil` as 0.
    public mutating func readDouble() throws(MsgPackError) -> Double {
        let format = try peekFormat()
        switch format {
        case MsgPackFormat.float32:
            buffer.moveReaderIndex(forwardBy: 1)
            return Double(Float(bitPattern: try fixed(UInt32.self)))
        case MsgPackFormat.float64:
            buffer.moveReaderIndex(forwardBy: 1)
            return Double(bitPattern: try fixed(UInt64.self))
        default:
            if try readNil() { return 0 }
            switch try readIntegerValue() {
            case .unsigned(let value): return Double(value)
            case .signed(let value): return Double(value)
            }
        }
    }

    // MARK: Containers

    /// Reads an array header and returns its element count (`nil` reads as 0).
    public mutating func readArrayHeader() throws(MsgPackError) -> Int {
        let format = try readFormat()
        let count: Int
        switch format {
        case MsgPackFormat.fixArrayMin...MsgPackFormat.fixArrayMax: count = Int(format & 0x0f)
        case MsgPackFormat.array16: count = Int(try fixed(UInt16.self))
        case MsgPackFormat.array32: count = Int(try fixed(UInt32.self))
        case MsgPackFormat.nil: return 0
        default: throw .typeMismatch(expected: .array, format: format)
        }
        return try checkedCount(count, minimumBytesEach: 1)
    }

    /// Reads a map header and returns its entry count (`nil` reads as 0).
    public mutating func readMapHeader() throws(MsgPackError) -> Int {
        let format = try readFormat()
        let count: Int
        switch format {
        case MsgPackFormat.fixMapMin...MsgPackFormat.fixMapMax: count = Int(format & 0x0f)
        case MsgPackFormat.map16: count = Int(try fixed(UInt16.self))
        case MsgPackFormat.map32: count = Int(try fixed(UInt32.self))
        case MsgPackFormat.nil: return 0
        default: throw .typeMismatch(expected: .map, format: format)
        }
        return try checkedCount(count, minimumBytesEach: 2)
    }

    // MARK: Building blocks

    /// An integer as read from the wire: non-negative values are `.unsigned`, negative ones `.signed`.
    enum IntegerValue {
        case unsigned(UInt64)
        case signed(Int64)
    }

    mutating func readFormat() throws(MsgPackError) -> UInt8 {
        guard let format = buffer.readInteger(as: UInt8.self) else { throw .truncated }
        return format
    }

    mutating func fixed<T: FixedWidthInteger>(_ type: T.Type) throws(MsgPackError) -> T {
        guard let value = buffer.readInteger(endianness: .big, as: T.self) else { throw .truncated }
        return value
    }

    mutating func readIntegerValue() throws(MsgPackError) -> IntegerValue {
        let format = try readFormat()
        switch format {
        case 0x00...MsgPackFormat.positiveFixIntMax: return .unsigned(UInt64(format))
        case MsgPackFormat.negativeFixIntMin...0xff: return .signed(Int64(Int8(bitPattern: format)))
        case MsgPackFormat.uint8: return .unsigned(UInt64(try fixed(UInt8.self)))
        case MsgPackFormat.uint16: return .unsigned(UInt64(try fixed(UInt16.self)))
        case MsgPackFormat.uint32: return .unsigned(UInt64(try fixed(UInt32.self)))
        case MsgPackFormat.uint64: return .unsigned(try fixed(UInt64.self))
        case MsgPackFormat.int8: return Self.normalized(Int64(try fixed(Int8.self)))
        case MsgPackFormat.int16: return Self.normalized(Int64(try fixed(Int16.self)))
        case MsgPackFormat.int32: return Self.normalized(Int64(try fixed(Int32.self)))
        case MsgPackFormat.int64: return Self.normalized(try fixed(Int64.self))
        default: throw .typeMismatch(expected: .integer, format: format)
        }
    }

    private static func normalized(_ value: Int64) -> IntegerValue {
        value >= 0 ? .unsigned(UInt64(value)) : .signed(value)
    }

    /// Reads the header of a string or binary value and returns its length, checked against the limit.
    mutating func readByteStringHeader(expected: MsgPackType) throws(MsgPackError) -> Int {
        let format = try readFormat()
        let length: Int
        switch format {
        case MsgPackFormat.fixStrMin...MsgPackFormat.fixStrMax: length = Int(format & 0x1f)
        case MsgPackFormat.str8, MsgPackFormat.bin8: length = Int(try fixed(UInt8.self))
        case MsgPackFormat.str16, MsgPackFormat.bin16: length = Int(try fixed(UInt16.self))
        case MsgPackFormat.str32, MsgPackFormat.bin32: length = Int(try fixed(UInt32.self))
        default: throw .typeMismatch(expected: expected, format: format)
        }
        guard length <= limits.maxByteLength else {
            throw .lengthLimitExceeded(length: length, limit: limits.maxByteLength)
        }
        return length
    }

    /// Takes `count` bytes, allocating only once they are known to be present.
    mutating func take(_ count: Int) throws(MsgPackError) -> [UInt8] {
        guard count <= buffer.readableBytes, let bytes = buffer.readBytes(length: count) else { throw .truncated }
        return bytes
    }

    /// Moves past `count` bytes.
    mutating func skip(_ count: Int) throws(MsgPackError) {
        guard count <= buffer.readableBytes else { throw .truncated }
        buffer.moveReaderIndex(forwardBy: count)
    }

    private func checkedCount(_ count: Int, minimumBytesEach: Int) throws(MsgPackError) -> Int {
        guard count <= limits.maxContainerCount else {
            throw .lengthLimitExceeded(length: count, limit: limits.maxContainerCount)
        }
        // Every element takes at least one byte, so a count the remaining bytes cannot hold is cut short.
        guard count <= buffer.readableBytes / minimumBytesEach else { throw .truncated }
        return count
    }
}
